"""Working where the holes are (issue 37): upsampling, CRA and Poisson blending on the holes'
rectangles give what the whole-photo computation gives, within one grey level in the holes
and exactly on the known pixels, for several holes, holes at the border and holes whose
rectangles touch or overlap."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from inpaint.api.blending import blend_regions, poisson_blend, regions_to_blend
from inpaint.api.inpainter import Inpainter, _box_cover, _SquareGeometry
from inpaint.api.regions import hole_regions
from inpaint.api.upsampling import CELLS_PER_SIDE, resize, upsample, upsample_regions
from inpaint.nn.attention import attention_scores, known_cells, transfer


def whole_photo_cra(fill: np.ndarray, image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """CRA over the whole square photo, as HiFill computes it (and `inpaint` did before the
    regions): every cell's residual aggregated into every cell, then kept in the hole."""
    side, low, cells = image.shape[0], fill.shape[0], CELLS_PER_SIDE
    blurry = resize(fill, side)
    cell = -(-side // cells)
    pad = cell * cells - side
    residual = image.astype(np.float32) - resize(resize(image, low), side)

    def padded(array: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        tensor = tensor.permute(2, 0, 1)[None] if tensor.ndim == 3 else tensor[None, None]
        return F.pad(tensor, (0, pad, 0, pad), mode="replicate")

    known_t, residual_t = padded(known), padded(residual)
    features = F.adaptive_avg_pool2d(padded(blurry), cells)
    features = features - features.mean((2, 3), keepdim=True)
    scores = attention_scores(features, known_cells(known_t, (cells, cells)))
    borrowed = transfer(residual_t * known_t, scores, (cells, cells))
    detail = (borrowed * (1 - known_t))[0, :, :side, :side].permute(1, 2, 0).numpy()
    return np.clip(np.rint(blurry + detail), 0, 255).astype(np.uint8)


def photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Texture, shading and noise: detail for CRA to carry, gradients for Poisson."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = 120 + 50 * np.sin(xx / 3.1) * np.cos(yy / 4.7) + 0.2 * xx - 0.1 * yy
    rgb = np.stack([base, 0.7 * base + 30, 250 - base], -1) + rng.normal(0, 6, (height, width, 3))
    return rgb.clip(0, 255).astype(np.uint8)


def several_holes(height: int, width: int) -> np.ndarray:
    """Holes inside, on the left and top borders, in the bottom-right corner, and two pairs whose
    bounding boxes (with any margin) touch or overlap; one a thin diagonal stroke."""
    hole = np.zeros((height, width), bool)
    hole[20:50, 30:70] = True                        # interior
    hole[60:90, 0:15] = True                         # left border
    hole[0:12, 100:140] = True                       # top border
    hole[height - 18:, width - 25:] = True           # corner
    hole[110:130, 90:110] = True                     # two holes, boxes overlap with a margin
    hole[112:128, 113:125] = True
    top = height // 2 + 10
    for i in range(60):                              # a stroke whose box covers another hole
        hole[top + i // 3, 20 + i:23 + i] = True
    hole[top + 12:top + 16, 40:44] = True
    return hole


def test_regions_hold_every_hole_pixel_once_with_whole_holes_and_aligned_edges():
    hole = several_holes(200, 260)
    rects = hole_regions(hole, margin=7, align=4)
    cover = np.zeros(hole.shape, int)
    for rows, cols in rects:
        cover[rows, cols] += 1
        for edge, end in ((rows.start, 200), (rows.stop, 200), (cols.start, 260),
                          (cols.stop, 260)):
            assert edge % 4 == 0 or edge == end
    assert cover.max() == 1, "rectangles never overlap"
    assert (cover[hole] == 1).all()
    around = cv2.dilate(hole.view(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
    assert (cover[around] == 1).all(), "7 px around each hole pixel lie in its rectangle"
    assert len(rects) < 8, "the overlapping pairs were merged"
    assert hole_regions(np.zeros((5, 5), bool), margin=3) == []


@pytest.mark.parametrize("side", [200, 131])
def test_cra_on_the_regions_equals_cra_on_the_whole_photo(side):
    image = photo(side, side)
    hole = several_holes(side, side)
    fill = resize(image, 32)
    reference = whole_photo_cra(fill, image, ~hole)
    for margin in (0, 9):
        rects = hole_regions(hole, margin)
        for rect, crop in zip(rects, upsample_regions(fill, image, ~hole, rects, "cra")):
            diff = np.abs(crop.astype(int) - reference[rect])
            assert diff.max() <= 1
            assert np.array_equal(crop[~hole[rect]], reference[rect][~hole[rect]])
    assert np.abs(upsample(fill, image, ~hole, "cra").astype(int) - reference).max() <= 1


@pytest.mark.parametrize("max_unknowns", [2 ** 18, 300], ids=["exact", "coarse"])
def test_poisson_on_the_regions_equals_poisson_on_the_whole_photo(max_unknowns):
    image = photo(200, 260, seed=1)
    hole = several_holes(200, 260)
    fill = (image.astype(int) + 25 + photo(200, 260, seed=2) // 8).clip(0, 255).astype(np.uint8)
    reference = poisson_blend(image, ~hole, fill, max_unknowns=max_unknowns)
    regions = regions_to_blend(hole, "poisson", max_unknowns)
    assert (regions.factor > 1) == (max_unknowns == 300)
    out = blend_regions(image, hole, [fill[rect] for rect in regions.rects], regions, "poisson",
                        max_unknowns)
    assert np.abs(out.astype(int) - reference).max() <= 1
    assert np.array_equal(out[~hole], image[~hole])


def test_paste_on_the_regions_is_paste():
    image, hole = photo(200, 260), several_holes(200, 260)
    fill = 255 - image
    regions = regions_to_blend(hole, "paste")
    out = blend_regions(image, hole, [fill[rect] for rect in regions.rects], regions, "paste")
    assert np.array_equal(out, np.where(hole[..., None], fill, image))


@pytest.mark.parametrize("mode", ["cra", "bicubic"])
def test_the_inpainter_equals_the_whole_photo_path(mode):
    """Through the API on a non-square photo (reflect-padded to a square for the fill): the
    fill upsampled on the whole square and Poisson-blended over the whole photo, as before."""
    image = photo(150, 260, seed=3)
    hole = several_holes(150, 260)

    def offset_fill(images: np.ndarray, known: np.ndarray) -> np.ndarray:
        return (images.astype(int) + 20).clip(0, 255).astype(np.uint8)

    out = Inpainter(offset_fill, 32, upsample=mode).inpaint(image, hole)
    geometry = _SquareGeometry(150, 260)
    small = np.asarray(Image.fromarray(geometry.to_square(image))  # as `_downscale`
                       .resize((32, 32), Image.Resampling.LANCZOS))
    cover = np.asarray(Image.fromarray(geometry.to_square(~hole).astype(np.float32))
                       .resize((32, 32), Image.Resampling.BOX)) > 0.999
    composite = poisson_blend(small, cover, offset_fill(small[None], cover[None])[0])
    square, known = geometry.to_square(image), geometry.to_square(~hole)
    upsampled = (whole_photo_cra(composite, square, known) if mode == "cra"
                 else resize(composite, square.shape[0]))
    reference = poisson_blend(image, ~hole, geometry.from_square(upsampled))
    assert np.abs(out.astype(int) - reference).max() <= 1
    assert np.array_equal(out[~hole], image[~hole])


@pytest.mark.parametrize("resolution", [32, 64])
def test_the_known_cover_counted_in_integers_is_pillows_box_resize(resolution):
    """`_downscale`'s cover (the share of known pixels under each low-resolution pixel) without
    the float copy of the photo's mask: equal to Pillow's BOX resize, at sides that divide the
    resolution and sides that do not, for masks with a few scattered hole pixels (the 0.999
    threshold) and large holes; a photo smaller than the model goes through Pillow."""
    rng = np.random.default_rng(resolution)
    for side in (resolution - 7, resolution, resolution + 1, 3 * resolution + 17, 8 * resolution,
                 1000):
        for share in (0.0002, 0.01, 0.4):
            known = rng.random((side, side)) > share
            pillow = np.asarray(Image.fromarray(known.astype(np.float32))
                                .resize((resolution, resolution), Image.Resampling.BOX))
            counted = _box_cover(known, resolution)
            assert np.abs(counted - pillow).max() < 1e-6
            assert np.array_equal(counted > 0.999, pillow > 0.999)


def test_several_holes_blend_side_by_side_as_one_at_a_time(monkeypatch):
    """`blend_regions` solves the rectangles in threads: the same photo as with one thread."""
    image = photo(200, 260, seed=4)
    hole = several_holes(200, 260)
    fill = (image.astype(int) + 30).clip(0, 255).astype(np.uint8)
    regions = regions_to_blend(hole, "poisson")
    crops = [fill[rect] for rect in regions.rects]
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    side_by_side = blend_regions(image, hole, crops, regions, "poisson")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert np.array_equal(side_by_side, blend_regions(image, hole, crops, regions, "poisson"))
