"""Images and masks between numpy (uint8, what files and users hold) and torch tensors (what the
networks take): the one conversion that inference and training share."""
from __future__ import annotations

import numpy as np
import torch


def to_tensor(images: np.ndarray, device: torch.device | str) -> torch.Tensor:
    """uint8 NHWC -> float NCHW in [-1, 1] on `device`.

    The uint8 batch crosses to a GPU (4x fewer bytes than floats) from pinned memory,
    asynchronously: the copy overlaps the work still queued on the GPU.
    """
    x = torch.from_numpy(np.ascontiguousarray(images))
    if torch.device(device).type == "cuda":
        x = x.pin_memory().to(device, non_blocking=True)
    else:
        x = x.to(device)
    return x.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float NCHW in [-1, 1] -> uint8 NHWC (rounded, clipped)."""
    x = x.detach().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def known_tensor(known: np.ndarray, device: torch.device | str) -> torch.Tensor:
    """Known-masks N x H x W (1 = known) -> float N x 1 x H x W on `device`."""
    return torch.from_numpy(np.ascontiguousarray(known)).float()[:, None].to(device)
