"""PConv (Liu et al. 2018), retrained as a baseline: the partial-convolution U-Net with Liu et
al.'s loss (`training.losses.pconv_loss`, on LPIPS AlexNet features), Adam. Their second phase
(lr 5e-5 with the encoder's BatchNorm frozen) is not run."""
from __future__ import annotations

import torch
from torch import nn

from inpaint.baselines.networks import PConvConfig, PConvUNet, masked_input
from inpaint.config import PConvParams
from inpaint.tensors import known_tensor, to_tensor
from inpaint.training import distributed
from inpaint.training.losses import AlexFeatures, pconv_loss
from inpaint.training.trainers.base import InpaintingTrainer, TrainingData


class PConvTrainer(InpaintingTrainer):
    stage = "train_pconv"

    def __init__(self, params: PConvParams, data: TrainingData, features: AlexFeatures,
                 device: torch.device | str = "cpu"):
        self.params, self.data, self.device = params, data, device
        self.features = features.to(device)
        self.net = PConvUNet(PConvConfig(data.resolution, params.width)).to(device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=params.lr,
                                          betas=tuple(params.betas))
        self.modules, self.optimizers = {"pconv_unet": self.net}, {"adam": self.optimizer}
        # DDP's arithmetic under torchrun (the step calls `inpaint`, which DDP cannot hook)
        distributed.average_gradients(self.modules.values(), self.optimizers.values())
        self.batch_count = len(data.train)

    def examples(self) -> dict:
        x = to_tensor(self.data.val[:1], self.device)
        known = known_tensor(self.data.eval_masks[:1], self.device)
        return {"PConv U-Net": (self.net, masked_input(x, known)),
                "loss AlexNet relu1-3": (self.features, x)}

    def step(self, image: torch.Tensor, known: torch.Tensor) -> dict[str, torch.Tensor]:
        terms = pconv_loss(self.net.inpaint(image, known), image, known, self.features)
        self.optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        self.optimizer.step()
        return terms

    def fill(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        return self.net.inpaint(image, known)

    @property
    def fill_module(self) -> nn.Module:
        return self.net
