"""A toy method's trainer module (step 2 of docs/layout.md's "Adding a method"): L1 on the
whole image with Adam, validated like every retrained baseline."""
from __future__ import annotations

import torch
from torch import nn

from inpaint.training.trainers.base import InpaintingTrainer, TrainingData
from toy_network import ToyConfig, ToyNet


class ToyTrainer(InpaintingTrainer):
    stage = "train_toy"

    def __init__(self, params, data: TrainingData, device: torch.device | str = "cpu"):
        self.params, self.data, self.device = params, data, device
        self.net = ToyNet(ToyConfig(data.resolution, params.width)).to(device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=params.lr)
        self.modules, self.optimizers = {"toy_net": self.net}, {"adam": self.optimizer}
        self.batch_count = len(data.train)

    def step(self, image: torch.Tensor, known: torch.Tensor) -> dict[str, torch.Tensor]:
        loss = (self.net.inpaint(image, known) - image).abs().mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss}

    def fill(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        return self.net.inpaint(image, known)

    @property
    def fill_module(self) -> nn.Module:
        return self.net
