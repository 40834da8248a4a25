"""Bringing a fill made at the model's resolution up to the photo's: bicubic, or HiFill's
contextual residual aggregation (CRA; Yi et al. 2020), for any method.

A fill made at 64 px and resized to a 12 MP photo is a blurry patch in a sharp picture. CRA
adds the detail the low resolution lost: the high-frequency residual of the known region
(the photo minus its own down-and-up-sampled copy) is copied into the hole, each hole cell
taking the attention-weighted sum of the residuals of the known cells whose low-resolution
fill looks like its own (`inpaint.baselines.attention`). HiFill takes the attention scores
from its generator's features; here they come from the upsampled fill itself (its
3 x 3-cell neighbourhoods, with each image's mean colour removed so that cosine similarity
compares texture and shading rather than brightness), so that every method can use it.
Known pixels are never changed: only hole pixels receive the aggregated residual.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

UPSAMPLERS = ("cra", "bicubic")
DEFAULT_UPSAMPLER = "cra"  # measured: docs/cli.md#upsampling
CELLS_PER_SIDE = 32  # attention grid; HiFill: 32 x 32 cells at any photo size


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
    if mode not in UPSAMPLERS:
        raise ValueError(f"upsample={mode!r}: expected one of {', '.join(UPSAMPLERS)}")
    side = image.shape[0]
    blurry = resize(fill, side)
    if mode == "bicubic" or side <= fill.shape[0] or known.all() or not known.any():
        return blurry
    return _cra(blurry, image, known, fill.shape[0], cells)


def _cra(blurry: np.ndarray, image: np.ndarray, known: np.ndarray, low: int,
         cells: int) -> np.ndarray:
    """`blurry` plus, in the hole, the known region's residual aggregated by attention."""
    import torch  # here: the `inpaint` command imports this module and must start quickly
    import torch.nn.functional as F

    from inpaint.baselines.attention import attention_scores, known_cells, transfer
    side = image.shape[0]
    cell = -(-side // cells)  # pad the photo to whole cells, repeating its border
    pad = cell * cells - side
    # the detail the model's resolution cannot hold: the photo minus its low-resolution copy
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
