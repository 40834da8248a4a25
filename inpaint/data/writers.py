"""Writing stage outputs atomically: JSON metrics, per-epoch TSV logs for `dvc plots`, grids."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from inpaint.data.images import atomic_path, save_png


def write_tsv(rows: list[dict], target: str | Path) -> None:
    """Per-epoch rows as a TSV that `dvc plots show` draws."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["\t".join(columns)]
    lines += ["\t".join(f"{row.get(c, '')}" for c in columns) for row in rows]
    with atomic_path(target) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")


def write_json(data: dict, target: str | Path) -> None:
    with atomic_path(target) as tmp:
        Path(tmp).write_text(json.dumps(data, indent=2) + "\n")


def image_grid(images: np.ndarray, columns: int) -> np.ndarray:
    """NHWC uint8 -> one grid image, row-major, padded with white cells."""
    n, h, w, c = images.shape
    rows = -(-n // columns)
    grid = np.full((rows * h, columns * w, c), 255, np.uint8)
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        grid[r * h:(r + 1) * h, col * w:(col + 1) * w] = image
    return grid


def save_grid(images: np.ndarray, columns: int, target: str | Path, min_cell: int = 64) -> None:
    """A grid PNG, upscaled (nearest) so that small images stay visible."""
    grid = image_grid(images, columns)
    scale = max(1, min_cell // images.shape[1])
    if scale > 1:
        grid = np.asarray(Image.fromarray(grid).resize(
            (grid.shape[1] * scale, grid.shape[0] * scale), Image.Resampling.NEAREST))
    save_png(grid, target)
