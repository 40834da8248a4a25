"""Where the holes are: the rectangles of a photo that hold its holes plus the context a step
reads, so that upsampling and blending work there and copy the rest of the photo.

A 24 MP photo with two holes of half a megapixel each changes in a few percent of its
pixels; upsampling the fill and Poisson-blending it over the whole photo cost seconds and
gigabytes for nothing (issue 37). Each rectangle holds whole holes (8-connected components of
the hole mask) with at least `margin` pixels of context around them, less where the photo ends;
rectangles that would overlap are merged, so every hole pixel lies in exactly one of them and
a step that solves each hole on its own (Poisson blending) gives inside a rectangle what it
gives on the whole photo.
"""
from __future__ import annotations

import numpy as np

Rect = tuple[slice, slice]  # rows, columns
MAX_HOLES = 1024  # more separate holes than this (speckle masks): one rectangle, the whole photo


def hole_regions(hole: np.ndarray, margin: int, align: int = 1) -> list[Rect]:
    """Rectangles (row slice, column slice) of the H x W photo whose boolean `hole` mask is
    given: every hole pixel lies in exactly one, with each hole's component whole and at least
    `margin` pixels of context on every side that is not the photo's border. Their edges lie
    on multiples of `align` or on the border (a block grid anchored at the photo's corner,
    as Poisson's coarse path uses). No rectangle for a mask without a hole."""
    import cv2  # with the first blend or CRA, which load OpenCV anyway
    height, width = hole.shape
    count, _, stats, _ = cv2.connectedComponentsWithStats(hole.view(np.uint8), connectivity=8)
    if count - 1 > MAX_HOLES:
        return [(slice(0, height), slice(0, width))]
    x, y, w, h = (stats[1:, i].astype(np.int64) for i in range(4))
    boxes = np.stack([_outward(y - margin, align, 0), _outward(x - margin, align, 0),
                      _inward_end(y + h + margin, align, height),
                      _inward_end(x + w + margin, align, width)], axis=1)
    return [(slice(top, bottom), slice(left, right))
            for top, left, bottom, right in _merge_overlapping(boxes)]


def _outward(start: np.ndarray, align: int, low: int) -> np.ndarray:
    """Starts moved down to a multiple of `align`, not below `low`."""
    return np.maximum(start // align * align, low)


def _inward_end(end: np.ndarray, align: int, high: int) -> np.ndarray:
    """Ends moved up to a multiple of `align`, not beyond `high` (the photo's size)."""
    return np.minimum(-(-end // align) * align, high)


def _merge_overlapping(boxes: np.ndarray) -> np.ndarray:
    """Boxes (n x 4: top, left, bottom, right) with every group of overlapping ones replaced by
    their bounding box, repeated until none overlap (a merged box may reach a third one)."""
    from scipy.sparse.csgraph import connected_components
    while len(boxes) > 1:
        top, left, bottom, right = boxes.T
        overlap = ((top[:, None] < bottom[None]) & (top[None] < bottom[:, None])
                   & (left[:, None] < right[None]) & (left[None] < right[:, None]))
        groups, labels = connected_components(overlap, directed=False)
        if groups == len(boxes):
            break
        merged = np.empty((groups, 4), np.int64)
        for column, reduce in enumerate((np.minimum, np.minimum, np.maximum, np.maximum)):
            start = np.iinfo(np.int64).max if reduce is np.minimum else np.iinfo(np.int64).min
            merged[:, column] = start
            reduce.at(merged[:, column], labels, boxes[:, column])
        boxes = merged
    return boxes
