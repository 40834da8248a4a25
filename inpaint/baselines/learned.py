"""Training and loading the retrained baselines: PConv (Liu et al. 2018), Gated Conv (Yu et
al. 2019).

A trainer holds its networks and optimisers and takes one training step on a batch; the
`train_baseline` stage drives it with `training.fit`. `load_baseline` turns a trained model
file into a function (image, known) -> output for the benchmark and the CLI.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from inpaint.baselines.losses import AlexFeatures, patch_gan_step, pconv_loss
from inpaint.baselines.networks import (GatedConfig, GatedGenerator, PatchDiscriminator,
                                        PatchGanConfig, PConvConfig, PConvUNet, masked_input)
from inpaint.pretrained import load_networks

# method -> the inpainting network's name in its model file (see `pretrained.NETWORKS`)
BASELINES = {"pconv": "pconv_unet", "gatedconv": "gated_generator"}

Inpaint = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class BaselineTrainer(ABC):
    """Networks (`modules`, the inpainting one named `BASELINES[method]`) and `optimizers`."""
    method: str
    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]

    @property
    def generator(self) -> nn.Module:
        return self.modules[BASELINES[self.method]]

    def networks(self) -> dict[str, tuple[object, nn.Module]]:
        """{name: (config, module)}, as `pretrained.save_networks` takes it."""
        return {name: (module.cfg, module) for name, module in self.modules.items()}

    @abstractmethod
    def step(self, image: torch.Tensor, known: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimisation step on a batch; returns the losses (key `loss`: the trained one)."""


class PConvTrainer(BaselineTrainer):
    """Liu et al.'s first training phase: Adam on the U-Net with the PConv loss. Their second
    phase (lr 5e-5 with the encoder's BatchNorm frozen) is not run."""
    method = "pconv"

    def __init__(self, cfg: PConvConfig, features: AlexFeatures, lr: float,
                 betas: tuple[float, float], device: torch.device | str = "cpu"):
        self.net = PConvUNet(cfg).to(device)
        self.features = features.to(device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr, betas=betas)
        self.modules, self.optimizers = {"pconv_unet": self.net}, {"adam": self.optimizer}

    def step(self, image: torch.Tensor, known: torch.Tensor) -> dict[str, torch.Tensor]:
        terms = pconv_loss(self.net.inpaint(image, known), image, known, self.features)
        self.optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        self.optimizer.step()
        return terms


class GatedConvTrainer(BaselineTrainer):
    """One discriminator step, then one generator step, per batch (Yu et al.'s 1:1)."""
    method = "gatedconv"

    def __init__(self, cfg: GatedConfig, disc_cfg: PatchGanConfig, lr: float,
                 betas: tuple[float, float], gan_weight: float,
                 device: torch.device | str = "cpu"):
        self.net = GatedGenerator(cfg).to(device)
        self.discriminator = PatchDiscriminator(disc_cfg).to(device)
        self.gan_weight = gan_weight
        self.opt_g = torch.optim.Adam(self.net.parameters(), lr=lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=betas)
        self.modules = {"gated_generator": self.net, "patch_discriminator": self.discriminator}
        self.optimizers = {"adam_g": self.opt_g, "adam_d": self.opt_d}

    def step(self, image: torch.Tensor, known: torch.Tensor) -> dict[str, torch.Tensor]:
        coarse, refined = self.net(masked_input(image, known))
        composite = known * image + (1 - known) * refined
        loss_g, loss_d = patch_gan_step(self.discriminator, self.opt_d, image, composite, known)
        l1 = (coarse - image).abs().mean() + (refined - image).abs().mean()
        loss = l1 + self.gan_weight * loss_g
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        return {"loss": loss, "l1": l1, "loss_g": loss_g, "loss_d": loss_d}


def load_baseline(name: str, path: str | Path, device: torch.device | str = "cpu") -> Inpaint:
    """A trained baseline as `inpaint(image, known) -> output`: NCHW in [-1, 1], known N1HW
    with 1 = known; the raw network output (clamped), to be pasted into the holes by the
    caller. `name` is 'pconv' or 'gatedconv', `path` its model file (models/<name>.pt)."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
    net = load_networks(path, [BASELINES[name]], device)[BASELINES[name]]
    net.requires_grad_(False)

    @torch.no_grad()
    def inpaint(image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        return net.inpaint(image, known).clamp(-1, 1)

    return inpaint
