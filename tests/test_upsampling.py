"""Upsampling a low-resolution fill to the photo: bicubic, and HiFill's contextual residual
aggregation (CRA), which must keep every known pixel and add real detail in the hole."""
from __future__ import annotations

import numpy as np
import pytest

from inpaint.api.inpainter import Inpainter
from inpaint.api.upsampling import resize, upsample


def textured(side: int = 128) -> np.ndarray:
    """A periodic texture finer than a 4x smaller copy can hold: what CRA can restore."""
    yy, xx = np.mgrid[0:side, 0:side]
    tex = 128 + 60 * np.sin(xx * 2 * np.pi / 5.0) * np.sin(yy * 2 * np.pi / 7.0)
    return np.stack([tex, 0.8 * tex + 20, 255 - tex], -1).clip(0, 255).astype(np.uint8)


def hole_psnr(out: np.ndarray, truth: np.ndarray, known: np.ndarray) -> float:
    err = ((out.astype(float) - truth)[~known] ** 2).mean()
    return 10 * np.log10(255 ** 2 / err)


def test_cra_beats_bicubic_in_the_hole_of_a_textured_image():
    image = textured()
    known = np.ones(image.shape[:2], bool)
    known[40:85, 30:100] = False
    fill = resize(image, 32)  # a perfect fill at the model's resolution
    bicubic, cra = (upsample(fill, image, known, mode) for mode in ("bicubic", "cra"))
    assert hole_psnr(cra, image, known) > hole_psnr(bicubic, image, known) + 5
    assert np.array_equal(cra[known], bicubic[known]), "CRA changes only hole pixels"


def test_cra_is_bicubic_without_a_hole_or_without_context_or_at_the_model_size():
    image = textured(64)
    fill = resize(image, 16)
    for known in (np.ones((64, 64), bool), np.zeros((64, 64), bool)):
        assert np.array_equal(upsample(fill, image, known, "cra"),
                              upsample(fill, image, known, "bicubic"))
    same = resize(image, 64)
    assert np.array_equal(upsample(same, image, np.eye(64, dtype=bool), "cra"), same)


def test_cra_handles_photo_sizes_that_are_not_multiples_of_the_grid():
    image = textured(131)
    known = np.ones((131, 131), bool)
    known[50:90, 20:60] = False
    out = upsample(resize(image, 32), image, known, "cra")
    assert out.shape == image.shape and out.dtype == np.uint8


@pytest.mark.parametrize("mode", ["cra", "bicubic"])
def test_the_inpainter_keeps_known_pixels_exact_with_either_upsampler(mode):
    """Through the API, on a photo 4x a model's resolution, with a fill method that works
    at 32 px: the known pixels come back bit for bit."""
    image = textured(128)
    hole = np.zeros((128, 128), bool)
    hole[40:85, 30:100] = True

    def mean_colour(images: np.ndarray, known: np.ndarray) -> np.ndarray:
        return np.broadcast_to(images.mean((1, 2), keepdims=True), images.shape).astype(np.uint8)

    out = Inpainter(mean_colour, 32, upsample=mode).inpaint(image, hole)
    assert np.array_equal(out[~hole], image[~hole])
    assert (out[hole] != image[hole]).any()


def test_unknown_upsampler_is_refused():
    with pytest.raises(ValueError, match="upsample='nearest': expected one of cra, bicubic"):
        upsample(textured(32), textured(64), np.ones((64, 64), bool), "nearest")
