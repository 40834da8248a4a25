"""Blending an inpainting fill into the known pixels: paste, or gradient-domain (Poisson).

Pasting (`np.where(known, image, fill)`) leaves a visible seam when a learned fill is shifted
in colour or brightness against the known pixels. Poisson blending (Perez, Gangnet & Blake
2003, "Poisson image editing") keeps the fill's gradients inside the hole and takes the
boundary values from the known pixels; Iizuka, Simo-Serra & Ishikawa 2017 ("Globally and
locally consistent image completion") post-process their completion network's output the same
way. Written as a correction of the fill: output = fill + c in the hole, where c is harmonic
(5-point Laplacian, 4-neighbourhood) with Dirichlet values r = image - fill at the known
pixels next to the hole and a natural (no-flux) boundary at the image border: a hole pixel on
the border simply has fewer neighbours. Known pixels are copied bit-exactly; the arithmetic is
float64, rounded and clipped to the image's integer type at the end (uint8, or uint16 for
16-bit photos).

Solver. The Laplacian is built with scipy.sparse and factored once by SuperLU
(`scipy.sparse.linalg.splu`, minimum-degree ordering on A + A^T, no pivoting since the matrix
is symmetric positive definite); all channels are solved with that one factor. On a 2-core
x86 VM, one thread, a square hole of 2**18 unknowns factors in about 2 s and 0.2 GiB, one of
2**20 in about 14 s and 1 GiB (fill-in grows like n log n). So the default `max_unknowns` is
2**18 (a 512 x 512 hole): seconds and a few hundred MiB at most per solve.

Large holes. The correction is smooth away from the seam, so when the hole has more than
`max_unknowns` pixels:

1. Coarse solve. The image is cut into f x f blocks (the last row and column of blocks may be
   smaller), with the smallest f >= 2 that leaves at most `max_unknowns` blocks with no known
   pixel. A block with a known pixel is a coarse Dirichlet cell whose value is the mean of r
   over its known pixels (area-weighted); the all-hole blocks are the coarse unknowns, solved
   exactly as above.
2. Upsample. The coarse field is interpolated bilinearly between block centres (clamped at the
   border); this is the correction of hole pixels deep inside the hole.
3. Band. The hole pixels within BAND_CELLS * f pixels (chessboard distance) of a known pixel
   are re-solved at full resolution, with Dirichlet values r at the known pixels and the
   upsampled coarse field at the hole pixels just beyond the band. The seam itself is therefore
   exact; the coarse approximation only enters at the band's inner edge, and by the maximum
   principle its error there bounds (and decays from) the error inside the band.
   The band is solved with SuperLU when it has at most `max_unknowns` pixels. Otherwise
   (thin strokes or long, ragged borders, where most of the hole is near known pixels) it is
   solved with scipy's conjugate gradient (`scipy.sparse.linalg.cg`), one channel at a time,
   started from the upsampled coarse field, with a Jacobi preconditioner. Widening f would not
   help, since the band grows with f; cg suits the band because every band pixel is within
   BAND_CELLS * f pixels of a Dirichlet pixel, so the band's Laplacian is well-conditioned
   (condition number of order (BAND_CELLS * f)**2) and cg needs few iterations: on a 24 MP
   photo with a 50% free-form hole (f = 7, a band of 1.0 M pixels) roughly 100 per channel,
   4.8 s, and 0.005 grey levels off the SuperLU solution of the same band (which took 10.7 s).

Accuracy of the coarse path against the exact solve: with a smooth fill offset it is exact up
to rounding (at most 1 grey level apart); with noise in the fill (sigma 8), which the exact
solve carries a few pixels into the hole, a few grey levels at most and 0.4 on average over
the hole with BAND_CELLS = 2 (measured on 1024 x 1024; BAND_CELLS = 1 gave up to 10, 3 gave
up to 4 for 1.5x the band). tests/test_blending.py checks it on 256 x 256.

Memory stays bounded on large photos: residuals and block sums are formed in strips of rows,
neighbours are found by binary search in the sorted unknown indices (no H x W index image),
the coarse field is kept in float32, and the upsampled field is evaluated only for the pixels
that need it, strip by strip. See profiling/README.md for time and memory on 24 MP photos.

Where the holes are. Each hole's correction depends only on its own pixels and the known
pixels around it, so `blend_regions` solves each rectangle of `BlendRegions` (the holes'
bounding boxes with the context the solve reads, `inpaint.api.regions`) on its own and copies
the rest of the photo. It decides between the exact and the coarse path, and the block size f,
from all the holes together, and puts the rectangles' edges on the f x f block grid of the
whole photo, with a margin of (BAND_CELLS + 1) f + 1 pixels: so every block, band and boundary
value is the one the whole-photo solve uses, and the result is the same up to the band's
solver (SuperLU where a rectangle's band is small enough, cg otherwise: 0.005 grey levels).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from inpaint.api.regions import Rect, hole_regions

if TYPE_CHECKING:
    import scipy.sparse as sp

BLEND_MODES = ("paste", "poisson")
DEFAULT_MAX_UNKNOWNS = 2 ** 18  # largest exact SuperLU solve: ~2 s, ~0.2 GiB (module docstring)
BAND_CELLS = 2  # width of the exact full-resolution band, in coarse cells
CG_RTOL = 1e-6  # cg's relative residual on the band: 0.005 grey levels off SuperLU (24 MP)
CHUNK = 2 ** 20  # pixels per chunk when forming residuals and upsampled values

_NEIGHBOURS = ((0, -1), (0, 1), (-1, 0), (1, 0))


def blend(images: np.ndarray, known: np.ndarray, fills: np.ndarray, mode: str, *,
          max_unknowns: int = DEFAULT_MAX_UNKNOWNS) -> np.ndarray:
    """Composite a batch of fills (N x H x W x C) into images (N x H x W x C) with known-masks
    (N x H x W, 1 = known): 'paste' copies known pixels over the fill, 'poisson' blends the
    fill in the gradient domain so that a colour shift of the fill leaves no seam."""
    if mode not in BLEND_MODES:
        raise ValueError(f"unknown blend mode {mode!r}; valid modes: {', '.join(BLEND_MODES)}")
    if mode == "paste":
        return np.where(known[..., None].astype(bool), images, fills)
    return np.stack([poisson_blend(image, mask, fill, max_unknowns=max_unknowns)
                     for image, mask, fill in zip(images, known, fills)])


def composite(images: np.ndarray, known: np.ndarray, outputs: np.ndarray,
              mode: str | None) -> np.ndarray:
    """What a method gives: its raw outputs (N x H x W x C, at the resolution it ran at) with
    the known pixels put back by `blend` mode 'paste' or 'poisson', or as they are for None (a
    method scored raw). The one compositing step of the benchmark, the Python API, the
    `inpaint` command and its page, so that users get what the benchmark scores."""
    return outputs if mode is None else blend(images, known, outputs, mode)


def poisson_blend(image: np.ndarray, known: np.ndarray, fill: np.ndarray,
                  max_unknowns: int = DEFAULT_MAX_UNKNOWNS, stats: dict | None = None
                  ) -> np.ndarray:
    """Poisson-blend one fill (H x W x C or H x W) into one image of the same shape and dtype
    (uint8, or uint16 for 16-bit photos; an integer result is rounded and clipped to its type).

    Known pixels (known-mask 1) are the image's, bit-exactly; hole pixels are fill + c with c
    harmonic and equal to image - fill at the known pixels. With no hole the image is
    returned; with no known pixel there is no boundary, and the fill is returned unchanged.
    Holes of more than `max_unknowns` pixels are solved coarse-to-fine (module docstring).
    A dict given as `stats` receives what was solved, for benchmarks: 'factor' (1 for the
    exact solve), 'coarse_unknowns', 'band_unknowns' (all hole pixels for the exact solve)
    and 'band_solver' ('splu', 'cg' or None).
    """
    stats = {} if stats is None else stats
    stats.update(factor=1, coarse_unknowns=0, band_unknowns=0, band_solver=None)
    if image.shape != fill.shape or image.shape[:2] != known.shape or image.ndim not in (2, 3):
        raise ValueError(f"shapes differ or are not H x W (x C): image {image.shape}, "
                         f"known {known.shape}, fill {fill.shape}")
    if max_unknowns < 1:
        raise ValueError(f"max_unknowns must be positive, got {max_unknowns}")
    if image.ndim == 2:
        return poisson_blend(image[..., None], known, fill[..., None], max_unknowns,
                             stats)[..., 0]
    known = known.astype(bool)
    n_hole = known.size - int(np.count_nonzero(known))
    factor = 1 if n_hole <= max_unknowns else _coarse_factor(known, n_hole, max_unknowns)
    return _poisson_solve(image, known, fill, factor, max_unknowns, stats)


def _poisson_solve(image: np.ndarray, known: np.ndarray, fill: np.ndarray, factor: int,
                   max_unknowns: int, stats: dict) -> np.ndarray:
    """`poisson_blend` of an H x W x C image with a boolean known-mask: exact for `factor` 1,
    else coarse-to-fine on f x f blocks anchored at the image's corner."""
    hole = ~known
    n_hole = int(np.count_nonzero(hole))
    if n_hole == 0:
        return image.copy()
    if n_hole == hole.size:
        return fill.copy()
    height, width, channels = image.shape
    image_flat, fill_flat = image.reshape(-1, channels), fill.reshape(-1, channels)

    def residual(q: np.ndarray) -> np.ndarray:
        return image_flat[q].astype(np.float64) - fill_flat[q]

    out = image.copy()
    out_flat = out.reshape(-1, channels)

    def write(idx: np.ndarray, correction: np.ndarray) -> None:
        values = fill_flat[idx] + correction
        if np.issubdtype(out.dtype, np.integer):
            limits = np.iinfo(out.dtype)
            values = np.clip(np.rint(values), limits.min, limits.max)
        out_flat[idx] = values

    if factor == 1:
        idx, matrix, rhs = _laplace_system(hole, residual)
        write(idx, _splu_solve(matrix, rhs))
        stats.update(band_unknowns=idx.size, band_solver="splu")
        return out

    coarse, coarse_unknowns = _coarse_correction(image, known, fill, factor)
    upsample = _Upsampler(coarse, factor, height, width)
    reach = BAND_CELLS * factor
    import cv2  # OpenCV and scipy load on the first Poisson blend: `inpaint --help` stays quick
    near = cv2.dilate(known.view(np.uint8), np.ones((2 * reach + 1, 2 * reach + 1), np.uint8))
    band = hole & near.astype(bool)
    del near

    def boundary(q: np.ndarray) -> np.ndarray:
        values = np.empty((q.size, channels))
        is_known = known.ravel()[q]
        values[is_known] = residual(q[is_known])
        values[~is_known] = upsample.at(q[~is_known])
        return values

    # deep hole pixels: the upsampled coarse field, written in strips of rows
    rows = max(1, CHUNK // width)
    for top in range(0, height, rows):
        deep = hole[top:top + rows] & ~band[top:top + rows]
        if deep.any():
            write(np.flatnonzero(deep) + top * width, upsample.rows(top, top + rows)[deep])
    idx, matrix, rhs = _laplace_system(band, boundary)
    del band
    solver = "splu" if idx.size <= max_unknowns else "cg"
    if solver == "splu":
        write(idx, _splu_solve(matrix, rhs))
    else:
        write(idx, _cg_solve(matrix, rhs, upsample.at(idx)))
    stats.update(factor=factor, coarse_unknowns=coarse_unknowns, band_unknowns=idx.size,
                 band_solver=solver)
    return out


@dataclass(frozen=True)
class BlendRegions:
    """Where `blend_regions` works on one photo: rectangles that hold whole holes with the
    context the blend reads, and the coarse block size of the Poisson solve (1: exact)."""
    rects: list[Rect]
    factor: int


def regions_to_blend(hole: np.ndarray, mode: str,
                     max_unknowns: int = DEFAULT_MAX_UNKNOWNS) -> BlendRegions:
    """The rectangles of the H x W photo with boolean `hole` mask that blend `mode` reads and
    writes: each hole's bounding box, for 'paste'; for 'poisson', with the margin and block
    grid of the whole photo's solve (module docstring)."""
    if mode not in BLEND_MODES:
        raise ValueError(f"unknown blend mode {mode!r}; valid modes: {', '.join(BLEND_MODES)}")
    if mode == "paste":
        return BlendRegions(hole_regions(hole, margin=0), 1)
    n_hole = int(np.count_nonzero(hole))
    factor = 1 if n_hole <= max_unknowns else _coarse_factor(~hole, n_hole, max_unknowns)
    margin = (BAND_CELLS + 1) * factor + 1  # the band's reach, one block and the boundary
    return BlendRegions(hole_regions(hole, margin, align=factor), factor)


def blend_regions(image: np.ndarray, hole: np.ndarray, fills: list[np.ndarray],
                  regions: BlendRegions, mode: str,
                  max_unknowns: int = DEFAULT_MAX_UNKNOWNS) -> np.ndarray:
    """`blend` of one image (H x W x C) whose fill is given only in `regions`
    (`regions_to_blend`), one array per rectangle: the same result, with everything outside
    the rectangles copied from the image."""
    def blended(rect: Rect, fill: np.ndarray) -> np.ndarray:
        known = ~hole[rect]
        if mode == "paste":
            return np.where(known[..., None], image[rect], fill)
        return _poisson_solve(image[rect], known, fill, regions.factor, max_unknowns, {})

    out = image.copy()
    # SuperLU frees the GIL: the rectangles of several holes are solved side by side, on the
    # threads OMP_NUM_THREADS allows (one per core by default)
    threads = int(os.environ.get("OMP_NUM_THREADS") or 0) or os.cpu_count() or 1
    with ThreadPoolExecutor(max(1, min(threads, len(regions.rects)))) as pool:
        for rect, result in zip(regions.rects, pool.map(blended, regions.rects, fills)):
            out[rect] = result
    return out


def _laplace_system(unknown: np.ndarray, boundary: Callable[[np.ndarray], np.ndarray]
                    ) -> tuple[np.ndarray, sp.csc_matrix, np.ndarray]:
    """The 5-point Laplace system on the True pixels of `unknown` (H x W bool).

    Returns the unknowns' flat indices (sorted), the matrix (degree on the diagonal, -1 per
    neighbouring unknown; SPD when every component touches a Dirichlet pixel) and the
    right-hand side: the sum of `boundary(q)` (an n x C array for flat indices q) over each
    unknown's neighbours that are not unknowns. Neighbours outside the image do not exist
    (natural boundary). Neighbour positions come from a binary search in the sorted indices,
    so no H x W index image is needed.
    """
    import scipy.sparse as sp
    height, width = unknown.shape
    flat = unknown.ravel()
    idx = np.flatnonzero(flat)
    n = idx.size
    ys, xs = np.divmod(idx, width)
    degree = np.zeros(n)
    rows, cols, dirichlet_rows, dirichlet_q = [], [], [], []
    for dy, dx in _NEIGHBOURS:
        if dx:
            inside = (xs + dx >= 0) & (xs + dx < width)
        else:
            inside = (ys + dy >= 0) & (ys + dy < height)
        i = np.flatnonzero(inside)
        q = idx[i] + (dy * width + dx)
        degree[i] += 1
        inner = flat[q]
        rows.append(i[inner])
        cols.append(np.searchsorted(idx, q[inner]))
        dirichlet_rows.append(i[~inner])
        dirichlet_q.append(q[~inner])
    del ys, xs, i, q, inner, inside
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    matrix = sp.csc_matrix((np.full(rows.size, -1.0), (rows, cols)), shape=(n, n))
    matrix = (matrix + sp.diags(degree, format="csc")).tocsc()
    del rows, cols
    dirichlet_rows, dirichlet_q = np.concatenate(dirichlet_rows), np.concatenate(dirichlet_q)
    values = boundary(dirichlet_q)
    rhs = np.zeros((n, values.shape[1]))
    for c in range(values.shape[1]):
        rhs[:, c] = np.bincount(dirichlet_rows, weights=values[:, c], minlength=n)
    return idx, matrix, rhs


def _splu_solve(matrix: sp.csc_matrix, rhs: np.ndarray) -> np.ndarray:
    """Solve for all channels with one SuperLU factorisation (symmetric mode: no pivoting)."""
    import scipy.sparse.linalg as spla
    if rhs.shape[0] == 0:
        return rhs
    lu = spla.splu(matrix, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                   options={"SymmetricMode": True})
    return lu.solve(rhs)


def _cg_solve(matrix: sp.csc_matrix, rhs: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Solve channel by channel with Jacobi-preconditioned cg from `start` (the band, when it
    is too large to factor). Raises if cg does not converge, rather than blend badly."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla
    matrix = sp.csr_matrix((matrix.data, matrix.indices, matrix.indptr), matrix.shape)  # A = A^T
    jacobi = sp.diags(1.0 / matrix.diagonal())
    solution = np.empty_like(rhs)
    for c in range(rhs.shape[1]):
        solution[:, c], info = spla.cg(matrix, rhs[:, c], x0=start[:, c], rtol=CG_RTOL,
                                       maxiter=10 * matrix.shape[0], M=jacobi)
        if info != 0:
            raise RuntimeError(f"cg did not converge on the blending band (info {info})")
    return solution


def _coarse_factor(known: np.ndarray, n_hole: int, max_unknowns: int) -> int:
    """The block size f of the coarse path: the smallest (>= 2) whose grid has at most
    `max_unknowns` all-hole blocks."""
    factor = max(2, int(np.ceil(np.sqrt(n_hole / max_unknowns))))
    while np.count_nonzero(_block_sums(lambda rows: known[rows], known.shape, factor,
                                       np.int32) == 0) > max_unknowns:
        factor += 1
    return factor


def _coarse_correction(image: np.ndarray, known: np.ndarray, fill: np.ndarray,
                       factor: int) -> tuple[np.ndarray, int]:
    """The harmonic correction on the f x f block grid (Hc x Wc x C, float32) and the number
    of coarse unknowns. Blocks with a known pixel hold the mean residual over their known
    pixels; all-hole blocks are solved.
    """
    counts = _block_sums(lambda rows: known[rows], known.shape, factor, np.int32)

    def masked_residual(rows: slice) -> np.ndarray:
        residual = image[rows].astype(np.float32) - fill[rows]
        residual *= known[rows, :, None]
        return residual

    coarse = _block_sums(masked_residual, known.shape, factor, np.float64, divide_by=counts)
    coarse_flat = coarse.reshape(-1, coarse.shape[2])
    idx, matrix, rhs = _laplace_system(counts == 0, lambda q: coarse_flat[q])
    coarse_flat[idx] = _splu_solve(matrix, rhs)
    return coarse, idx.size


def _block_sums(rows_of: Callable[[slice], np.ndarray], shape: tuple[int, int], factor: int,
                dtype, divide_by: np.ndarray | None = None) -> np.ndarray:
    """Sums over f x f blocks (the last ones may be smaller) of an H x W (x C) array, given
    strip by strip by `rows_of(slice of rows)` and accumulated in `dtype`, so that no full-size
    temporary (or full-size cast for the accumulation) is ever made. With `divide_by` (block
    counts), the float32 means instead, dividing by max(count, 1)."""
    height, width = shape
    col_starts = np.arange(0, width, factor)
    strip = max(1, CHUNK // (width * factor)) * factor
    out = None
    for top in range(0, height, strip):
        part = rows_of(slice(top, top + strip))
        down = np.add.reduceat(part, np.arange(0, part.shape[0], factor), axis=0, dtype=dtype)
        sums = np.add.reduceat(down, col_starts, axis=1)
        blocks = slice(top // factor, top // factor + sums.shape[0])
        if divide_by is not None:
            counts = np.maximum(divide_by[blocks], 1)
            sums /= counts.reshape(counts.shape + (1,) * (sums.ndim - 2))
        if out is None:
            out = np.empty((-(-height // factor),) + sums.shape[1:],
                           np.float32 if divide_by is not None else dtype)
        out[blocks] = sums
    return out


class _Upsampler:
    """Bilinear interpolation of a block-grid field between block centres, at any pixels.

    Pixel coordinates map piecewise-linearly onto block indices through the block centres (so
    a smaller last block is handled), clamped beyond the first and last centre; the weights
    are separable, so per-axis tables suffice and any set of pixels can be evaluated alone.
    """

    def __init__(self, coarse: np.ndarray, factor: int, height: int, width: int):
        self.coarse, self.width = coarse, width
        self.y0, self.y1, self.wy = self._axis(height, factor)
        self.x0, self.x1, self.wx = self._axis(width, factor)

    @staticmethod
    def _axis(size: int, factor: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        starts = np.arange(0, size, factor)
        centres = (starts + np.minimum(starts + factor, size) - 1) / 2
        t = np.interp(np.arange(size), centres, np.arange(starts.size))
        lo = np.floor(t).astype(np.int64)
        return lo, np.minimum(lo + 1, starts.size - 1), (t - lo)[:, None]

    def rows(self, top: int, bottom: int) -> np.ndarray:
        """Upsampled values of whole rows top:bottom (h x W x C), separably: x, then y."""
        y = np.arange(top, min(bottom, self.y0.size))
        first, last = self.y0[y[0]], self.y1[y[-1]] + 1
        c = self.coarse[first:last]
        across = c[:, self.x0] * (1 - self.wx) + c[:, self.x1] * self.wx
        wy = self.wy[y][:, None]
        return across[self.y0[y] - first] * (1 - wy) + across[self.y1[y] - first] * wy

    def at(self, q: np.ndarray) -> np.ndarray:
        """Upsampled values (len(q) x C) at flat pixel indices q, in chunks."""
        out = np.empty((q.size, self.coarse.shape[2]))
        for start in range(0, q.size, CHUNK):
            y, x = np.divmod(q[start:start + CHUNK], self.width)
            y0, y1, wy = self.y0[y], self.y1[y], self.wy[y]
            x0, x1, wx = self.x0[x], self.x1[x], self.wx[x]
            c = self.coarse
            top = c[y0, x0] * (1 - wx) + c[y0, x1] * wx
            bottom = c[y1, x0] * (1 - wx) + c[y1, x1] * wx
            out[start:start + CHUNK] = top * (1 - wy) + bottom * wy
        return out
