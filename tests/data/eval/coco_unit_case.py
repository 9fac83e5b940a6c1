"""The hand-made COCOeval case of tests/unit/test_coco_eval.c, run through
pycocotools to get the expected numbers that test hard-codes. Rerun with
`python3 tests/data/eval/coco_unit_case.py` if the case changes; it prints
the twelve COCOeval stats and the per-category AP/AP50.

Image ids are given out of order (3, 1, 2, 5, 4) and the C test passes them
in this order, to check that evaluation visits them in id order. Categories
are 1, 2, 3 here (indices 0, 1, 2 in C); category 3 has detections but no
ground truth (COCOeval gives it -1 and leaves it out of the means)."""
import contextlib
import io
import json

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

IMAGE_IDS = [3, 1, 2, 5, 4]

# (image id, category, bbox, area or None for w*h, iscrowd)
GT = [
    (1, 1, [10, 10, 50, 40], None, 0),       # medium
    (1, 1, [100, 100, 20, 20], None, 0),     # small
    (1, 1, [0, 0, 300, 300], None, 1),       # crowd, large
    (1, 2, [200, 50, 120, 100], None, 0),    # large
    (2, 1, [50, 50, 30, 30], None, 0),       # small
    (2, 1, [60, 60, 100, 100], 5000.0, 0),   # box is large, its area says medium
    (3, 1, [0, 0, 8, 8], None, 0),           # small
    (5, 2, [10, 10, 40, 40], None, 0),       # medium
    (5, 2, [0, 0, 5, 5], None, 1),           # crowd, small
    (5, 1, [0, 0, 10, 10], None, 0),         # two overlapping objects: see the 0.75 detection
    (5, 1, [2, 0, 10, 10], None, 0),
]

# (image id, category, bbox, score), in results-file order
DT = [
    (1, 1, [12, 12, 48, 38], 0.9),
    (1, 1, [100, 100, 20, 20], 0.8),
    (1, 1, [105, 102, 20, 20], 0.8),      # tie; a second hit near the small object
    (1, 1, [250, 250, 40, 40], 0.3),      # inside the crowd region
    (1, 1, [400, 400, 10, 10], 0.5),      # nothing there, small
    (1, 2, [190, 40, 130, 110], 0.7),
    (1, 2, [200, 50, 60, 100], 0.6),
    (1, 3, [10, 10, 50, 40], 0.95),       # category without ground truth
    (2, 1, [52, 52, 28, 30], 0.8),        # ties with image 1's 0.8s
    (2, 1, [60, 60, 100, 100], 0.4),
    (2, 1, [61, 61, 99, 99], 0.4),        # duplicate
    (2, 2, [0, 0, 10, 10], 0.9),          # no category-2 object in image 2
    (4, 1, [0, 0, 100, 100], 0.99),       # image without ground truth
    (5, 2, [1, 1, 3, 3], 0.85),           # inside the small crowd
    (5, 2, [12, 12, 36, 40], 0.45),
    (5, 1, [1, 0, 10, 10], 0.75),         # equal IoU with both: COCOeval takes the later one,
    (5, 1, [0, 0, 10, 10], 0.7),          # which leaves the first for this one
]
# 105 detections on image 3, scores in tied triples: only the best 100 count
DT += [(3, 1, [i * 0.5, i * 0.25, 8, 8], 0.5 - (i // 3) * 0.01) for i in range(105)]


def dataset():
    images = [{"id": i, "width": 640, "height": 480, "file_name": f"{i}.jpg"} for i in IMAGE_IDS]
    anns = []
    for n, (img, cat, box, area, crowd) in enumerate(GT):
        anns.append({"id": n + 1, "image_id": img, "category_id": cat, "bbox": box,
                     "area": area if area is not None else box[2] * box[3], "iscrowd": crowd})
    cats = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c"}]
    return {"images": images, "annotations": anns, "categories": cats}


def main():
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = dataset()
        gt.createIndex()
        dt = gt.loadRes([{"image_id": i, "category_id": c, "bbox": b, "score": s} for i, c, b, s in DT])
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    print("stats", json.dumps([float(x) for x in ev.stats]))
    p = ev.eval["precision"]  # [T, R, K, A, M]
    for k in range(p.shape[2]):
        s = p[:, :, k, 0, 2]
        ap = float(s[s > -1].mean()) if (s > -1).any() else -1.0
        s50 = p[0, :, k, 0, 2]
        ap50 = float(s50[s50 > -1].mean()) if (s50 > -1).any() else -1.0
        print("category", k, repr(ap), repr(ap50))


if __name__ == "__main__":
    main()
