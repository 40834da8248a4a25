"""GAN inversion: a latent code z from a damaged image, three ways.

- learned (the paper): one forward pass of E_z, then I_out = Dec(G(z)); or, beyond the
  paper, with the extended code of `ExtendedInverter` (z and an offset of G's last hidden
  features);
- hybrid (Lahiri et al. 2019): the learned z refined by a few gradient steps on z;
- optimisation (Yeh et al. 2017): gradient steps from a random z.

The refinement objective is the L1 context loss on the known pixels plus a realism prior
`prior_weight * softplus(-D(G(z)))` (the non-saturating, bounded form of log(1 - D(G(z))),
see docs/method.md). Yeh et al. weight the context loss towards the hole border; we weight all
known pixels equally.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from inpaint.paper.networks import NETWORKS, AutoencoderConfig
from inpaint.pretrained import load_networks, read_inpainter_config


def realism_loss(discriminator: nn.Module, feature_maps: torch.Tensor) -> torch.Tensor:
    """-log D(maps) per image, i.e. softplus(-logit): zero when D is sure they are real."""
    return F.softplus(-discriminator(feature_maps))


class GanInverter(nn.Module):
    """E_z, G, D and Dec together: damaged image + known-mask -> inpainted image, in [-1, 1]."""

    def __init__(self, inversion_encoder: nn.Module, generator: nn.Module,
                 decoder: nn.Module, discriminator: nn.Module, hole_fill: float):
        super().__init__()
        self.inversion_encoder, self.generator = inversion_encoder, generator
        self.decoder, self.discriminator = decoder, discriminator
        self.hole_fill = hole_fill

    @classmethod
    def from_folder(cls, folder: str | Path, device: torch.device | str = "cpu") -> "GanInverter":
        """The exported model folder written by the `train_inversion` stage."""
        config = read_inpainter_config(folder)
        nets = load_networks(Path(folder) / "weights.pt", NETWORKS, device=device)
        if "extended_inversion_encoder" in nets:
            model = ExtendedInverter(nets["extended_inversion_encoder"], nets["generator"],
                                     nets["decoder"], nets["discriminator"], config["hole_fill"])
        else:
            model = GanInverter(nets["inversion_encoder"], nets["generator"], nets["decoder"],
                                nets["discriminator"], config["hole_fill"])
        return model.eval().requires_grad_(False)

    @property
    def resolution(self) -> int:
        return self.inversion_encoder.cfg.resolution

    @property
    def z_dim(self) -> int:
        return self.generator.cfg.z_dim

    def damaged(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """I_M: known pixels kept, holes set to `hole_fill` (0 = mid-grey in [-1, 1])."""
        return image * known + self.hole_fill * (1 - known)

    def encoder_input(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """What E_z sees: I_M, with the known-mask as a 4th channel when its config says so."""
        damaged = self.damaged(image, known)
        if self.inversion_encoder.cfg.mask_input:
            return torch.cat([damaged, known], dim=1)
        return damaged

    def encode(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        return self.inversion_encoder(self.encoder_input(image, known))

    def render(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.generator(z))

    def networks(self) -> dict[str, tuple[object, nn.Module]]:
        """{name: (config, module)} as `pretrained.export_inpainter` takes them."""
        return {"inversion_encoder": (self.inversion_encoder.cfg, self.inversion_encoder),
                **self._prior_networks()}

    def _prior_networks(self) -> dict[str, tuple[object, nn.Module]]:
        decoder_cfg = AutoencoderConfig(resolution=self.resolution)
        return {"generator": (self.generator.cfg, self.generator),
                "discriminator": (self.generator.cfg, self.discriminator),
                "decoder": (decoder_cfg, self.decoder)}

    def forward(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        return self.render(self.encode(image, known))


class ExtendedInverter(GanInverter):
    """The inpainter with the extended code (beyond the paper, after Yu et al. 2022's F&W+
    codes for StyleGAN): E_z (`ExtendedInversionEncoder`, which sees the known-mask) predicts
    z and an offset of G's last hidden features (res/8 x res/8), and the output is
    Dec(G.output(G.hidden(z) + offset)). The offset is gated by the share of known pixels
    under each feature cell, so that inside a hole the features are G's own from z: the prior
    fills the hole, and the offset corrects what the known pixels show (colour, detail) that z
    cannot represent. Trained with `feature_regulariser` on the offset."""

    def encode(self, image: torch.Tensor,
               known: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z, offset = self.inversion_encoder(self.encoder_input(image, known))
        return z, offset * self.gate(known)

    def gate(self, known: torch.Tensor) -> torch.Tensor:
        """The share of known pixels under each cell of G's last hidden features."""
        return F.adaptive_avg_pool2d(known, self.inversion_encoder.cfg.feature_size)

    def render_extended(self, z: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.generator.output(self.generator.hidden(z) + offset))

    def forward(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        return self.render_extended(*self.encode(image, known))

    def networks(self) -> dict[str, tuple[object, nn.Module]]:
        return {"extended_inversion_encoder": (self.inversion_encoder.cfg,
                                               self.inversion_encoder),
                **self._prior_networks()}


def feature_regulariser(features: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
    """Mean squared distance of G's hidden features as the extended code sets them from G's
    own features for the same z: zero when the extended code adds nothing to z."""
    return (features - own).pow(2).mean()


def refine(model: GanInverter, image: torch.Tensor, known: torch.Tensor, z: torch.Tensor,
           steps: int, lr: float = 0.03, prior_weight: float = 0.003) -> torch.Tensor:
    """`steps` Adam steps on z against the known pixels, with the realism prior."""
    z = z.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    known_count = known.flatten(1).sum(1).clamp_min(1.0) * image.shape[1]
    for _ in range(steps):
        maps = model.generator(z)
        context = ((model.decoder(maps) - image).abs() * known).flatten(1).sum(1) / known_count
        loss = (context + prior_weight * realism_loss(model.discriminator, maps)).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return z.detach()


def learned_inversion(model: GanInverter, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(image, known)


def hybrid_inversion(model: GanInverter, image: torch.Tensor, known: torch.Tensor,
                     steps: int) -> torch.Tensor:
    with torch.no_grad():
        z = model.encode(image, known)
    z = refine(model, image, known, z, steps)
    with torch.no_grad():
        return model.render(z)


def optimisation_inversion(model: GanInverter, image: torch.Tensor, known: torch.Tensor,
                           steps: int, generator: torch.Generator) -> torch.Tensor:
    z = torch.randn(image.shape[0], model.z_dim, generator=generator).to(image.device)
    z = refine(model, image, known, z, steps)
    with torch.no_grad():
        return model.render(z)
