"""Small synthetic batches shared by the baselines' training tests."""
from __future__ import annotations

import torch


def smooth_batch(count: int = 8, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth two-colour images in [-1, 1] and square holes (known N x 1 x H x W, 0 = hole):
    easy to fill from the context, so a few steps of a working trainer lower its loss."""
    generator = torch.Generator().manual_seed(1)
    ramp = torch.linspace(-1, 1, size)
    colours = torch.rand(count, 3, 2, generator=generator) * 2 - 1
    image = (colours[..., 0, None, None] * ramp[None, :, None]
             + colours[..., 1, None, None] * ramp[None, None, :]) / 2
    known = torch.ones(count, 1, size, size)
    for i in range(count):
        top, left = torch.randint(0, size // 2, (2,), generator=generator)
        known[i, :, top:top + size // 3, left:left + size // 3] = 0
    return image, known
