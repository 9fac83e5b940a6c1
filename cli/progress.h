/* A one-line progress bar on stderr ("[=====>   ] 37/128  41.2 images/s
 * ETA 2s"), drawn only when stderr is a terminal: logs and pipes stay
 * quiet. Redrawn at most every 100 ms so a fast run does not spend its
 * time printing. */
#ifndef LD_CLI_PROGRESS_H
#define LD_CLI_PROGRESS_H

typedef struct ld_progress {
    int enabled;       /* stderr is a terminal */
    int shown;         /* a bar is on the line now */
    long total, done;
    double t0, last;   /* start and last redraw, seconds (monotonic) */
} ld_progress;

void ld_progress_init(ld_progress *p, long total);
/* One more input done. */
void ld_progress_step(ld_progress *p);
/* Erase the bar before printing something else on stderr (the next step
 * draws it again). */
void ld_progress_clear(ld_progress *p);
/* Draw the final count and rate and end the line. */
void ld_progress_end(ld_progress *p);

#endif
