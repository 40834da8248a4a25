"""Classical inpainting without training: OpenCV's Telea and Navier-Stokes, and biharmonic.

Each takes uint8 HxWx3 images and known-masks (1 = known, 0 = hole) and returns uint8 HxWx3.
"""
from __future__ import annotations

import cv2
import numpy as np

OPENCV_RADIUS = 3  # OpenCV's documented example radius; the neighbourhood each pixel uses


def telea(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fast marching method of Telea (2004)."""
    return cv2.inpaint(image, (known == 0).astype(np.uint8) * 255, OPENCV_RADIUS,
                       cv2.INPAINT_TELEA)


def navier_stokes(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Navier-Stokes based inpainting of Bertalmio et al. (2001)."""
    return cv2.inpaint(image, (known == 0).astype(np.uint8) * 255, OPENCV_RADIUS,
                       cv2.INPAINT_NS)


def biharmonic(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Biharmonic equation inpainting (scikit-image)."""
    # here: scikit-image takes longer to import than Telea or Navier-Stokes take to run
    from skimage.restoration import inpaint_biharmonic
    if known.all():
        return image.copy()
    out = inpaint_biharmonic(image, known == 0, channel_axis=-1)
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)
