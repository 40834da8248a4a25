"""CoModGAN (Zhao et al. 2021), retrained as a baseline: the co-modulated generator and
StyleGAN2's residual discriminator, one discriminator step then one generator step per batch.

D: the non-saturating logistic loss on the real image and the composite (known pixels kept, as
CoModGAN), each with the known-mask as a 4th channel, + r1_gamma / 2 x R1 on the real images
(every step: StyleGAN2's lazy regularisation is not needed at this size). G: the logistic
generator loss of D(composite), + `reconstruction_weight` x L1(output, image) (0 = the paper's
adversarial-only objective). z and the synthesis noise are drawn for the global batch from the
epoch's generator in `draw` (or, when `step` is called without them, from the trainer's own
generator seeded params.seed), so training is deterministic and resumes exactly.
"""
from __future__ import annotations

import torch
from torch import nn

from inpaint.baselines.comodgan import (CoModDiscriminator, CoModDiscriminatorConfig,
                                        CoModGanConfig, CoModGenerator)
from inpaint.baselines.networks import masked_input
from inpaint.config import CoModGanParams
from inpaint.tensors import known_tensor, to_tensor
from inpaint.training import distributed
from inpaint.training.losses import (logistic_discriminator_loss, logistic_generator_loss,
                                     r1_penalty)
from inpaint.training.trainers.base import InpaintingTrainer, TrainingData


class CoModGanTrainer(InpaintingTrainer):
    stage = "train_comodgan"

    def __init__(self, params: CoModGanParams, data: TrainingData,
                 device: torch.device | str = "cpu"):
        self.params, self.data, self.device = params, data, device
        torch.manual_seed(params.seed)  # the networks' initial weights
        self.net = CoModGenerator(CoModGanConfig(
            data.resolution, params.width, params.z_dim, params.mapping_layers)).to(device)
        self.discriminator = CoModDiscriminator(
            CoModDiscriminatorConfig(data.resolution, params.disc_width)).to(device)
        betas = tuple(params.betas)
        self.opt_g = torch.optim.Adam(self.net.parameters(), lr=params.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=params.lr, betas=betas)
        self.modules = {"comodgan_generator": self.net,
                        "comodgan_discriminator": self.discriminator}
        self.optimizers = {"adam_g": self.opt_g, "adam_d": self.opt_d}
        # DDP's arithmetic under torchrun (the step calls the networks' methods directly)
        distributed.average_gradients(self.modules.values(), self.optimizers.values())
        self.batch_count = len(data.train)
        self.rng = torch.Generator().manual_seed(params.seed)  # for steps given no z, noise

    def examples(self) -> dict:
        x = to_tensor(self.data.val[:1], self.device)
        example = masked_input(x, known_tensor(self.data.eval_masks[:1], self.device))
        return {"CoModGAN generator": (self.net, example),
                "CoModGAN discriminator": (self.discriminator, example)}

    def draw(self, index: torch.Tensor, rng: torch.Generator) -> tuple:
        x, known = super().draw(index, rng)
        z = distributed.shard(torch.randn(len(index), self.params.z_dim, generator=rng))
        noise = [distributed.shard(n) for n in self.net.draw_noise(len(index), rng)]
        return x, known, z, noise

    def step(self, image: torch.Tensor, known: torch.Tensor, z: torch.Tensor | None = None,
             noise: list[torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        if z is None:
            z = torch.randn(len(image), self.params.z_dim, generator=self.rng)
        if noise is None:
            noise = self.net.draw_noise(len(image), self.rng)
        z, noise = z.to(self.device), [n.to(self.device) for n in noise]
        output = self.net(masked_input(image, known), z, noise)
        composite = known * image + (1 - known) * output
        fake = torch.cat([composite, known], 1)

        # D: logistic loss + gamma / 2 x R1 (the gradient with respect to the real image); the
        # real logits of R1's forward pass serve the loss too
        logits_real, r1 = r1_penalty(lambda x: self.discriminator(torch.cat([x, known], 1)),
                                     image)
        loss_d = logistic_discriminator_loss(logits_real, self.discriminator(fake.detach()))
        self.opt_d.zero_grad(set_to_none=True)
        (loss_d + self.params.r1_gamma / 2 * r1).backward()
        self.opt_d.step()

        # G: logistic loss of D(composite), D frozen, + the optional L1 reconstruction term
        self.discriminator.requires_grad_(False)
        loss_g = logistic_generator_loss(self.discriminator(fake))
        self.discriminator.requires_grad_(True)
        l1 = (output - image).abs().mean()
        loss = loss_g + self.params.reconstruction_weight * l1
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        return {"loss": loss.detach(), "loss_g": loss_g.detach(), "loss_d": loss_d.detach(),
                "r1": r1.detach(), "l1": l1.detach(),
                "d_real": torch.sigmoid(logits_real).mean().detach()}

    def fill(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        return self.net.inpaint(image, known)

    @property
    def fill_module(self) -> nn.Module:
        return self.net
