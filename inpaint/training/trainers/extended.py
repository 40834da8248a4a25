"""E_z with the extended code (`ours_extended`, beyond the paper): trained as the paper's E_z
(`trainers.inversion`: L_p + lambda_r L_r, and the same options) through Dec(G.output(
G.hidden(z) + offset)), plus `feature_weight` x the mean squared offset
(`paper.inversion.feature_regulariser`), which keeps the extended code near what z alone gives
where the known pixels do not ask for more. The offset is gated by the known share of each
feature cell (`ExtendedInverter.gate`), so no gradient asks it to copy the grey hole.

G and Dec, when tuned, are called through their methods (`hidden`, `output`) rather than
`forward`, which DDP does not hook, so under torchrun their gradients are averaged by
`distributed.average_gradients` instead.
"""
from __future__ import annotations

import torch
from torch import nn

from inpaint.config import ExtendedParams
from inpaint.paper.inversion import ExtendedInverter, feature_regulariser
from inpaint.paper.networks import ExtendedInversionConfig, ExtendedInversionEncoder
from inpaint.training import distributed
from inpaint.training.trainers.base import TrainingData
from inpaint.training.trainers.inversion import InversionTrainer


def build_extended_inverter(params: ExtendedParams, resolution: int,
                            networks: dict[str, nn.Module],
                            device: torch.device) -> ExtendedInverter:
    """A new extended E_z (seeded by `params.seed`) around the trained `generator`,
    `discriminator` and `decoder` of `networks`."""
    torch.manual_seed(params.seed)
    generator = networks["generator"]
    cfg = ExtendedInversionConfig(resolution=resolution, z_dim=generator.cfg.z_dim,
                                  width=params.width, mask_input=params.mask_input,
                                  feature_channels=generator.hidden_channels,
                                  feature_size=generator.cfg.size)
    return ExtendedInverter(ExtendedInversionEncoder(cfg).to(device), generator,
                            networks["decoder"], networks["discriminator"], params.hole_fill)


class ExtendedInversionTrainer(InversionTrainer):
    stage = "train_extended"

    def __init__(self, model: ExtendedInverter, params: ExtendedParams,
                 data: TrainingData | None = None, features: nn.Module | None = None,
                 device: torch.device | str = "cpu"):
        super().__init__(model, params, data, features, device)
        tuned = [key for key in ("adam_g", "adam_dec") if key in self.optimizers]
        distributed.average_gradients(
            [module for name, module in self.modules.items() if name != "inversion_encoder"],
            [self.optimizers[key] for key in tuned])

    def view(self, net: nn.Module) -> nn.Module:
        return net  # called through its methods, its gradients averaged: the module docstring

    def step(self, image: torch.Tensor, known: torch.Tensor) -> dict[str, torch.Tensor]:
        z, offset = self.encoder(self.model.encoder_input(image, known))
        own = self.generator.hidden(z)
        features = own + offset * self.model.gate(known)
        maps = self.generator.output(features)
        regulariser = feature_regulariser(features, own)
        return self.optimise(image, maps, self.decoder(maps),
                             {"l_features": (self.params.feature_weight, regulariser)})

    def examples(self) -> dict:
        examples = super().examples()
        examples["E_z extended"] = examples.pop("E_z")
        return examples
