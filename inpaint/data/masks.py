"""Masks: generation, loading, hole ratios, buckets and the fixed evaluation pairing.

Convention, stated once: mask *files* are white = hole (Liu et al. 2018). In code and in the
stored arrays a mask M is uint8 with 1 = known pixel and 0 = hole, as in the paper, so the
damaged image is I_M = M * I.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from inpaint.data.images import ImageError, open_image, to_rgb


def hole_ratio(known: np.ndarray) -> float:
    """Fraction of hole pixels in a known-mask (1 = known, 0 = hole)."""
    return float(1.0 - known.mean())


def load_mask(path: str | Path, resolution: int) -> np.ndarray:
    """A mask file (white = hole, any mode or size) as a known-mask at `resolution`.

    Resized as grey levels with an area filter, then thresholded at 50%, so the hole ratio at
    a low resolution matches the ratio of the full-size file as closely as a grid allows.
    """
    return binarise(load_grey(path), resolution)


def load_grey(path: str | Path) -> np.ndarray:
    """A mask file as float32 grey levels in [0, 255] at its own size."""
    return np.asarray(to_rgb(open_image(path)).convert("L"), dtype=np.float32)


def binarise(grey: np.ndarray, resolution: int) -> np.ndarray:
    """Grey levels (white = hole) to a known-mask at `resolution`."""
    if grey.shape != (resolution, resolution):
        grey = cv2.resize(grey, (resolution, resolution), interpolation=cv2.INTER_AREA)
    return (grey < 127.5).astype(np.uint8)


def _stroke(mask: np.ndarray, rng: np.random.Generator) -> None:
    """A free-form brush stroke: a random walk of thick line segments with round joints, sized
    to the mask's short side."""
    extent = np.array(mask.shape[::-1])  # (width, height)
    size = extent.min()
    x, y = rng.uniform(-0.1, 1.1, 2) * extent
    width = int(max(1, rng.uniform(0.02, 0.12) * size))
    angle = rng.uniform(0, 2 * np.pi)
    for _ in range(rng.integers(2, 8)):
        angle += rng.normal(0, 0.9)
        length = rng.uniform(0.05, 0.3) * size
        nx, ny = x + length * np.cos(angle), y + length * np.sin(angle)
        cv2.line(mask, (int(x), int(y)), (int(nx), int(ny)), 1, width)
        cv2.circle(mask, (int(nx), int(ny)), width // 2, 1, -1)
        x, y = nx, ny


def _blob(mask: np.ndarray, rng: np.random.Generator) -> None:
    """A filled ellipse, rotated, sometimes crossing the border."""
    extent = np.array(mask.shape[::-1])  # (width, height)
    centre = tuple(int(c) for c in rng.uniform(-0.05, 1.05, 2) * extent)
    axes = tuple(int(a) for a in rng.uniform(0.03, 0.18, 2) * extent.min())
    cv2.ellipse(mask, centre, axes, rng.uniform(0, 180), 0, 360, 1, -1)


def draw_shape(hole: np.ndarray, rng: np.random.Generator) -> None:
    """Add one shape to a uint8 hole map (1 = hole) of any size: a stroke (75%) or a blob."""
    (_stroke if rng.random() < 0.75 else _blob)(hole, rng)


def generate_mask(rng: np.random.Generator, resolution: int, target_ratio: float) -> np.ndarray:
    """A free-form irregular known-mask whose hole ratio just reaches `target_ratio`.

    Strokes and blobs are added until the hole covers the target, so drawing targets uniformly
    fills every hole-ratio bucket; shapes start anywhere, so some touch the border and some don't.
    """
    hole = np.zeros((resolution, resolution), dtype=np.uint8)
    while hole.mean() < target_ratio:
        draw_shape(hole, rng)
    return (1 - hole).astype(np.uint8)


def generate_masks(seed: int, count: int, resolution: int, low: float, high: float) -> np.ndarray:
    """`count` known-masks with target hole ratios drawn uniformly in [low, high)."""
    rng = np.random.default_rng(seed)
    targets = rng.uniform(low, high, count)
    return np.stack([generate_mask(rng, resolution, t) for t in targets])


def bucket_labels(edges: list[float]) -> list[str]:
    """'1-10%', '10-20%', ... for edges 0.01, 0.1, 0.2, ..."""
    return [f"{lo * 100:g}-{hi * 100:g}%" for lo, hi in zip(edges, edges[1:])]


def assign_buckets(ratios: np.ndarray, edges: list[float]) -> np.ndarray:
    """Bucket index per ratio: bucket i holds edges[i] <= r < edges[i+1] (the last one
    includes its upper edge); -1 outside all buckets."""
    ratios = np.asarray(ratios, dtype=float)
    index = np.searchsorted(edges, ratios, side="right") - 1
    index[np.isclose(ratios, edges[-1]) | (ratios == edges[-1])] = len(edges) - 2
    index[(ratios < edges[0]) | (ratios > edges[-1])] = -1
    return index


def split_pools(count: int, eval_fraction: float, seed: int) -> np.ndarray:
    """A boolean 'is evaluation mask' per mask, chosen with the seed (the rest train)."""
    rng = np.random.default_rng([seed, 1])
    is_eval = np.zeros(count, dtype=bool)
    is_eval[rng.permutation(count)[:int(round(count * eval_fraction))]] = True
    return is_eval


def evaluation_pairs(num_images: int, eval_buckets: np.ndarray, num_buckets: int,
                     seed: int, stream: int = 2) -> list[tuple[int, int, int]]:
    """(image index, bucket, evaluation mask index) for every image and bucket.

    Within a bucket, masks are dealt in a seeded shuffled order, cycling when there are more
    images than masks, so the pairs are spread over the bucket's masks and never change
    for a given seed, image count and mask pool. `stream` gives the test pairs (2) and the
    validation pairs (3) their own deals.
    """
    rng = np.random.default_rng([seed, stream])
    pairs = []
    for bucket in range(num_buckets):
        members = np.flatnonzero(eval_buckets == bucket)
        if len(members) == 0:
            raise ValueError(f"bucket {bucket} has no evaluation masks")
        order = rng.permutation(members)
        pairs += [(i, bucket, int(order[i % len(order)])) for i in range(num_images)]
    return pairs


def load_mask_folder(paths: list[Path], resolution: int) -> tuple[np.ndarray, list, list]:
    """Known-masks of the readable files, those files, and (path, reason) for the others."""
    masks, kept, skipped = [], [], []
    for path in paths:
        try:
            masks.append(load_mask(path, resolution))
            kept.append(path)
        except ImageError as err:
            skipped.append((path, str(err)))
    stack = np.stack(masks) if masks else np.zeros((0, resolution, resolution), np.uint8)
    return stack, kept, skipped
