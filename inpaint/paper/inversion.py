"""GAN inversion: a latent code z from a damaged image, three ways.

- learned (the paper): one forward pass of E_z, then I_out = Dec(G(z));
- hybrid (Lahiri et al. 2019): the learned z refined by a few gradient steps on z;
- optimisation (Yeh et al. 2017): gradient steps from a random z.

The refinement objective is the L1 context loss on the known pixels plus a realism prior
`prior_weight * softplus(-D(G(z)))` (the non-saturating, bounded form of log(1 - D(G(z))),
see docs/method.md). Yeh et al. weight the context loss towards the hole border; we weight all
known pixels equally.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from inpaint.baselines.losses import STYLE_LEVELS, gram, patch_gan_step
from inpaint.baselines.networks import PatchDiscriminator, PatchGanConfig
from inpaint.pretrained import load_networks, read_inpainter_config
from inpaint.training.loop import discriminator_update


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
        nets = load_networks(Path(folder) / "weights.pt", device=device)
        model = cls(nets["inversion_encoder"], nets["generator"], nets["decoder"],
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

    def forward(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        return self.render(self.encode(image, known))


class InversionTrainer:
    """One training step of E_z through Dec(G(.)) (the paper's stage 2), and optionally of G.

    Loss: the realism term -log D(G(E_z(I_M))) (if `realism`) + `lambda_r` * L1(output, I),
    its hole pixels weighted `hole_weight` times the known ones (the paper: 1; Liu et al.'s
    PConv: 6), divided by the batch's mean weight so that the term keeps its scale
    + `perceptual_weight` * the L1 distance of `features` of output and I (not in the paper)
    + `style_weight` * the L1 distance of their Gram matrices at relu1-relu2, as PConv's
    style term (not in the paper)
    + `latent_weight` * the mean squared error between z and E_z's code for a sample Dec(G(z)),
    z ~ N(0, I), damaged by the batch's own masks (not in the paper): a target in code space,
    which the image losses do not give, so that E_z learns to invert G where G is exact. The
    samples go through E_z in the same forward pass as the batch (one pass for DDP), so E_z's
    BatchNorm statistics cover both.
    With `generator_lr` > 0, G is tuned with E_z on the same loss, at that learning rate (not
    in the paper, which freezes G): its BatchNorm keeps the GAN's running statistics, and D
    stays frozen. With `decoder_lr` > 0 Dec is tuned the same way (not in the paper): the
    perceptual term can then sharpen the decoder's output of G's maps, which an autoencoder
    trained on L1 alone renders blurred. With `discriminator_lr` > 0 the paper's D keeps
    learning beside E_z (not in the paper, which freezes it): one step per batch of its GAN
    loss, the maps E_R(I) of the true images (`map_encoder`, frozen) as real and E_z's maps
    G(E_z(I_M)) as fake, both in BatchNorm's training mode as in the GAN stage, so that the
    realism term keeps judging E_z's maps instead of going quiet. With `patch_gan_weight` > 0
    an SN-PatchGAN of `patch_gan_width` filters (Gated Conv's discriminator) is trained on
    the composite beside E_z, one hinge step per batch, and its hinge loss enters the loss at
    that weight (not in the paper, whose D judges G's feature maps, not the inpainted image).
    `wrap` gives the view of a trained module that the step calls (`distributed.wrap` under
    torchrun); optimisers hold the modules themselves.
    """

    def __init__(self, model: GanInverter, lr: float, betas: tuple[float, float],
                 lambda_r: float, realism: bool, perceptual_weight: float = 0.0,
                 hole_weight: float = 1.0, style_weight: float = 0.0,
                 features: nn.Module | None = None, generator_lr: float = 0.0,
                 latent_weight: float = 0.0, decoder_lr: float = 0.0,
                 patch_gan_weight: float = 0.0, patch_gan_width: int = 16,
                 discriminator_lr: float = 0.0, map_encoder: nn.Module | None = None,
                 wrap: Callable[[nn.Module], nn.Module] = lambda module: module):
        if (perceptual_weight or style_weight) and features is None:
            raise ValueError("perceptual_weight or style_weight > 0 needs the feature network")
        self.model, self.lambda_r, self.realism = model, lambda_r, realism
        self.perceptual_weight, self.style_weight = perceptual_weight, style_weight
        self.features = features
        self.latent_weight, self.hole_weight = latent_weight, hole_weight
        for net in (model.generator, model.decoder, model.discriminator):
            net.eval().requires_grad_(False)  # BatchNorm on its running statistics
        self.encoder = wrap(model.inversion_encoder)
        self.optimizers = {"adam": torch.optim.Adam(model.inversion_encoder.parameters(),
                                                    lr=lr, betas=betas)}
        self.trained = {"inversion_encoder": model.inversion_encoder}
        self.generator = self._tune(model.generator, "generator", "adam_g", generator_lr,
                                    betas, wrap)
        self.decoder = self._tune(model.decoder, "decoder", "adam_dec", decoder_lr, betas, wrap)
        self.stepped = list(self.optimizers.values())  # the optimisers of the main loss
        self.map_encoder = None
        if discriminator_lr:
            if map_encoder is None:
                raise ValueError("discriminator_lr > 0 needs E_R for the real maps")
            self.map_encoder = map_encoder.eval().requires_grad_(False)
            model.discriminator.train()  # as in the GAN stage; requires_grad only in its step
            self.optimizers["adam_d"] = torch.optim.Adam(model.discriminator.parameters(),
                                                         lr=discriminator_lr, betas=betas)
            self.trained["discriminator"] = model.discriminator
            self.discriminator = wrap(model.discriminator)
        self.patch_gan_weight = patch_gan_weight
        if patch_gan_weight:
            device = next(model.parameters()).device
            net = PatchDiscriminator(PatchGanConfig(model.inversion_encoder.cfg.resolution,
                                                    patch_gan_width)).to(device)
            self.optimizers["adam_patch_d"] = torch.optim.Adam(net.parameters(), lr=lr,
                                                               betas=betas)
            self.trained["patch_discriminator"] = net
            self.patch_discriminator = wrap(net)

    @classmethod
    def from_params(cls, model: GanInverter, params, features: nn.Module | None = None,
                    wrap: Callable[[nn.Module], nn.Module] = lambda module: module,
                    map_encoder: nn.Module | None = None) -> InversionTrainer:
        """The trainer that the `inversion` section of params.yaml describes."""
        options = ("perceptual_weight", "hole_weight", "style_weight", "generator_lr",
                   "latent_weight", "decoder_lr", "patch_gan_weight", "patch_gan_width",
                   "discriminator_lr")
        return cls(model, params.lr, tuple(params.betas), params.lambda_r,
                   params.realism_loss == "nonsaturating", features=features, wrap=wrap,
                   map_encoder=map_encoder, **{name: getattr(params, name) for name in options})

    def _tune(self, net: nn.Module, name: str, optimizer: str, lr: float,
              betas: tuple[float, float], wrap: Callable[[nn.Module], nn.Module]) -> nn.Module:
        """The view of `net` that the step calls: frozen as it is, or trained at `lr` > 0."""
        if lr <= 0:
            return net
        net.requires_grad_(True)  # its BatchNorm, if any, stays on the running statistics
        self.optimizers[optimizer] = torch.optim.Adam(net.parameters(), lr=lr, betas=betas)
        self.trained[name] = net
        return wrap(net)

    def encode_with_samples(self, image: torch.Tensor,
                            known: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """E_z's codes for the batch, and the code-space error on as many damaged samples."""
        with torch.no_grad():
            z = torch.randn(len(image), self.model.z_dim, device=image.device)
            samples = self.model.render(z).clamp(-1, 1)
        inputs = self.model.encoder_input(torch.cat([image, samples]), torch.cat([known, known]))
        codes, sample_codes = self.encoder(inputs).split(len(image))
        return codes, F.mse_loss(sample_codes, z)

    def reconstruction_loss(self, out: torch.Tensor, image: torch.Tensor,
                            known: torch.Tensor) -> torch.Tensor:
        """L_r: the mean L1 error, hole pixels weighted `hole_weight` times the known ones."""
        error = (out - image).abs()
        if self.hole_weight == 1:
            return error.mean()  # the paper's L_r
        weight = known + self.hole_weight * (1 - known)
        return (error * weight).mean() / weight.mean()

    def discriminator_step(self, image: torch.Tensor, fake_maps: torch.Tensor) -> torch.Tensor:
        """One step of the paper's L_D: E_R(I) real, E_z's maps fake; returns L_D."""
        with torch.no_grad():
            real_maps = self.map_encoder(image)
        self.model.discriminator.requires_grad_(True)
        loss, _, _ = discriminator_update(self.discriminator, self.optimizers["adam_d"],
                                          real_maps, fake_maps)
        self.model.discriminator.requires_grad_(False)  # L_p below: no weight gradients
        return loss

    def step(self, image: torch.Tensor, known: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimisation step on a batch; returns the losses (`loss`: the trained one)."""
        terms = {}
        if self.latent_weight:
            codes, terms["l_latent"] = self.encode_with_samples(image, known)
        else:
            codes = self.encoder(self.model.encoder_input(image, known))
        maps = self.generator(codes)
        if self.map_encoder is not None:
            terms["l_d"] = self.discriminator_step(image, maps.detach())
        out = self.decoder(maps)
        terms["l_r"] = self.reconstruction_loss(out, image, known)
        terms["l_p"] = (realism_loss(self.model.discriminator, maps).mean() if self.realism
                        else torch.zeros((), device=image.device))
        loss = terms["l_p"] + self.lambda_r * terms["l_r"]
        if self.latent_weight:
            loss = loss + self.latent_weight * terms["l_latent"]
        if self.perceptual_weight or self.style_weight:
            with torch.no_grad():
                wanted = self.features(image)
            got = self.features(out)
        if self.perceptual_weight:
            terms["l_perceptual"] = sum(F.l1_loss(f, w) for f, w in zip(got, wanted))
            loss = loss + self.perceptual_weight * terms["l_perceptual"]
        if self.style_weight:
            terms["l_style"] = sum(F.l1_loss(gram(f), gram(w))
                                   for f, w in zip(got[:STYLE_LEVELS], wanted[:STYLE_LEVELS]))
            loss = loss + self.style_weight * terms["l_style"]
        if self.patch_gan_weight:
            composite = known * image + (1 - known) * out  # the fill as a user sees it
            terms["l_patch"], terms["patch_d"] = patch_gan_step(
                self.patch_discriminator, self.optimizers["adam_patch_d"], image, composite,
                known)
            loss = loss + self.patch_gan_weight * terms["l_patch"]
        for optimizer in self.stepped:
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for optimizer in self.stepped:
            optimizer.step()
        return {"loss": loss, **terms}


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
