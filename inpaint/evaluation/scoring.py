"""Scores the training stages validate with, on tensors in [-1, 1]: per-pair L1 and PSNR of a
fill (raw and composited), and the spread of a batch of samples."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from inpaint.tensors import known_tensor, to_tensor


@torch.no_grad()
def score_pairs(inpaint: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], module: nn.Module,
                images: np.ndarray, masks: np.ndarray, pairs, device: torch.device,
                batch_size: int = 200):
    """Per evaluation pair (a DataFrame of image_index, bucket, eval_mask_index): L1 and PSNR
    of the raw output of `inpaint(x, known)` and of the composite, with `module` in eval mode
    meanwhile (its mode is restored after: a grid drawn later must use the same statistics)."""
    was_training = module.training
    module.eval()
    rows = []
    for start in range(0, len(pairs), batch_size):
        chunk = pairs.iloc[start:start + batch_size]
        x = to_tensor(images[chunk.image_index.values], device)
        known = known_tensor(masks[chunk.eval_mask_index.values], device)
        out = inpaint(x, known).clamp(-1, 1)
        composite = known * x + (1 - known) * out
        rows.append(pd.DataFrame({
            "bucket": chunk.bucket.values,
            "l1": (out - x).abs().flatten(1).mean(1).cpu().numpy(),
            "psnr": batch_psnr(out, x).cpu().numpy(),
            "psnr_composite": batch_psnr(composite, x).cpu().numpy()}))
    module.train(was_training)
    return pd.concat(rows)


def batch_psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR (dB) of [-1, 1] tensors after uint8 quantisation, data range 255."""
    a = x.clamp(-1, 1).add(1).mul(127.5).round()
    b = y.clamp(-1, 1).add(1).mul(127.5).round()
    mse = (a - b).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return 10 * torch.log10(255.0 ** 2 / mse)


def pairwise_l1(images: torch.Tensor) -> float:
    """Mean L1 distance between all pairs of a batch: a cheap spread (diversity) figure."""
    flat = images.flatten(1)
    return float(torch.cdist(flat, flat, p=1).sum() / (len(flat) * (len(flat) - 1) * flat.shape[1]))
