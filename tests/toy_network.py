"""A toy method's network module (step 1 of docs/layout.md's "Adding a method"): one 3 x 3
convolution over the masked image, and the `NETWORKS` table its model file loads with."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from inpaint.baselines.networks import masked_input


@dataclass(frozen=True)
class ToyConfig:
    resolution: int = 32
    width: int = 4


class ToyNet(nn.Module):
    def __init__(self, cfg: ToyConfig):
        super().__init__()
        self.cfg = cfg
        self.body = nn.Sequential(nn.Conv2d(4, cfg.width, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(cfg.width, 3, 3, padding=1))

    def inpaint(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.body(masked_input(image, known)))


NETWORKS = {"toy_net": (ToyConfig, ToyNet)}
