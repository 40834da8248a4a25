"""The training losses: the DCGAN's (the paper's GAN stage), the retrained baselines' (PConv's
and Gated Conv's) and the feature network behind every perceptual term, in one place so that
the paper's trainers and the baselines' import them without importing each other.

DCGAN: L_D = -log D(real) - log(1 - D(G(z))), L_G = -log D(G(z)), as logit-space BCE.

PConv (Liu et al. 2018, equation 7): L = L_valid + 6 L_hole + 0.05 L_perceptual
+ 120 (L_style_out + L_style_comp) + 0.1 L_tv. Liu et al. take the perceptual and style terms
on ImageNet VGG-16's pool1-pool3; the weights this project has are LPIPS's AlexNet (see
`inpaint.evaluation.weights`), so we use its three shallowest feature levels instead, after
LPIPS's input scaling: relu1 (conv1), relu2 (pool1, conv2) and relu3 (pool2, conv3) for the
perceptual term, relu1 and relu2 for the style term. At 64 px relu3 is a 3 x 3 map: its
384 x 384 Gram matrix holds little texture statistics yet took about half of the loss's time
(profiled), so the style term leaves it out. Each L1 term is a mean over elements, as Liu's
1/N normalisation; Gram matrices are divided by C x H x W.

Gated Conv (Yu et al. 2019, DeepFill v2's defaults): L_G = L1(coarse) + L1(refined)
+ hinge generator loss; L_D = hinge loss of SN-PatchGAN, which sees the composite (known
pixels kept) and the known-mask.
"""
from __future__ import annotations

from typing import Callable

import lpips
import torch
import torch.nn.functional as F
from torch import nn

PCONV_WEIGHTS = {"valid": 1.0, "hole": 6.0, "perceptual": 0.05, "style": 120.0, "tv": 0.1}
STYLE_LEVELS = 2  # relu1, relu2 (see above)


def discriminator_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """The DCGAN discriminator's L_D = -log D(real) - log(1 - D(fake)), as logit-space BCE."""
    return (F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))
            + F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake)))


def discriminator_update(discriminator: nn.Module, optimizer: torch.optim.Optimizer,
                         real: torch.Tensor, fake: torch.Tensor,
                         loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
                         = discriminator_loss) -> tuple[torch.Tensor, ...]:
    """One optimiser step of `discriminator` on loss_fn(D(real), D(fake)), `fake` detached.
    Returns the loss (detached) and the logits of the real and fake inputs."""
    logits_real, logits_fake = discriminator(real), discriminator(fake.detach())
    loss = loss_fn(logits_real, logits_fake)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach(), logits_real, logits_fake


def gan_step(generator: nn.Module, discriminator: nn.Module, opt_g: torch.optim.Optimizer,
             opt_d: torch.optim.Optimizer, real: torch.Tensor, z: torch.Tensor) -> dict:
    """One DCGAN step: D on L_D = -log D(real) - log(1 - D(G(z))), then G on
    L_G = -log D(G(z)), both as logit-space BCE. Returns the losses and D's mean outputs."""
    fake = generator(z)
    loss_d, logits_real, logits_fake = discriminator_update(discriminator, opt_d, real, fake)
    discriminator.requires_grad_(False)  # G's step: D's weight gradients would be unused
    logits = discriminator(fake)
    discriminator.requires_grad_(True)
    loss_g = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return {"loss_d": loss_d, "loss_g": loss_g, "d_real": torch.sigmoid(logits_real).mean(),
            "d_fake": torch.sigmoid(logits_fake).mean()}


class AlexFeatures(nn.Module):
    """relu1-relu3 of a frozen LPIPS AlexNet, for inputs in [-1, 1]."""

    def __init__(self, model: lpips.LPIPS):
        super().__init__()
        self.scaling = model.scaling_layer
        self.slices = nn.ModuleList([model.net.slice1, model.net.slice2, model.net.slice3])
        # frozen; conv, ReLU and max-pool act alike in train and eval mode, so no mode to keep
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h, features = self.scaling(x), []
        for layer in self.slices:
            h = layer(h)
            features.append(h)
        return features


def gram(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix of N x C x H x W features, divided by C x H x W (Liu's K_p)."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w) / (c * h * w) ** 0.5  # scale the smaller operand
    return flat @ flat.transpose(1, 2)


def total_variation(image: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of horizontal and vertical neighbours starting in `region`."""
    dx = (image[..., :, 1:] - image[..., :, :-1]).abs() * region[..., :, :-1]
    dy = (image[..., 1:, :] - image[..., :-1, :]).abs() * region[..., :-1, :]
    return dx.mean() + dy.mean()


def pconv_loss(output: torch.Tensor, target: torch.Tensor, known: torch.Tensor,
               features: AlexFeatures) -> dict[str, torch.Tensor]:
    """Liu et al.'s terms and their weighted sum `loss`; images in [-1, 1], known 1 = known."""
    hole = 1 - known
    composite = known * target + hole * output
    with torch.no_grad():
        target_features = features(target)
    out_features = features(torch.cat([output, composite]))
    perceptual = output.new_zeros(())
    style = output.new_zeros(())
    for level, (f_out, f_target) in enumerate(zip(out_features, target_features)):
        for f in f_out.chunk(2):  # the raw output, then the composite
            perceptual = perceptual + F.l1_loss(f, f_target)
            if level < STYLE_LEVELS:
                style = style + F.l1_loss(gram(f), gram(f_target))
    # Liu's P: the hole region dilated by one pixel
    region = F.max_pool2d(hole, 3, 1, 1)
    terms = {"valid": (known * (output - target)).abs().mean(),
             "hole": (hole * (output - target)).abs().mean(),
             "perceptual": perceptual, "style": style,
             "tv": total_variation(composite, region)}
    terms["loss"] = sum(PCONV_WEIGHTS[k] * v for k, v in terms.items())
    return terms


def hinge_discriminator_loss(logits_real: torch.Tensor,
                             logits_fake: torch.Tensor) -> torch.Tensor:
    return F.relu(1 - logits_real).mean() + F.relu(1 + logits_fake).mean()


def hinge_generator_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    return -logits_fake.mean()


def patch_gan_step(discriminator: nn.Module, optimizer: torch.optim.Optimizer,
                   image: torch.Tensor, composite: torch.Tensor,
                   known: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One hinge step of an SN-PatchGAN on `composite` against `image` (each with the
    known-mask as a 4th channel), then the generator's hinge loss on the same composite with
    D frozen. Returns (generator loss, D's loss, detached)."""
    real, fake = torch.cat([image, known], 1), torch.cat([composite, known], 1)
    loss_d, _, _ = discriminator_update(discriminator, optimizer, real, fake,
                                        hinge_discriminator_loss)
    discriminator.requires_grad_(False)  # the generator step needs no D weight gradients
    loss_g = hinge_generator_loss(discriminator(fake))
    discriminator.requires_grad_(True)
    return loss_g, loss_d


def logistic_discriminator_loss(logits_real: torch.Tensor,
                                logits_fake: torch.Tensor) -> torch.Tensor:
    """StyleGAN2's (and CoModGAN's, LaMa's) non-saturating logistic loss of D:
    softplus(-D(real)) + softplus(D(fake)), means over the batch (and patches)."""
    return F.softplus(-logits_real).mean() + F.softplus(logits_fake).mean()


def logistic_generator_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    """The generator's non-saturating logistic loss: softplus(-D(G(.)))."""
    return F.softplus(-logits_fake).mean()


def r1_penalty(discriminator: Callable[[torch.Tensor], torch.Tensor],
               real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """D's logits of `real` and R1 (Mescheder et al. 2018): the mean over the batch of
    ||grad_x D(x)||^2 at real x, to be weighted (gamma / 2 in StyleGAN2's convention).
    Differentiable with respect to D's weights (create_graph)."""
    real = real.detach().requires_grad_(True)
    # D sees a non-leaf copy: under FlopCounterMode (the budget benchmark) autograd.grad with
    # respect to a leaf that is a module's input fails
    logits = discriminator(real.clone())
    grad, = torch.autograd.grad(logits.sum(), real, create_graph=True)
    return logits, grad.square().flatten(1).sum(1).mean()
