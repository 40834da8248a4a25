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

from torch import nn

from inpaint.baselines.hifill import HiFillConfig, HiFillGenerator
from inpaint.training.trainers.gatedconv import GatedConvTrainer


class HiFillTrainer(GatedConvTrainer):
    """Gated Conv's recipe (`GatedConvTrainer`) with HiFill's generator; its params are
    `config.HiFillParams` (the same keys as Gated Conv's)."""
    stage = "train_hifill"
    generator_name, generator_key, discriminator_key = (
        "HiFill generator", "hifill_generator", "hifill_discriminator")

    def generator(self, resolution: int) -> nn.Module:
        return HiFillGenerator(HiFillConfig(resolution, self.params.width))
