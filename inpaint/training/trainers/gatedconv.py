"""Gated Conv (Yu et al. 2019), retrained as a baseline: the coarse-to-fine gated-convolution
generator and its SN-PatchGAN, one discriminator step then one generator step per batch (Yu et
al.'s 1:1); L_G = L1(coarse) + L1(refined) + `gan_weight` x the hinge generator loss."""
from __future__ import annotations

import torch
from torch import nn

from inpaint.baselines.networks import (GatedConfig, GatedGenerator, PatchDiscriminator,
                                        PatchGanConfig, masked_input)
from inpaint.config import GatedConvParams
from inpaint.tensors import known_tensor, to_tensor
from inpaint.training import distributed
from inpaint.training.losses import patch_gan_step
from inpaint.training.trainers.base import InpaintingTrainer, TrainingData


class GatedConvTrainer(InpaintingTrainer):
    """Also the recipe of HiFill (`trainers.hifill`), whose generator has the same
    (coarse, refined) outputs; a subclass names its generator and its checkpoint keys."""
    stage = "train_gatedconv"
    generator_name, generator_key, discriminator_key = (
        "gated generator", "gated_generator", "patch_discriminator")

    def __init__(self, params: GatedConvParams, data: TrainingData,
                 device: torch.device | str = "cpu"):
        self.params, self.data, self.device = params, data, device
        self.net = self.generator(data.resolution).to(device)
        self.discriminator = PatchDiscriminator(
            PatchGanConfig(data.resolution, params.disc_width)).to(device)
        betas = tuple(params.betas)
        self.opt_g = torch.optim.Adam(self.net.parameters(), lr=params.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=params.lr, betas=betas)
        self.modules = {self.generator_key: self.net, self.discriminator_key: self.discriminator}
        self.optimizers = {"adam_g": self.opt_g, "adam_d": self.opt_d}
        # DDP's arithmetic under torchrun (the step calls the networks' methods directly)
        distributed.average_gradients(self.modules.values(), self.optimizers.values())
        self.batch_count = len(data.train)

    def generator(self, resolution: int) -> nn.Module:
        """The generator to train: its forward gives (coarse, refined), `inpaint` the fill."""
        return GatedGenerator(GatedConfig(resolution, self.params.width))

    def examples(self) -> dict:
        x = to_tensor(self.data.val[:1], self.device)
        example = masked_input(x, known_tensor(self.data.eval_masks[:1], self.device))
        return {self.generator_name: (self.net, example),
                "SN-PatchGAN": (self.discriminator, example)}

    def step(self, image: torch.Tensor, known: torch.Tensor) -> dict[str, torch.Tensor]:
        coarse, refined = self.net(masked_input(image, known))
        composite = known * image + (1 - known) * refined
        loss_g, loss_d = patch_gan_step(self.discriminator, self.opt_d, image, composite, known)
        l1 = (coarse - image).abs().mean() + (refined - image).abs().mean()
        loss = l1 + self.params.gan_weight * loss_g
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        return {"loss": loss, "l1": l1, "loss_g": loss_g, "loss_d": loss_d}

    def fill(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        return self.net.inpaint(image, known)

    @property
    def fill_module(self) -> nn.Module:
        return self.net
