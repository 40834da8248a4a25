"""LaMa (Suvorov et al. 2022), retrained as a baseline: the FFC ResNet generator and LaMa's
PatchGAN, one discriminator step then one generator step per batch, on LaMa's own generated
training masks (`lama_masks`: strokes and boxes), not on the training mask pool.

The losses of LaMa's lama-fourier / big-lama configs, images in [-1, 1] (LaMa's in [0, 1]):
- L1 on the known pixels, weight `known_l1_weight` (LaMa: 10; 0 in the holes), as LaMa's
  masked_l1_loss: the mean over all pixels of the weighted absolute error.
- Adversarial: non-saturating logistic loss, weight `adversarial_weight` (LaMa: 10), with
  LaMa's `mask_as_fake_target`: D's fake loss counts the patches of the hole (the mask
  resized to the logit map, nearest) as fake and those of the known region as real; G's loss
  is softplus(-D(output)) on the hole patches only (LaMa's `allow_scale_mask`,
  `extra_mask_weight_for_gen = 0`). R1 on the real images, weighted by `r1_gamma` directly
  (LaMa's gp_coef 0.001, every step, not lazily).
- Feature matching: the mean over D's intermediate maps of the MSE between the maps of the
  output and of the real image, weight `feature_matching_weight` (LaMa: 100, no mask).
- Perceptual, weight `perceptual_weight` (LaMa's ResNet-PL: 30): LaMa takes the sum over levels
  of the MSE between the feature maps of a dilated ResNet-50 trained for ADE20k segmentation,
  whose weights this project cannot have; we use the frozen LPIPS AlexNet relu1-3 features
  (`AlexFeatures`). As ResNet-PL, the inputs are normalised first (LPIPS's scaling layer, as
  ResNet-PL's ImageNet mean and std); unlike it, each feature vector is also scaled to unit
  length over the channels (LPIPS's normalisation), because AlexNet's activations have a
  different scale from the ResNet's, which the weight 30 was tuned to.
D sees the generator's raw output (LaMa's `predicted_image`), not the composite. Adam as LaMa
(betas 0.9, 0.999): the generator at `lr`, the discriminator at `lr` x 0.1 (LaMa: 1e-3, 1e-4).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from inpaint.baselines.lama import LamaConfig, LamaDiscriminator, LamaGenerator, lama_masks
from inpaint.baselines.networks import masked_input
from inpaint.config import LamaParams
from inpaint.tensors import known_tensor, to_tensor
from inpaint.training import distributed
from inpaint.training.loop import take
from inpaint.training.losses import AlexFeatures, r1_penalty
from inpaint.training.trainers.base import InpaintingTrainer, TrainingData

LAMA_D_LR_RATIO = 0.1  # LaMa: generator lr 1e-3, discriminator lr 1e-4


def _patch_mask(hole: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """The hole mask (1 = hole) at the logit map's size (nearest), as LaMa's interpolate_mask."""
    return F.interpolate(hole, size=logits.shape[-2:], mode="nearest")


def lama_discriminator_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor,
                            hole: torch.Tensor) -> torch.Tensor:
    """softplus(-D(real)) + [hole patches: softplus(D(fake)), known patches: softplus(-D(fake))]
    (LaMa's NonSaturatingWithR1 with mask_as_fake_target), means over patches and batch."""
    mask = _patch_mask(hole, logits_fake)
    fake = mask * F.softplus(logits_fake) + (1 - mask) * F.softplus(-logits_fake)
    return F.softplus(-logits_real).mean() + fake.mean()


def lama_generator_loss(logits_fake: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """softplus(-D(output)) on the hole patches (mean over all patches, as LaMa)."""
    return (_patch_mask(hole, logits_fake) * F.softplus(-logits_fake)).mean()


def feature_matching_loss(fake: list[torch.Tensor], real: list[torch.Tensor]) -> torch.Tensor:
    """LaMa's feature_matching_loss: the mean over D's layers of the features' MSE."""
    return torch.stack([F.mse_loss(f, r) for f, r in zip(fake, real)]).mean()


def _unit(features: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Each feature vector scaled to unit length over the channels (LPIPS's normalize_tensor)."""
    return features / (features.square().sum(1, keepdim=True).sqrt() + eps)


def perceptual_loss(features: AlexFeatures, output: torch.Tensor,
                    target: torch.Tensor) -> torch.Tensor:
    """ResNet-PL with AlexNet: the sum over relu1-3 of the MSE of unit-normalised features."""
    with torch.no_grad():
        target_features = features(target)
    return sum(F.mse_loss(_unit(f), _unit(t))
               for f, t in zip(features(output), target_features))


class LamaTrainer(InpaintingTrainer):
    stage = "train_lama"

    def __init__(self, params: LamaParams, data: TrainingData, features: AlexFeatures,
                 device: torch.device | str = "cpu"):
        self.params, self.data, self.device = params, data, device
        self.features = features.to(device)
        cfg = LamaConfig(data.resolution, params.width, params.blocks,
                         disc_width=params.disc_width)
        self.net = LamaGenerator(cfg).to(device)
        self.discriminator = LamaDiscriminator(cfg).to(device)
        betas = tuple(params.betas)
        self.opt_g = torch.optim.Adam(self.net.parameters(), lr=params.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(),
                                      lr=params.lr * LAMA_D_LR_RATIO, betas=betas)
        self.modules = {"lama_generator": self.net, "lama_discriminator": self.discriminator}
        self.optimizers = {"adam_g": self.opt_g, "adam_d": self.opt_d}
        # DDP's arithmetic under torchrun (the step calls the networks' methods directly)
        distributed.average_gradients(self.modules.values(), self.optimizers.values())
        self.batch_count = len(data.train)

    def draw(self, index: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, ...]:
        """Training images with LaMa's generated masks (not the mask pool), drawn for the whole
        global batch from `rng`, then this process's share."""
        x = to_tensor(take(self.data.train, distributed.shard(index)), self.device)
        known = distributed.shard(lama_masks(len(index), self.data.resolution, rng))
        return x, known.to(self.device)

    def examples(self) -> dict:
        x = to_tensor(self.data.val[:1], self.device)
        known = known_tensor(self.data.eval_masks[:1], self.device)
        return {"LaMa FFC generator": (self.net, masked_input(x, known)),
                "LaMa PatchGAN": (self.discriminator, x),
                "loss AlexNet relu1-3": (self.features, x)}

    def step(self, image: torch.Tensor, known: torch.Tensor) -> dict[str, torch.Tensor]:
        p = self.params
        hole = 1 - known
        output = self.net.inpaint(image, known)

        # discriminator: logistic loss with the masked fake target, R1 on the real images
        logits_real, r1 = r1_penalty(self.discriminator, image)
        logits_fake = self.discriminator(output.detach())
        loss_d = lama_discriminator_loss(logits_real, logits_fake, hole) + p.r1_gamma * r1
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        # generator
        self.discriminator.requires_grad_(False)  # no D weight gradients in G's step
        logits, fake_features = self.discriminator.features(output)
        with torch.no_grad():
            _, real_features = self.discriminator.features(image)
        self.discriminator.requires_grad_(True)
        terms = {"l1_known": (known * (output - image).abs()).mean(),
                 "adversarial": lama_generator_loss(logits, hole),
                 "feature_matching": feature_matching_loss(fake_features, real_features),
                 "perceptual": perceptual_loss(self.features, output, image)}
        loss = (p.known_l1_weight * terms["l1_known"] + p.adversarial_weight * terms["adversarial"]
                + p.feature_matching_weight * terms["feature_matching"]
                + p.perceptual_weight * terms["perceptual"])
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        with torch.no_grad():
            l1_hole = (hole * (output - image).abs()).mean()
        return {"loss": loss, **terms, "l1_hole": l1_hole, "loss_d": loss_d.detach(),
                "r1": r1.detach()}

    def fill(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        return self.net.inpaint(image, known)

    @property
    def fill_module(self) -> nn.Module:
        return self.net
