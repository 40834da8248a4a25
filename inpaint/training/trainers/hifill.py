"""HiFill (Yi et al. 2020), retrained as a baseline: the coarse-to-fine generator of light-weight
gated convolutions with attention transfer, and an SN-PatchGAN critic; one discriminator step
then one generator step per batch; L_G = L1(coarse) + L1(refined) + `gan_weight` x the hinge
generator loss.

HiFill's code trains a WGAN-GP (local + global) critic; we use the SN-PatchGAN with the hinge
loss that the Gated Conv baseline already trains (`networks.PatchDiscriminator`): one D step
per G step and no gradient penalty (WGAN-GP wants several critic steps per generator step and
a double backward), and a discriminator known to work at this budget. HiFill weights its
adversarial term far below the reconstruction; `gan_weight` (0.1 by default) keeps it small
next to L1.
"""
from __future__ import annotations

import torch
from torch import nn

from inpaint.baselines.hifill import HiFillConfig, HiFillGenerator
from inpaint.baselines.networks import PatchDiscriminator, PatchGanConfig, masked_input
from inpaint.config import HiFillParams
from inpaint.tensors import known_tensor, to_tensor
from inpaint.training import distributed
from inpaint.training.losses import patch_gan_step
from inpaint.training.trainers.base import InpaintingTrainer, TrainingData


class HiFillTrainer(InpaintingTrainer):
    stage = "train_hifill"

    def __init__(self, params: HiFillParams, data: TrainingData,
                 device: torch.device | str = "cpu"):
        self.params, self.data, self.device = params, data, device
        self.net = HiFillGenerator(HiFillConfig(data.resolution, params.width)).to(device)
        self.discriminator = PatchDiscriminator(
            PatchGanConfig(data.resolution, params.disc_width)).to(device)
        betas = tuple(params.betas)
        self.opt_g = torch.optim.Adam(self.net.parameters(), lr=params.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=params.lr, betas=betas)
        self.modules = {"hifill_generator": self.net, "hifill_discriminator": self.discriminator}
        self.optimizers = {"adam_g": self.opt_g, "adam_d": self.opt_d}
        # DDP's arithmetic under torchrun (the step calls the networks' methods directly)
        distributed.average_gradients(self.modules.values(), self.optimizers.values())
        self.batch_count = len(data.train)

    def examples(self) -> dict:
        x = to_tensor(self.data.val[:1], self.device)
        example = masked_input(x, known_tensor(self.data.eval_masks[:1], self.device))
        return {"HiFill generator": (self.net, example),
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
