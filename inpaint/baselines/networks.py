"""The compared systems of the paper's Table 2, rebuilt to be retrained here.

- `PConvUNet`: the partial-convolution U-Net of Liu et al. 2018 ("Image inpainting for
  irregular holes using partial convolutions"), built from `PartialConv2d`.
- `GatedGenerator` and `PatchDiscriminator`: the coarse-to-fine gated-convolution generator
  and SN-PatchGAN of Yu et al. 2019 ("Free-form image inpainting with gated convolution").

What the Gated Conv rebuild keeps: gated convolutions (one convolution with twice the
filters, split into ELU features times a sigmoid gate, as in Yu's code) in every generator
layer but the output one; Yu's coarse network layout (5x5 conv, two stride-2 downsamplings,
dilated 3x3 convolutions, nearest-neighbour upsampling + conv, Tanh output); a refinement
network fed with the coarse result pasted into the holes; SN-PatchGAN (5x5 stride-2 spectral-
normalised convolutions, LeakyReLU, every output element a hinge-loss logit) seeing the
image and the mask. What it drops: the contextual-attention branch of the refinement network
(so the refinement network is Yu's dilated-convolution branch alone, with the coarse
network's layout), the sketch channel and the constant-ones input channel. What it changes:
dilation rates (2, 4, 8, 16) are kept while smaller than the bottleneck map, so 64 px images
use 2, 4, 8; the weight initialisation (see `GatedConv2d`: with the default one the
generator collapsed to a constant image within our few hundred training steps).

All networks take one N x 4 x H x W tensor, `masked_input(image, known)`: the damaged image
(holes = 0) in [-1, 1] and the known-mask (1 = known, 0 = hole) as a fourth channel.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

PCONV_MAX_MULTIPLIER = 8  # Liu et al.: 64 filters doubled up to 512
GATED_DILATIONS = (2, 4, 8, 16)  # Yu et al.'s dilated convolutions at 256 px
GATED_DOWNSCALE = 4  # two stride-2 convolutions before the dilated ones
GATED_FEATURE_GAIN = 2.5  # see GatedConv2d


def _check_resolution(resolution: int) -> None:
    if resolution < 16 or resolution & (resolution - 1):
        raise ValueError(f"resolution = {resolution}: must be a power of two, at least 16")


def masked_input(image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """The networks' input: holes set to 0, the known-mask appended as a fourth channel."""
    return torch.cat([image * known, known], 1)


# ---------------------------------------------------------------- partial convolution U-Net

class PartialConv2d(nn.Module):
    """Partial convolution with mask update (Liu et al. 2018, equations 1-2).

    out = W^T (X * M) * sum(1) / sum(M) + b where sum(M) > 0, else 0; the new mask is 1 where
    the window held any valid input. The mask has one channel (shared by all input channels)
    or one per input channel, as after the U-Net's concatenations; sum(1) counts the window's
    mask entries (channels x k x k), so zero padding counts as holes, as in Liu's code. The
    returned mask has one channel: the update rule gives every output channel the same one.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 bias: bool = True):
        super().__init__()
        # The convolution proper is an nn.Conv2d, so that `flops_per_image` (inpaint.nn) counts it.
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2,
                              bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        conv = self.conv
        with torch.no_grad():  # the mask path is not learned
            window = torch.ones(1, mask.shape[1], *conv.kernel_size, device=x.device,
                                dtype=x.dtype)
            valid = F.conv2d(mask, window, stride=conv.stride, padding=conv.padding)
            new_mask = (valid > 0).to(x.dtype)
            scale = window.numel() / valid.clamp_min(1.0) * new_mask
        out = conv(x * mask) * scale
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1)
        return out * new_mask, new_mask


@dataclass(frozen=True)
class PConvConfig:
    resolution: int = 64
    width: int = 64  # filters of the first layer; Liu et al. use 64

    def __post_init__(self) -> None:
        _check_resolution(self.resolution)

    @property
    def depth(self) -> int:
        """Stride-2 encoder layers down to a 2 x 2 map: 8 at 512 px, as in Liu et al."""
        return int(math.log2(self.resolution)) - 1

    def channels(self) -> list[int]:
        return [self.width * min(2 ** i, PCONV_MAX_MULTIPLIER) for i in range(self.depth)]


class PConvUNet(nn.Module):
    """Liu et al.'s U-Net: stride-2 partial convs (7x7, 5x5, 5x5, then 3x3; BatchNorm after all
    but the first; ReLU), then per level nearest upsampling of features and mask, concatenation
    with the encoder's features and mask of that level (the input image at the top), a 3x3
    partial conv (BatchNorm and LeakyReLU 0.2 except the last, which outputs RGB linearly)."""

    def __init__(self, cfg: PConvConfig):
        super().__init__()
        self.cfg = cfg
        channels = cfg.channels()
        kernels = [7, 5, 5] + [3] * (cfg.depth - 3)
        self.encoder = nn.ModuleList()
        self.encoder_norms = nn.ModuleList()
        in_ch = 3
        for i, (ch, k) in enumerate(zip(channels, kernels)):
            self.encoder.append(PartialConv2d(in_ch, ch, k, stride=2, bias=i == 0))
            self.encoder_norms.append(nn.BatchNorm2d(ch) if i > 0 else nn.Identity())
            in_ch = ch
        # decoder level i restores the resolution of encoder level i - 1 (the image for i = 0)
        skips = [3] + channels[:-1]
        self.decoder = nn.ModuleList()
        self.decoder_norms = nn.ModuleList()
        for i in reversed(range(cfg.depth)):
            out_ch = skips[i] if i > 0 else 3
            self.decoder.append(PartialConv2d(in_ch + skips[i], out_ch, 3, bias=i == 0))
            self.decoder_norms.append(nn.BatchNorm2d(out_ch) if i > 0 else nn.Identity())
            in_ch = out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, mask = x[:, :3], x[:, 3:]
        skips = [(h, mask)]
        for conv, norm in zip(self.encoder, self.encoder_norms):
            h, mask = conv(h, mask)
            h = F.relu(norm(h))
            skips.append((h, mask))
        skips.pop()  # the bottleneck is the decoder's input, not a skip
        for level, (conv, norm) in enumerate(zip(self.decoder, self.decoder_norms)):
            skip, skip_mask = skips.pop()
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            mask = F.interpolate(mask, scale_factor=2, mode="nearest")
            mask = torch.cat([mask.expand(-1, h.shape[1], -1, -1),
                              skip_mask.expand(-1, skip.shape[1], -1, -1)], 1)
            h, mask = conv(torch.cat([h, skip], 1), mask)
            if level < len(self.decoder) - 1:
                h = F.leaky_relu(norm(h), 0.2)
        return h

    def inpaint(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        return self.forward(masked_input(image, known))


# ---------------------------------------------------------------- gated convolution generator

class GatedConv2d(nn.Module):
    """Gated convolution (Yu et al. 2019): ELU(conv_f(x)) * sigmoid(conv_g(x)), the two
    convolutions held as one with twice the filters, as in Yu's code.

    Initialisation: weights N(0, gain^2 / fan_in), gain `GATED_FEATURE_GAIN` for the feature
    half and 1 for the gate half, zero biases. With PyTorch's default init a gated layer
    shrinks its input's scale (ELU times a gate near 0.5): through the 17 layers of a 64 px
    stage the activations' spread fell from 0.4 to 0.02, and within our few hundred steps the
    generator collapsed to one constant image (measured, widths 4 and 8). Gain 2.5 keeps the
    spread roughly constant through a stage (measured at 64 px, widths 4 and 16).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, dilation: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 2 * out_channels, kernel_size, stride,
                              dilation * (kernel_size - 1) // 2, dilation)
        std = 1 / math.sqrt(in_channels * kernel_size ** 2)
        with torch.no_grad():
            self.conv.weight[:out_channels].normal_(0, GATED_FEATURE_GAIN * std)
            self.conv.weight[out_channels:].normal_(0, std)
            self.conv.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, gate = self.conv(x).chunk(2, 1)
        return F.elu(features) * torch.sigmoid(gate)


class GatedUp(GatedConv2d):
    """Yu's `gen_deconv`: nearest-neighbour upsampling x2, then a 3x3 gated convolution."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.interpolate(x, scale_factor=2, mode="nearest"))


@dataclass(frozen=True)
class GatedConfig:
    resolution: int = 64
    width: int = 48  # Yu et al.'s `cnum` (48 in DeepFill v2)

    def __post_init__(self) -> None:
        _check_resolution(self.resolution)

    @property
    def dilations(self) -> tuple[int, ...]:
        """Yu's rates that are smaller than the bottleneck map (a larger one sees padding)."""
        return tuple(d for d in GATED_DILATIONS if d < self.resolution // GATED_DOWNSCALE)


def _gated_stage(cfg: GatedConfig) -> nn.Sequential:
    """Yu's coarse network: 4 input channels -> RGB in [-1, 1] at the same resolution."""
    c = cfg.width
    return nn.Sequential(
        GatedConv2d(4, c, 5),
        GatedConv2d(c, 2 * c, 3, 2), GatedConv2d(2 * c, 2 * c),
        GatedConv2d(2 * c, 4 * c, 3, 2), GatedConv2d(4 * c, 4 * c), GatedConv2d(4 * c, 4 * c),
        *[GatedConv2d(4 * c, 4 * c, 3, dilation=d) for d in cfg.dilations],
        GatedConv2d(4 * c, 4 * c), GatedConv2d(4 * c, 4 * c),
        GatedUp(4 * c, 2 * c), GatedConv2d(2 * c, 2 * c),
        GatedUp(2 * c, c), GatedConv2d(c, c // 2),
        nn.Conv2d(c // 2, 3, 3, 1, 1), nn.Tanh())  # the output layer is not gated (Yu's code)


class GatedGenerator(nn.Module):
    """Coarse network, then a refinement network fed the coarse output pasted into the holes.

    `forward` returns (coarse, refined): both are trained with the L1 reconstruction loss.
    """

    def __init__(self, cfg: GatedConfig):
        super().__init__()
        self.cfg = cfg
        self.coarse, self.refine = _gated_stage(cfg), _gated_stage(cfg)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        damaged, known = x[:, :3], x[:, 3:]
        coarse = self.coarse(x)
        pasted = damaged + coarse * (1 - known)
        return coarse, self.refine(torch.cat([pasted, known], 1))

    def inpaint(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        return self.forward(masked_input(image, known))[1]


@dataclass(frozen=True)
class PatchGanConfig:
    resolution: int = 64
    width: int = 64  # filters of the first layer; Yu et al. use 64

    def __post_init__(self) -> None:
        _check_resolution(self.resolution)

    @property
    def depth(self) -> int:
        """Stride-2 layers down to a 4 x 4 map: Yu's six at 256 px."""
        return int(math.log2(self.resolution)) - 2


class PatchDiscriminator(nn.Module):
    """SN-PatchGAN: 5x5 stride-2 spectral-normalised convs (width x 1, 2, 4, 4, ...), each
    followed by LeakyReLU 0.2 as in Yu's code; every element of the last map is a logit.

    Input: the full image (not hole-zeroed) and the known-mask, 4 channels.
    """

    def __init__(self, cfg: PatchGanConfig):
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        in_ch = 4
        for i in range(cfg.depth):
            ch = cfg.width * min(2 ** i, 4)
            layers += [spectral_norm(nn.Conv2d(in_ch, ch, 5, 2, 2)), nn.LeakyReLU(0.2)]
            in_ch = ch
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)


# the names of these networks in model files (`inpaint.pretrained`)
NETWORKS = {
    "pconv_unet": (PConvConfig, PConvUNet),
    "gated_generator": (GatedConfig, GatedGenerator),
    "patch_discriminator": (PatchGanConfig, PatchDiscriminator),
}
