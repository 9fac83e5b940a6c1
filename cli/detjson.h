/* Detections as JSON, shared by the commands that print them (video; detect
 * prints the same format and can move onto this). */
#ifndef LD_CLI_DETJSON_H
#define LD_CLI_DETJSON_H

#include <stdio.h>

#include "detect/labels.h"
#include "leandet.h"

/* [{"class":K,"label":"person","score":0.71,"box":[ymin,xmin,ymax,xmax]},...]
 * "label" only when `labels` names the class (labels may be NULL). */
void ld_json_detections(FILE *f, const leandet_detection *d, int n, const ld_labels *labels);

#endif
