"""CoModGAN (Zhao et al. 2021, "Large scale image completion via co-modulated generative
adversarial networks"), rebuilt to be retrained here: `CoModGenerator` and `CoModDiscriminator`.

What the rebuild keeps: the conditional encoder of the masked image and mask (stride-2 conv
blocks down to 4 x 4, then flatten + fully connected layer -> the global code); StyleGAN2's
mapping network (z normalised by its second moment, fully connected layers with LeakyReLU, lr
multiplier 0.01); co-modulation (each synthesis layer's style is an affine map of the
concatenated [global code, w]); StyleGAN2's synthesis network from 4 x 4 up to the resolution
with modulated and demodulated 3x3 convolutions, per-pixel noise inputs with learned strengths,
the encoder's feature map of the same resolution added after each block's first (upsampling)
layer, as CoModGAN does, and the skip ("toRGB") output architecture; StyleGAN2's residual
discriminator with a minibatch-standard-deviation layer, seeing the image and the mask;
equalised learning rate in every layer (weights N(0, 1) scaled by 1/sqrt(fan_in) at run time);
LeakyReLU 0.2 with StyleGAN2's sqrt(2) gain.

What it changes, for CPU-scale training: channels are `width` at full resolution, doubling as
the resolution halves up to `COMOD_MAX_MULTIPLIER` x width (CoModGAN: 16384 / resolution, capped
at 512); 2 mapping layers instead of 8, and z, w of 64 dimensions (512); the global code has
2 x z_dim dimensions, as CoModGAN's 1024 for a 512-dimensional w; upsampling is bilinear
interpolation before the modulated convolution and downsampling a stride-2 convolution
(average pooling on the discriminator's residual path) instead of StyleGAN2's transposed
convolution / strided convolution with the [1, 3, 3, 1] FIR filter; the modulation is applied
to the activations (StyleGAN2's `fused_modconv=False` path: x * s, convolution, x * d, the same
arithmetic as scaling the weights) so that one ordinary convolution serves the whole batch.
What it drops: the encoder's dropout on the global code (0.5 in CoModGAN: it needs a random
draw outside the seeded generators), truncation, style mixing, path-length regularisation.

Determinism: the synthesis network's noise inputs are fixed buffers per layer (drawn at init
from a generator seeded 0, saved with the weights) unless fresh noise is passed, as the
trainer does; `inpaint` without z uses `latent(count, 0, ...)`. Given z, the output is a
deterministic function of the inputs, and of each image alone (no batch statistics).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from inpaint.baselines.networks import _check_resolution, masked_input

COMOD_MAX_MULTIPLIER = 8  # channels: width at full resolution, doubled per halving up to 8 x
MAPPING_LR_MUL = 0.01  # StyleGAN2's learning-rate multiplier of the mapping network
LRELU_GAIN = math.sqrt(2)  # StyleGAN2's gain after LeakyReLU 0.2
MBSTD_GROUP = 4  # StyleGAN2's minibatch-stddev group size


def latent(count: int, seed: int, z_dim: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """count x z_dim latents, every row the same z drawn from torch.Generator seeded `seed`, so
    that an image's output does not depend on its batch."""
    z = torch.randn(1, z_dim, generator=torch.Generator().manual_seed(seed))
    return z.expand(count, -1).to(device)


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


class EqualLinear(nn.Module):
    """Fully connected layer with equalised learning rate (and lr multiplier)."""

    def __init__(self, in_features: int, out_features: int, bias_init: float = 0.0,
                 lr_mul: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), bias_init / lr_mul))
        self.scale, self.lr_mul = lr_mul / math.sqrt(in_features), lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class EqualConv2d(nn.Module):
    """Convolution with equalised learning rate; 'same' padding, optional stride."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size,
                                               kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.stride, self.padding = stride, kernel_size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, self.stride, self.padding)


class ModulatedConv2d(nn.Module):
    """StyleGAN2's modulated convolution: per-image input-channel scales s = affine(style)
    (bias initialised to 1), then, with `demodulate`, each output channel divided by the norm
    of its modulated weights. Computed as x * s, conv, * d (StyleGAN2's non-fused path)."""

    def __init__(self, in_channels: int, out_channels: int, style_dim: int, kernel_size: int,
                 demodulate: bool = True, up: bool = False):
        super().__init__()
        self.affine = EqualLinear(style_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size,
                                               kernel_size))
        self.scale = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.demodulate, self.up, self.padding = demodulate, up, kernel_size // 2

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        s = self.affine(style)
        weight = self.weight * self.scale
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = F.conv2d(x * s[:, :, None, None], weight, padding=self.padding)
        if self.demodulate:
            d = torch.rsqrt((weight.square().sum([2, 3])[None] * s.square()[:, None]).sum(2)
                            + 1e-8)
            x = x * d[:, :, None, None]
        return x


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution, + noise x learned strength (initially 0), + bias, LeakyReLU."""

    def __init__(self, in_channels: int, out_channels: int, style_dim: int, up: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, style_dim, 3, up=up)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        x = self.conv(x, style) + noise * self.noise_strength
        return _lrelu(x + self.bias[None, :, None, None])


class ToRGB(nn.Module):
    """Modulated 1x1 convolution to RGB, not demodulated, + bias, no activation."""

    def __init__(self, in_channels: int, style_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, 3, style_dim, 1, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(3))

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.conv(x, style) + self.bias[None, :, None, None]


@dataclass(frozen=True)
class CoModGanConfig:
    resolution: int = 64
    width: int = 16  # channels at full resolution (CoModGAN at 512 px: 32, capped at 512)
    z_dim: int = 64  # dimensions of z and of w (CoModGAN: 512); the global code has 2 x z_dim
    mapping_layers: int = 2  # fully connected layers of the mapping network (CoModGAN: 8)

    def __post_init__(self) -> None:
        _check_resolution(self.resolution)

    @property
    def levels(self) -> list[int]:
        """The resolutions from full down to 4 x 4."""
        return [self.resolution >> i for i in range(int(math.log2(self.resolution)) - 1)]

    def channels(self, res: int) -> int:
        return self.width * min(self.resolution // res, COMOD_MAX_MULTIPLIER)

    @property
    def code_dim(self) -> int:
        return 2 * self.z_dim


class CoModGenerator(nn.Module):
    """Encoder -> global code; mapping z -> w; synthesis modulated by affine([code, w]), with
    the encoder's feature maps added at each resolution. Raw RGB output (no tanh), as StyleGAN2.

    `forward(x, z=None, noise=None)`: x = masked_input(image, known), z N x z_dim (None:
    `latent(N, 0, ...)`), noise a list of N x 1 x r x r tensors (`noise_resolutions`), or None
    for the fixed noise buffers."""

    def __init__(self, cfg: CoModGanConfig):
        super().__init__()
        self.cfg = cfg
        ch, levels = cfg.channels, cfg.levels
        # encoder: fromRGB, then per resolution > 4: conv 3x3, stride-2 conv 3x3 (features kept
        # after the first); at 4 x 4: conv 3x3 (kept), flatten, fully connected -> global code
        self.from_rgb = EqualConv2d(4, ch(cfg.resolution), 1)
        self.encoder = nn.ModuleList(
            nn.ModuleList([EqualConv2d(ch(r), ch(r), 3), EqualConv2d(ch(r), ch(r // 2), 3, 2)])
            for r in levels[:-1])
        self.encoder_out = EqualConv2d(ch(4), ch(4), 3)
        self.to_code = EqualLinear(ch(4) * 16, cfg.code_dim)
        self.mapping = nn.ModuleList(EqualLinear(cfg.z_dim, cfg.z_dim, lr_mul=MAPPING_LR_MUL)
                                     for _ in range(cfg.mapping_layers))
        style_dim = cfg.code_dim + cfg.z_dim
        # synthesis: 4 x 4 conv from the encoder's 4 x 4 map, then per resolution an upsampling
        # layer, the encoder's features added, a second layer; toRGB at every resolution
        self.synthesis = nn.ModuleList([SynthesisLayer(ch(4), ch(4), style_dim)])
        self.to_rgb = nn.ModuleList([ToRGB(ch(4), style_dim)])
        for r in reversed(levels[:-1]):
            self.synthesis.append(SynthesisLayer(ch(r // 2), ch(r), style_dim, up=True))
            self.synthesis.append(SynthesisLayer(ch(r), ch(r), style_dim))
            self.to_rgb.append(ToRGB(ch(r), style_dim))
        generator = torch.Generator().manual_seed(0)
        for i, r in enumerate(self.noise_resolutions):
            self.register_buffer(f"noise_{i}", torch.randn(1, 1, r, r, generator=generator))

    @property
    def noise_resolutions(self) -> list[int]:
        return [4] + [r for r in reversed(self.cfg.levels[:-1]) for _ in range(2)]

    def draw_noise(self, count: int, generator: torch.Generator) -> list[torch.Tensor]:
        """Fresh per-image noise for every synthesis layer (on the CPU)."""
        return [torch.randn(count, 1, r, r, generator=generator) for r in self.noise_resolutions]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        h, features = _lrelu(self.from_rgb(x)), {}
        for conv, down in self.encoder:
            h = _lrelu(conv(h))
            features[h.shape[-1]] = h
            h = _lrelu(down(h))
        h = _lrelu(self.encoder_out(h))
        features[4] = h
        return _lrelu(self.to_code(h.flatten(1))), features

    def map(self, z: torch.Tensor) -> torch.Tensor:
        w = z * torch.rsqrt(z.square().mean(1, keepdim=True) + 1e-8)
        for layer in self.mapping:
            w = _lrelu(layer(w))
        return w

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None,
                noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        if z is None:
            z = latent(len(x), 0, self.cfg.z_dim, x.device)
        code, features = self.encode(x)
        style = torch.cat([code, self.map(z)], 1)  # co-modulation
        if noise is None:
            noise = [getattr(self, f"noise_{i}") for i in range(len(self.synthesis))]
        h = self.synthesis[0](features[4], style, noise[0])
        rgb = self.to_rgb[0](h, style)
        for level, to_rgb in enumerate(self.to_rgb[1:]):
            up, conv = self.synthesis[1 + 2 * level], self.synthesis[2 + 2 * level]
            h = up(h, style, noise[1 + 2 * level])
            h = conv(h + features[h.shape[-1]], style, noise[2 + 2 * level])
            rgb = F.interpolate(rgb, scale_factor=2, mode="bilinear", align_corners=False)
            rgb = rgb + to_rgb(h, style)
        return rgb

    def inpaint(self, image: torch.Tensor, known: torch.Tensor,
                z: torch.Tensor | None = None) -> torch.Tensor:
        """The raw output; z defaults to `latent(N, 0, ...)` (deterministic)."""
        return self.forward(masked_input(image, known), z)


@dataclass(frozen=True)
class CoModDiscriminatorConfig:
    resolution: int = 64
    width: int = 16  # channels at full resolution, doubled per halving up to 8 x

    def __post_init__(self) -> None:
        _check_resolution(self.resolution)

    def channels(self, res: int) -> int:
        return self.width * min(self.resolution // res, COMOD_MAX_MULTIPLIER)


class DiscriminatorBlock(nn.Module):
    """StyleGAN2's residual block: conv 3x3, stride-2 conv 3x3, plus a 2x2 average-pooled,
    1x1-convolved skip, the sum divided by sqrt(2)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = EqualConv2d(in_channels, in_channels, 3)
        self.down = EqualConv2d(in_channels, out_channels, 3, 2)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skip(F.avg_pool2d(x, 2))
        return (_lrelu(self.down(_lrelu(self.conv(x)))) + skip) / math.sqrt(2)


def minibatch_stddev(x: torch.Tensor, group: int = MBSTD_GROUP) -> torch.Tensor:
    """StyleGAN2's layer: one extra channel, the mean over features and pixels of the standard
    deviation within groups of images (the largest group size <= `group` dividing N)."""
    n, c, h, w = x.shape
    g = max(d for d in range(1, min(group, n) + 1) if n % d == 0)
    y = x.reshape(g, n // g, c, h, w)
    y = (y.var(0, unbiased=False) + 1e-8).sqrt().mean([1, 2, 3])  # n // g
    y = y.reshape(1, n // g, 1, 1, 1).expand(g, -1, 1, h, w).reshape(n, 1, h, w)
    return torch.cat([x, y], 1)


class CoModDiscriminator(nn.Module):
    """StyleGAN2's residual discriminator on the image and the known-mask (4 channels): fromRGB,
    residual blocks down to 4 x 4, minibatch stddev, conv 3x3, two fully connected layers.
    Returns one logit per image (N)."""

    def __init__(self, cfg: CoModDiscriminatorConfig):
        super().__init__()
        self.cfg = cfg
        ch = cfg.channels
        levels = [cfg.resolution >> i for i in range(int(math.log2(cfg.resolution)) - 2)]
        self.from_rgb = EqualConv2d(4, ch(cfg.resolution), 1)
        self.blocks = nn.Sequential(*[DiscriminatorBlock(ch(r), ch(r // 2)) for r in levels])
        self.conv = EqualConv2d(ch(4) + 1, ch(4), 3)
        self.fc = EqualLinear(ch(4) * 16, ch(4))
        self.out = EqualLinear(ch(4), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(_lrelu(self.from_rgb(x)))
        h = _lrelu(self.conv(minibatch_stddev(h)))
        return self.out(_lrelu(self.fc(h.flatten(1)))).squeeze(1)


# the names of these networks in model files (`inpaint.pretrained`)
NETWORKS = {
    "comodgan_generator": (CoModGanConfig, CoModGenerator),
    "comodgan_discriminator": (CoModDiscriminatorConfig, CoModDiscriminator),
}
