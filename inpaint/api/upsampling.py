"""Bringing a fill made at the model's resolution up to the photo's: bicubic, or HiFill's
contextual residual aggregation (CRA; Yi et al. 2020), for any method.

A fill made at 64 px and resized to a 12 MP photo is a blurry patch in a sharp picture. CRA
adds the detail the low resolution lost: the high-frequency residual of the known region
(the photo minus its own down-and-up-sampled copy) is copied into the hole, each hole cell
taking the attention-weighted sum of the residuals of the known cells whose low-resolution
fill looks like its own (`inpaint.nn.attention`). HiFill takes the attention scores
from its generator's features; here they come from the upsampled fill itself (its
3 x 3-cell neighbourhoods, with each image's mean colour removed so that cosine similarity
compares texture and shading rather than brightness), so that every method can use it.
Known pixels are never changed: only hole pixels receive the aggregated residual.

Where the holes are. Only the rectangles that hold the holes (`inpaint.api.regions`) are
built: the attention scores need every cell's mean fill and every known cell's residual, so
those are read from the whole photo strip by strip (one strip of cells at a time, in float),
but the residual is aggregated only into the cells the rectangles touch, and only the
rectangles' pixels are returned. The result equals aggregating over the whole photo, as HiFill
does, up to float rounding (tests/test_regions.py); a 24 MP photo with two holes aggregates
into a few dozen of the 1024 cells instead of all of them.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from inpaint.api.regions import Rect, hole_regions

UPSAMPLERS = ("cra", "bicubic")
DEFAULT_UPSAMPLER = "cra"  # measured: docs/cli.md#upsampling
CELLS_PER_SIDE = 32  # attention grid; HiFill: 32 x 32 cells at any photo size
BATCH_CELLS = 64  # source cells per product in `_CellGrid.aggregate`: 27 MB of float at 24 MP


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """A square uint8 RGB image resized to `size` x `size`, bicubic."""
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BICUBIC))


def upsample(fill: np.ndarray, image: np.ndarray, known: np.ndarray, mode: str,
             cells: int = CELLS_PER_SIDE) -> np.ndarray:
    """The model-resolution fill (R x R x 3 uint8, composited) at the size of the square
    `image` (S x S x 3 uint8, the photo) with known-mask `known` (S x S, True = known).

    'bicubic' resizes the fill; 'cra' adds the aggregated residual of the known region to it
    in the hole (`cells` x `cells` attention grid). Known pixels are the resized fill's in
    both: the caller blends the result into the photo's known pixels."""
    rects = hole_regions(~known, margin=0)
    crops = upsample_regions(fill, image, known, rects, mode, cells)
    out = resize(fill, image.shape[0]).copy()  # PIL's array is read-only
    for rect, crop in zip(rects, crops):
        out[rect] = crop
    return out


def needs_low_pass(mode: str, side: int, low: int, known: np.ndarray) -> bool:
    """Whether upsampling a `low`-px fill to a `side`-px photo with `mode` reads the photo's
    `low_pass` (CRA with both known and hole pixels)."""
    return mode == "cra" and side > low and known.any() and not known.all()


def low_pass(image: np.ndarray, low: int) -> np.ndarray:
    """The square photo resized to `low` px and back (bicubic both ways): its difference to
    the photo is the detail CRA carries into the hole. It depends on the photo alone, so the
    `Inpainter` makes it in a second thread while the model fills the hole."""
    return resize(resize(image, low), image.shape[0])


def upsample_regions(fill: np.ndarray, image: np.ndarray, known: np.ndarray,
                     rects: list[Rect], mode: str, cells: int = CELLS_PER_SIDE,
                     blurred: np.ndarray | None = None) -> list[np.ndarray]:
    """`upsample`'s result in each rectangle of `rects` (row and column slices of the square
    photo), without building it elsewhere: one h x w x 3 uint8 array per rectangle.
    `blurred` is the photo's `low_pass`, when it was made beforehand."""
    if mode not in UPSAMPLERS:
        raise ValueError(f"upsample={mode!r}: expected one of {', '.join(UPSAMPLERS)}")
    side = image.shape[0]
    # kept as Pillow's image and read a rectangle or a strip at a time: no array of its size
    blurry = Image.fromarray(fill).resize((side, side), Image.Resampling.BICUBIC)
    crops = [np.asarray(blurry.crop((cols.start, rows.start, cols.stop, rows.stop)))
             for rows, cols in rects]
    if not needs_low_pass(mode, side, fill.shape[0], known):
        return crops
    grid = _CellGrid(side, cells)
    features = grid.means(blurry)
    crops = [crop.astype(np.float32) for crop in crops]
    del blurry  # before the residual's copies: the peak of a large photo
    if blurred is None:
        blurred = low_pass(image, fill.shape[0])
    return _cra(crops, features, grid, image, blurred, known, rects)


def _cra(crops: list[np.ndarray], features: np.ndarray, grid: _CellGrid, image: np.ndarray,
         blurred: np.ndarray, known: np.ndarray, rects: list[Rect]) -> list[np.ndarray]:
    """The bicubic fill's `crops` (float) plus, in the hole, the known region's residual
    (`image` - `blurred`) aggregated by attention; `features` are the fill's cell means."""
    import torch  # here: the `inpaint` command imports this module and must start quickly

    from inpaint.nn.attention import attention_scores
    features -= features.mean((0, 1))
    source = grid.means(known.view(np.uint8)) == 1  # cells without a hole pixel
    scores = attention_scores(torch.from_numpy(features).permute(2, 0, 1)[None],
                              torch.from_numpy(source.astype(np.float32))[None, None])[0]
    targets = np.flatnonzero(grid.touched(rects) & ~source.ravel())
    detail = grid.aggregate(image, blurred, scores[torch.from_numpy(targets)].numpy(),
                            source.ravel())
    for crop, (rows, cols) in zip(crops, rects):
        for target, cell_detail in zip(targets, detail):
            inside = grid.overlap(target, rows, cols)
            if inside is not None:
                in_crop, in_cell = inside
                hole = ~known[rows, cols][in_crop]
                crop[in_crop] += cell_detail[in_cell] * hole[..., None]
    return [np.clip(np.rint(crop), 0, 255).astype(np.uint8) for crop in crops]


class _CellGrid:
    """A square photo of side S cut into `cells` x `cells` cells of side ceil(S / cells),
    the photo's last row and column repeated to fill the last cells (as `F.pad` 'replicate'
    would), read strip by strip so that no float copy of the whole photo is made."""

    def __init__(self, side: int, cells: int):
        self.side, self.cells = side, cells
        self.cell = -(-side // cells)

    def _rows(self, index: int) -> np.ndarray:
        """The photo rows (or columns) that make up padded row strip `index`."""
        return np.minimum(np.arange(index * self.cell, (index + 1) * self.cell), self.side - 1)

    def means(self, array: np.ndarray | Image.Image) -> np.ndarray:
        """cells x cells x C (or cells x cells) float32 means of an S x S (x C) array or
        image."""
        sums = np.stack([_run_sums(self._strip(array, i).sum(0, dtype=np.float64), self.cell,
                                   self.cells)
                         for i in range(self.cells)])
        return (sums / self.cell ** 2).astype(np.float32)

    def _strip(self, array: np.ndarray | Image.Image, index: int) -> np.ndarray:
        """The rows of padded row strip `index` of an array or of a Pillow image."""
        rows = self._rows(index)
        if isinstance(array, np.ndarray):
            return array[rows]
        top = rows[0]
        return np.asarray(array.crop((0, top, self.side, rows[-1] + 1)))[rows - top]

    def touched(self, rects: list[Rect]) -> np.ndarray:
        """cells * cells booleans (row-major): the cells that some rectangle overlaps."""
        touched = np.zeros((self.cells, self.cells), bool)
        for rows, cols in rects:
            touched[rows.start // self.cell:-(-rows.stop // self.cell),
                    cols.start // self.cell:-(-cols.stop // self.cell)] = True
        return touched.ravel()

    def overlap(self, index: int, rows: slice, cols: slice
                ) -> tuple[tuple[slice, slice], tuple[slice, slice]] | None:
        """Where cell `index` (row-major) and the rectangle overlap, as slices of the
        rectangle and of the cell; None if they do not."""
        top, left = np.multiply(divmod(index, self.cells), self.cell)
        spans = []
        for start, stop, origin in ((rows.start, rows.stop, top), (cols.start, cols.stop, left)):
            low, high = max(start, origin), min(stop, origin + self.cell)
            if low >= high:
                return None
            spans.append((slice(low - start, high - start), slice(low - origin, high - origin)))
        return (spans[0][0], spans[1][0]), (spans[0][1], spans[1][1])

    def aggregate(self, image: np.ndarray, blurred: np.ndarray, scores: np.ndarray,
                  source: np.ndarray) -> np.ndarray:
        """n x cell x cell x C: for each row of `scores` (n x cells * cells), the score-weighted
        sum over the `source` cells of the residual `image - blurred` (both S x S x C uint8),
        one strip of cells at a time, multiplied in batches of about `BATCH_CELLS` cells (one
        product and one sum into the result per batch rather than per strip)."""
        size = self.cell * self.cell * image.shape[2]
        mixed = np.zeros((len(scores), size), np.float32)
        pad = self.cells * self.cell - self.side
        batch: list[tuple[np.ndarray, np.ndarray]] = []  # (cell indices, their patches)
        for strip in range(self.cells if len(scores) else 0):
            sources = np.flatnonzero(source[strip * self.cells:(strip + 1) * self.cells])
            if sources.size:
                rows = self._rows(strip)
                residual = np.subtract(image.take(rows, axis=0), blurred.take(rows, axis=0),
                                       dtype=np.float32)
                if pad:  # the last column repeated to fill the last cells
                    residual = np.concatenate([residual, residual[:, -1:].repeat(pad, axis=1)],
                                              1)
                patches = residual.reshape(self.cell, self.cells, self.cell, -1)[:, sources]
                batch.append((strip * self.cells + sources,
                              patches.swapaxes(0, 1).reshape(sources.size, size)))
            if batch and (sum(len(cells) for cells, _ in batch) >= BATCH_CELLS
                          or strip == self.cells - 1):
                cells = np.concatenate([cells for cells, _ in batch])
                mixed += scores[:, cells] @ np.concatenate([patches for _, patches in batch])
                batch = []
        return mixed.reshape(len(scores), self.cell, self.cell, image.shape[2])


def _run_sums(values: np.ndarray, run: int, runs: int) -> np.ndarray:
    """Sums over `runs` runs of `run` entries along the first axis of `values` (length S),
    repeating its last entry to fill runs * run."""
    padded = np.concatenate([values, np.repeat(values[-1:], runs * run - len(values), 0)])
    return padded.reshape(runs, run, *values.shape[1:]).sum(1)
