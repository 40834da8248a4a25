"""The DCGAN of the paper's stage 1b, in E_R's feature-map space (`space='feature'`: E_R and
Dec frozen, D tells E_R(I) from G(z)), or on the images (`space='pixel'`: the Figure 6
ablation, the same recipe and budget). Losses: `training.losses.gan_step`.

What D sees as real is computed once, before training (E_R is frozen): the maps E_R(I) of every
training image and, with `gan.flip`, of its mirror image too, one of the two drawn per image
and step, so an epoch costs only G and D.
Validation per epoch: a diversity ratio (mean pairwise L1 between 64 decoded samples over the
same for 64 real validation images: near 1 is diverse, near 0 is mode collapse); every
`gan.fid_every` epochs (and after the last), the FID of `gan.fid_samples` decoded samples
(fixed codes) against as many validation images, never the test images. Early stopping on
that FID keeps the networks of the best one.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from inpaint.config import GanParams
from inpaint.evaluation.metrics import MetricContext, fid_from_features, inception_features
from inpaint.evaluation.scoring import pairwise_l1
from inpaint.paper.networks import Discriminator, GanConfig, Generator
from inpaint.tensors import to_tensor, to_uint8
from inpaint.training import distributed
from inpaint.training.losses import gan_step
from inpaint.training.trainers.base import Trainer, TrainingData

SAMPLES = 64  # decoded samples for the diversity ratio and the sample grid


@torch.no_grad()
def real_inputs(images: np.ndarray, encoder: nn.Module | None, device: torch.device,
                flip: bool) -> torch.Tensor:
    """What D sees as real, 1 or 2 (with the mirror images) x N x C x H x W: E_R's maps
    (computed once: E_R is frozen), or the images themselves when `encoder` is None."""
    chunks = [to_tensor(images[i:i + 256], device) for i in range(0, len(images), 256)]
    views = [chunks, [c.flip(-1) for c in chunks]] if flip else [chunks]
    return torch.stack([torch.cat([encoder(c) if encoder is not None else c for c in view])
                        for view in views])


class GanTrainer(Trainer):
    """`encoder` and `decoder` (E_R and Dec, frozen) for the feature space; None for pixels.
    `metrics` (the FID network) is needed on the process that validates."""
    early_stop_metric = "fid"

    def __init__(self, params: GanParams, data: TrainingData, device: torch.device,
                 encoder: nn.Module | None = None, decoder: nn.Module | None = None,
                 metrics: MetricContext | None = None):
        self.params, self.data, self.device, self.decoder = params, data, device, decoder
        self.stage = "train_gan" if encoder is not None else "train_pixel_gan"
        self.reals = real_inputs(data.train, encoder, device, params.flip)
        torch.manual_seed(params.seed)
        self.cfg = GanConfig(size=self.reals.shape[-1], channels=self.reals.shape[2],
                             z_dim=params.z_dim,
                             width=params.width if encoder is not None else params.pixel_width)
        self.generator = Generator(self.cfg).to(device)
        self.discriminator = Discriminator(self.cfg).to(device)
        self.g_view = distributed.wrap(self.generator, device)
        self.d_view = distributed.wrap(self.discriminator, device)
        betas = tuple(params.betas)
        self.optimizers = {
            "adam_g": torch.optim.Adam(self.generator.parameters(), lr=params.lr, betas=betas),
            "adam_d": torch.optim.Adam(self.discriminator.parameters(), lr=params.lr,
                                       betas=betas)}
        self.modules = {"generator": self.generator, "discriminator": self.discriminator}
        self.batch_count = self.reals.shape[1]
        self.fid_count = min(params.fid_samples, len(data.val))
        self.codes = torch.randn(max(SAMPLES, self.fid_count), self.cfg.z_dim,
                                 generator=torch.Generator().manual_seed(params.seed))
        self.real_spread = pairwise_l1(to_tensor(data.val[:SAMPLES], device))
        self.metrics = metrics
        self.val_features = (inception_features(np.asarray(data.val[:self.fid_count]), metrics)
                             if metrics is not None else None)

    def networks(self) -> dict:
        return {"generator": (self.cfg, self.generator),
                "discriminator": (self.cfg, self.discriminator)}

    def examples(self) -> dict:
        return {"G": (self.generator, torch.zeros(1, self.cfg.z_dim, device=self.device)),
                "D": (self.discriminator, self.reals[0, :1])}

    def draw(self, index: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, ...]:
        """Rows `index` of the real inputs, each from a randomly drawn view (plain or
        mirrored), and as many codes z."""
        view = torch.randint(len(self.reals), (len(index),), generator=rng)
        real = self.reals[view.to(self.reals.device), index.to(self.reals.device)]
        real = real[distributed.shard(torch.arange(len(index)))]
        z = distributed.shard(torch.randn(len(index), self.cfg.z_dim, generator=rng))
        return real, z.to(self.device)

    def step(self, real: torch.Tensor, z: torch.Tensor) -> dict[str, torch.Tensor]:
        losses = gan_step(self.g_view, self.d_view, self.optimizers["adam_g"],
                          self.optimizers["adam_d"], real, z)
        return {k: losses[k] for k in ("loss_d", "loss_g", "d_real", "d_fake")}

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        out = self.generator(z.to(self.device))
        return self.decoder(out) if self.decoder is not None else out

    @torch.no_grad()
    def validate(self, epoch: int) -> dict[str, float]:
        self.generator.eval()
        row = {"diversity": pairwise_l1(self.decode(self.codes[:SAMPLES])) / self.real_spread}
        if (epoch + 1) % self.params.fid_every == 0 or epoch + 1 == self.params.epochs:
            samples = np.concatenate([to_uint8(self.decode(z))
                                      for z in self.codes[:self.fid_count].split(256)])
            row["fid"] = fid_from_features(self.val_features,
                                           inception_features(samples, self.metrics))
        self.generator.train()
        return row

    @torch.no_grad()
    def samples(self, count: int = 32) -> np.ndarray:
        """Decoded samples of the first `count` fixed codes."""
        self.generator.eval()
        return to_uint8(self.decode(self.codes[:count]))
