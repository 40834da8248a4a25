"""The compute device and its threads, from the environment, so that switching hardware (or
the number of processes sharing the cores) re-runs no stage."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def get_device() -> torch.device:
    """`INPAINT_DEVICE` (cpu, cuda, cuda:1, ...) if set, else CUDA when available, else CPU."""
    import torch  # here, so that the method registry (and `inpaint --help`) imports without it
    name = os.environ.get("INPAINT_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"INPAINT_DEVICE={name!r}: not a torch device ({err})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"INPAINT_DEVICE={name!r}: CUDA is not available on this machine")
    return device


def set_threads() -> None:
    """Honour OMP_NUM_THREADS when set (several processes share the cores)."""
    import torch
    threads = os.environ.get("OMP_NUM_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
