"""HiFill (Yi et al. 2020, "Contextual residual aggregation for ultra high-resolution image
inpainting"), rebuilt to be retrained here: its coarse-to-fine generator of light-weight gated
convolutions with the attention transfer module (ATM) in the refinement network.

What the rebuild keeps: light-weight gated convolutions (LWGC: ELU features times a sigmoid
gate whose branch is cheap), with the depth-separable gate (LWGC-DS: a depthwise k x k then a
1 x 1 convolution) in the coarse network and the single-channel gate (LWGC-SC: one gate map
shared by every feature channel) in the refinement network, as in the paper; a coarse
encoder-decoder with dilated convolutions at its bottleneck and a Tanh RGB output; a
refinement network fed with the coarse result pasted into the holes and the mask, an encoder
to a bottleneck whose cells are compared by the attention computing module (cosine
similarity of 3 x 3 patches, softmax with scale 10 over the fully known cells,
`inpaint.nn.attention`), and one set of scores reused by the ATM to fill the hole
cells of the bottleneck and of every finer encoder map, which reach the decoder as skip
connections (known cells are passed on unchanged); the bottleneck grid is HiFill's 32 x 32
cells (512 px / 16) wherever the image is large enough. The same functions serve the contextual
residual aggregation (CRA) upsampler at inference (`inpaint.api.upsampling`), not here.

What it changes: at images smaller than 128 px the grid is R / 4 cells (16 x 16 at 64 px, 8 x 8
at 32 px) rather than 32, so that a cell is never below 4 x 4 pixels; dilation rates (2, 4, 8,
16) are kept while smaller than the map they act on (as in `networks.GatedGenerator`); the
coarse network's layout is Yu et al.'s (as `networks.GatedGenerator`'s) with LWGC-DS layers,
at the input's resolution; the weight initialisation follows `networks.GatedConv2d`
(feature half gain 2.5, see there). What it drops: the parallel dilated convolutions that
HiFill's ATM (after PEN-Net's) applies to each transferred map (here the transferred map is
concatenated as it is), and the ultra-high-resolution pipeline (training at 512 px, the CRA).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from inpaint.baselines.networks import (GATED_DILATIONS, GATED_DOWNSCALE, GATED_FEATURE_GAIN,
                                        PatchDiscriminator, PatchGanConfig, _check_resolution,
                                        masked_input)
from inpaint.nn.attention import attention_scores, known_cells, transfer

HIFILL_GRID = 32  # the bottleneck's cells per side: HiFill's 32 x 32 at 512 px
HIFILL_MIN_CELL = 4  # smallest cell (pixels per side) at small images: grid = R / 4 below 128 px
HIFILL_MAX_MULTIPLIER = 4  # refinement encoder: width x 1, 2, 4, 4, ...


def _normal_(conv: nn.Conv2d, gain: float) -> None:
    fan_in = conv.weight[0].numel()
    with torch.no_grad():
        conv.weight.normal_(0, gain / math.sqrt(fan_in))
        conv.bias.zero_()


class LightGatedConv2d(nn.Module):
    """Light-weight gated convolution (LWGC): ELU(conv_f(x)) * sigmoid(gate(x)).

    gate "ds" (LWGC-DS): a depthwise k x k convolution then a 1 x 1 one, as many gates as
    features; gate "sc" (LWGC-SC): one k x k convolution to a single gate channel, shared by
    every feature channel. `up`: nearest-neighbour upsampling x2 first (HiFill's deconv).
    Initialisation as `networks.GatedConv2d`: feature weights N(0, 2.5^2 / fan_in), gate
    weights N(0, 1 / fan_in), zero biases.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, dilation: int = 1, gate: str = "sc", up: bool = False):
        super().__init__()
        padding = dilation * (kernel_size - 1) // 2
        self.up = up
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation)
        _normal_(self.conv, GATED_FEATURE_GAIN)
        if gate == "ds":
            depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, stride, padding,
                                  dilation, groups=in_channels)
            pointwise = nn.Conv2d(in_channels, out_channels, 1)
            _normal_(depthwise, 1.0)
            _normal_(pointwise, 1.0)
            self.gate = nn.Sequential(depthwise, pointwise)
        elif gate == "sc":
            self.gate = nn.Conv2d(in_channels, 1, kernel_size, stride, padding, dilation)
            _normal_(self.gate, 1.0)
        else:
            raise ValueError(f"gate = {gate!r}: 'ds' or 'sc'")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return F.elu(self.conv(x)) * torch.sigmoid(self.gate(x))


@dataclass(frozen=True)
class HiFillConfig:
    resolution: int = 64
    width: int = 12  # base filters (HiFill's cnum)

    def __post_init__(self) -> None:
        _check_resolution(self.resolution)

    @property
    def grid(self) -> int:
        """Cells per side of the refinement bottleneck (the attention's grid): HiFill's 32,
        or R / 4 at images under 128 px."""
        return min(HIFILL_GRID, self.resolution // HIFILL_MIN_CELL)

    @property
    def levels(self) -> int:
        """Stride-2 layers of the refinement encoder: 4 at 512 px (as HiFill), 2 at 64 px."""
        return int(math.log2(self.resolution // self.grid))

    def channels(self) -> list[int]:
        """Refinement encoder's channels per level, full resolution first."""
        return [self.width * min(2 ** i, HIFILL_MAX_MULTIPLIER) for i in range(self.levels + 1)]

    @property
    def coarse_dilations(self) -> tuple[int, ...]:
        return tuple(d for d in GATED_DILATIONS if d < self.resolution // GATED_DOWNSCALE)

    @property
    def refine_dilations(self) -> tuple[int, ...]:
        return tuple(d for d in GATED_DILATIONS if d < self.grid)


def _coarse_network(cfg: HiFillConfig) -> nn.Sequential:
    """HiFill's coarse network of LWGC-DS: 4 input channels -> RGB in [-1, 1]."""
    c = cfg.width

    def ds(i: int, o: int, k: int = 3, **kw) -> LightGatedConv2d:
        return LightGatedConv2d(i, o, k, gate="ds", **kw)

    return nn.Sequential(
        ds(4, c, 5),
        ds(c, 2 * c, 3, stride=2), ds(2 * c, 2 * c),
        ds(2 * c, 4 * c, 3, stride=2), ds(4 * c, 4 * c), ds(4 * c, 4 * c),
        *[ds(4 * c, 4 * c, 3, dilation=d) for d in cfg.coarse_dilations],
        ds(4 * c, 4 * c), ds(4 * c, 4 * c),
        ds(4 * c, 2 * c, up=True), ds(2 * c, 2 * c),
        ds(2 * c, c, up=True), ds(c, c // 2),
        nn.Conv2d(c // 2, 3, 3, 1, 1), nn.Tanh())  # the output layer is not gated


def attention_transfer(features: torch.Tensor, scores: torch.Tensor,
                       cell_known: torch.Tensor) -> torch.Tensor:
    """HiFill's ATM on one map (N x C x H x W, H a multiple of the grid of `cell_known`,
    N x 1 x h x w): hole cells from the score-weighted known cells, known cells as they are."""
    grid = tuple(cell_known.shape[-2:])
    keep = F.interpolate(cell_known, size=features.shape[-2:], mode="nearest")
    return keep * features + (1 - keep) * transfer(features, scores, grid)


class RefineNetwork(nn.Module):
    """LWGC-SC encoder to the bottleneck grid, dilated convolutions there, attention scores on
    the bottleneck, the ATM on the bottleneck and every finer encoder map, and a decoder that
    concatenates each level's transferred map (skip connections) before its convolution."""

    def __init__(self, cfg: HiFillConfig):
        super().__init__()
        self.cfg = cfg
        ch = cfg.channels()
        self.stem = LightGatedConv2d(4, ch[0], 5)
        self.down = nn.ModuleList(
            nn.Sequential(LightGatedConv2d(ch[i - 1], ch[i], 3, stride=2),
                          LightGatedConv2d(ch[i], ch[i]))
            for i in range(1, len(ch)))
        bottom = ch[-1]
        self.bottleneck = nn.Sequential(
            *[LightGatedConv2d(bottom, bottom, 3, dilation=d) for d in cfg.refine_dilations],
            LightGatedConv2d(bottom, bottom))
        self.merge = LightGatedConv2d(2 * bottom, bottom)  # bottleneck + its transferred copy
        # decoder step from level i + 1 to level i: upsample-conv, then conv over [h, ATM(e_i)]
        self.up = nn.ModuleList(LightGatedConv2d(ch[i + 1], ch[i], up=True)
                                for i in reversed(range(len(ch) - 1)))
        self.fuse = nn.ModuleList(LightGatedConv2d(2 * ch[i], ch[i])
                                  for i in reversed(range(len(ch) - 1)))
        self.out = nn.Sequential(LightGatedConv2d(ch[0], max(ch[0] // 2, 1)),
                                 nn.Conv2d(max(ch[0] // 2, 1), 3, 3, 1, 1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(RGB, attention scores N x L x L over the grid's L cells)."""
        grid = (self.cfg.grid, self.cfg.grid)
        cell_known = known_cells(x[:, 3:], grid)
        encoded = [self.stem(x)]
        for layer in self.down:
            encoded.append(layer(encoded[-1]))
        h = self.bottleneck(encoded.pop())
        scores = attention_scores(h, cell_known)

        h = self.merge(torch.cat([h, attention_transfer(h, scores, cell_known)], 1))
        for up, fuse in zip(self.up, self.fuse):
            skip = attention_transfer(encoded.pop(), scores, cell_known)
            h = fuse(torch.cat([up(h), skip], 1))
        return self.out(h), scores


class HiFillGenerator(nn.Module):
    """Coarse network, then the refinement network fed the coarse output pasted into the holes.

    `forward` returns (coarse, refined): both are trained with the L1 reconstruction loss.
    """

    def __init__(self, cfg: HiFillConfig):
        super().__init__()
        self.cfg = cfg
        self.coarse = _coarse_network(cfg)
        self.refine = RefineNetwork(cfg)

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        damaged, known = x[:, :3], x[:, 3:]
        coarse = self.coarse(x)
        pasted = damaged + coarse * (1 - known)
        refined, scores = self.refine(torch.cat([pasted, known], 1))
        return coarse, refined, scores

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        coarse, refined, _ = self._run(x)
        return coarse, refined

    def inpaint(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        return self.forward(masked_input(image, known))[1]

    def attention(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """The refinement bottleneck's attention scores, N x L x L (L = `cfg.grid` ** 2 cells,
        row-major): row i is how much cell i borrows from each fully known cell."""
        return self._run(masked_input(image, known))[2]


# the names of these networks in model files (`inpaint.pretrained`): HiFill is trained
# against Gated Conv's SN-PatchGAN
NETWORKS = {
    "hifill_generator": (HiFillConfig, HiFillGenerator),
    "hifill_discriminator": (PatchGanConfig, PatchDiscriminator),
}
