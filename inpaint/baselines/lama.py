"""LaMa (Suvorov et al. 2022, "Resolution-robust large mask inpainting with Fourier
convolutions"), rebuilt to be retrained: the FFC ResNet generator (LaMa-Fourier / Big LaMa),
LaMa's PatchGAN discriminator and LaMa's training-mask generator.

What the rebuild keeps (after LaMa's code, `saicinpainting/training/modules/ffc.py`,
`pix2pixhd.py` and `data/masks.py`): fast Fourier convolutions (`FFC`: channels split into a
local and a global part by `ratio_gin` / `ratio_gout`; local->local, local->global and
global->local 3x3 convolutions, global->global `SpectralTransform` = 1x1 conv halving the
channels + BN + ReLU, a `FourierUnit` (real 2-D FFT over H and W, real and imaginary parts
stacked as channels, 1x1 conv + BN + ReLU, inverse FFT, "ortho" norm), residual add, 1x1 conv
out); `FFC_BN_ACT` (BN and ReLU on each branch); `FFCResnetBlock` (two FFC_BN_ACT, residual);
`LamaGenerator` = LaMa's FFCResNetGenerator: reflection pad + 7x7 conv on the 4-channel masked
input, three stride-2 3x3 downsamplings (BN + ReLU; channels width x 1, 2, 4, 8, LaMa's
64 -> 512; the last one already splits its output 0.25 local / 0.75 global as LaMa), `blocks`
FFC ResNet blocks at 0.75 global (LaMa-Fourier: 9), the two branches concatenated, three
stride-2 transposed 3x3 convolutions (BN + ReLU), reflection pad + 7x7 conv to RGB. Reflect
padding in every FFC's 3x3 convs (LaMa's FFC default `padding_type='reflect'`), including the
downsamplings. Bias-free convolutions before BN, as LaMa's.
`LamaDiscriminator` = LaMa's NLayerDiscriminator: 4x4 convs with padding 2, the first stride 2
with LeakyReLU 0.2, then stride-2 convs with BN + LeakyReLU (channels doubling up to 8x the
width, LaMa's 64 -> 512), one stride-1 conv with BN + LeakyReLU and a stride-1 conv to one
logit per patch; it sees the image alone (3 channels), as LaMa's; `features` also returns
every intermediate map (for the feature-matching loss).
`lama_masks`: LaMa's "thick" and "medium" irregular strokes (random polylines of thick
round-capped segments) and its random boxes.

What is changed, and why:
- Output activation: tanh instead of LaMa's sigmoid, because our images are in [-1, 1]
  (LaMa's in [0, 1]); the same function up to an affine map.
- The local Fourier unit (LaMa's `enable_lfu`) is not built: Big LaMa and LaMa-Fourier train
  with `enable_lfu: False`.
- Downsampling depth: LaMa's three stride-2 layers at 256 px leave a 32 px bottleneck; we keep
  three while the bottleneck stays at least 4 px (8 px at 64 px, 4 px at 32 px), fewer below.
- Discriminator depth: LaMa's `n_layers = 4` at 256 px (four stride-2 convs, receptive field
  142 px = 55 % of the image). We keep that ratio: `n_layers = log2(resolution) - 4`, between
  1 and 4 (2 at 64 px: receptive field 34 px; 1 at 32 px: 16 px; 4 from 256 px up).
- Width: channels are a param (`width`; LaMa: 64) so that training fits our CPU budget.
- Masks: LaMa's sizes (given for 256 px) scaled by resolution / 256; the hole ratio of a mask
  is capped at `LAMA_MAX_HOLE` (redrawn above it), so that some context is always known.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from inpaint.baselines.networks import _check_resolution, masked_input

LAMA_DOWNSAMPLINGS = 3  # LaMa's stride-2 layers at 256 px
LAMA_MIN_BOTTLENECK = 4  # fewer downsamplings where three would leave a smaller map
LAMA_MAX_MULTIPLIER = 8  # LaMa: ngf 64 doubled up to 512
LAMA_DISC_LAYERS = 4  # LaMa's NLayerDiscriminator n_layers at 256 px
LAMA_MAX_HOLE = 0.6  # the largest hole fraction of a training mask


# ---------------------------------------------------------------- fast Fourier convolution

class FourierUnit(nn.Module):
    """LaMa's FourierUnit: rfft2 over (H, W) ("ortho"), real and imaginary parts as 2C channels,
    1x1 conv + BN + ReLU in the frequency domain, irfft2 back to H x W. Every output pixel
    depends on every input pixel (a global receptive field in one layer)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(2 * in_channels, 2 * out_channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(2 * out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        spectrum = torch.fft.rfft2(x.float(), norm="ortho")  # N x C x H x (W/2 + 1)
        # (real, imag) of channel i at channels 2i and 2i + 1, as LaMa's permute/view
        stacked = torch.stack([spectrum.real, spectrum.imag], 2).flatten(1, 2)
        y = F.relu(self.bn(self.conv(stacked.to(x.dtype))))
        real, imag = y.float().unflatten(1, (-1, 2)).unbind(2)
        return torch.fft.irfft2(torch.complex(real, imag), s=(h, w), norm="ortho").to(x.dtype)


class SpectralTransform(nn.Module):
    """LaMa's global->global branch: 1x1 conv to out/2 channels + BN + ReLU, a FourierUnit,
    residual add, 1x1 conv to `out_channels` (stride 1; LaMa's local Fourier unit dropped)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        half = out_channels // 2
        self.conv1 = nn.Sequential(nn.Conv2d(in_channels, half, 1, bias=False),
                                   nn.BatchNorm2d(half), nn.ReLU(inplace=True))
        self.fu = FourierUnit(half, half)
        self.conv2 = nn.Conv2d(half, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        return self.conv2(x + self.fu(x))


Pair = tuple[torch.Tensor, torch.Tensor | None]  # (local, global); global None when 0 channels


class FFC(nn.Module):
    """Fast Fourier convolution: out_local = l2l(x_l) + g2l(x_g), out_global = l2g(x_l) +
    g2g(x_g), with `ratio_gin` / `ratio_gout` of the channels global; branches with no input or
    output channels are absent (LaMa's Identity modules)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 ratio_gin: float, ratio_gout: float, stride: int = 1, padding: int = 0,
                 padding_mode: str = "zeros"):
        super().__init__()
        in_cg = int(in_channels * ratio_gin)
        in_cl = in_channels - in_cg
        out_cg = int(out_channels * ratio_gout)
        out_cl = out_channels - out_cg
        self.out_cl, self.out_cg = out_cl, out_cg

        def conv(cin: int, cout: int) -> nn.Module | None:
            if cin == 0 or cout == 0:
                return None
            return nn.Conv2d(cin, cout, kernel_size, stride, padding, bias=False,
                             padding_mode=padding_mode)

        self.convl2l, self.convl2g = conv(in_cl, out_cl), conv(in_cl, out_cg)
        self.convg2l = conv(in_cg, out_cl)
        self.convg2g = (SpectralTransform(in_cg, out_cg) if in_cg and out_cg else None)
        if self.convg2g is not None and stride != 1:
            raise ValueError("a strided global->global branch is not built (LaMa's uses none)")

    def forward(self, x: Pair) -> Pair:
        x_l, x_g = x
        out_l = out_g = None
        for branch, inp, is_local in ((self.convl2l, x_l, True), (self.convg2l, x_g, True),
                                      (self.convl2g, x_l, False), (self.convg2g, x_g, False)):
            if branch is None or inp is None:
                continue
            y = branch(inp)
            if is_local:
                out_l = y if out_l is None else out_l + y
            else:
                out_g = y if out_g is None else out_g + y
        return out_l, out_g


class FFC_BN_ACT(nn.Module):  # noqa: N801 (LaMa's name)
    """An FFC, then BatchNorm and ReLU on each of its two outputs."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 ratio_gin: float, ratio_gout: float, stride: int = 1, padding: int = 0,
                 padding_mode: str = "zeros"):
        super().__init__()
        self.ffc = FFC(in_channels, out_channels, kernel_size, ratio_gin, ratio_gout, stride,
                       padding, padding_mode)
        self.bn_l = nn.BatchNorm2d(self.ffc.out_cl) if self.ffc.out_cl else None
        self.bn_g = nn.BatchNorm2d(self.ffc.out_cg) if self.ffc.out_cg else None

    def forward(self, x: Pair) -> Pair:
        x_l, x_g = self.ffc(x)
        if x_l is not None:
            x_l = F.relu(self.bn_l(x_l))
        if x_g is not None:
            x_g = F.relu(self.bn_g(x_g))
        return x_l, x_g


class FFCResnetBlock(nn.Module):
    """Two 3x3 FFC_BN_ACT (reflect padding) with a residual on each branch."""

    def __init__(self, channels: int, ratio: float):
        super().__init__()
        self.conv1 = FFC_BN_ACT(channels, channels, 3, ratio, ratio, padding=1,
                                padding_mode="reflect")
        self.conv2 = FFC_BN_ACT(channels, channels, 3, ratio, ratio, padding=1,
                                padding_mode="reflect")

    def forward(self, x: Pair) -> Pair:
        x_l, x_g = self.conv2(self.conv1(x))
        return x[0] + x_l, x[1] + x_g


# ---------------------------------------------------------------- generator

@dataclass(frozen=True)
class LamaConfig:
    resolution: int = 64
    width: int = 16  # first-layer filters (LaMa's ngf: 64)
    blocks: int = 9  # FFC ResNet blocks at the bottleneck (LaMa-Fourier: 9, Big LaMa: 18)
    ratio_global: float = 0.75  # global share of the bottleneck's channels (LaMa: 0.75)
    disc_width: int = 16  # the discriminator's first-layer filters (LaMa's ndf: 64)

    def __post_init__(self) -> None:
        _check_resolution(self.resolution)
        if not 0 < self.ratio_global < 1:
            raise ValueError(f"ratio_global = {self.ratio_global}: must be in (0, 1)")

    @property
    def downsamplings(self) -> int:
        """LaMa's three stride-2 layers, fewer where the bottleneck would be under 4 px."""
        return min(LAMA_DOWNSAMPLINGS,
                   int(math.log2(self.resolution // LAMA_MIN_BOTTLENECK)))

    def channels(self) -> list[int]:
        """Channels at each level, the image resolution's first."""
        return [self.width * min(2 ** i, LAMA_MAX_MULTIPLIER)
                for i in range(self.downsamplings + 1)]

    @property
    def disc_layers(self) -> int:
        """LaMa's n_layers (4 at 256 px), one fewer per halving of the resolution, at least 1:
        the discriminator's receptive field stays about half the image."""
        return max(1, min(LAMA_DISC_LAYERS, int(math.log2(self.resolution)) - 4))


class LamaGenerator(nn.Module):
    """LaMa's FFCResNetGenerator (see the module docstring); input `masked_input(image, known)`,
    output RGB in [-1, 1] (tanh)."""

    def __init__(self, cfg: LamaConfig):
        super().__init__()
        self.cfg = cfg
        channels = cfg.channels()
        ratio = cfg.ratio_global
        self.stem = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(4, channels[0], 7, bias=False),
                                  nn.BatchNorm2d(channels[0]), nn.ReLU(inplace=True))
        self.down = nn.ModuleList(
            FFC_BN_ACT(c_in, c_out, 3, 0.0, ratio if i == cfg.downsamplings - 1 else 0.0,
                       stride=2, padding=1, padding_mode="reflect")
            for i, (c_in, c_out) in enumerate(zip(channels, channels[1:])))
        self.blocks = nn.ModuleList(FFCResnetBlock(channels[-1], ratio)
                                    for _ in range(cfg.blocks))
        up: list[nn.Module] = []
        for c_in, c_out in zip(channels[:0:-1], channels[-2::-1]):
            up += [nn.ConvTranspose2d(c_in, c_out, 3, 2, 1, output_padding=1),
                   nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
        self.up = nn.Sequential(*up)
        self.head = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(channels[0], 3, 7), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h: Pair = (self.stem(x), None)
        for layer in self.down:
            h = layer(h)
        for block in self.blocks:
            h = block(h)
        return self.head(self.up(torch.cat(h, 1)))

    def inpaint(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        return self.forward(masked_input(image, known))


# ---------------------------------------------------------------- discriminator

class LamaDiscriminator(nn.Module):
    """LaMa's NLayerDiscriminator (see the module docstring), built from the generator's config
    (`disc_width`, `disc_layers`). `forward` gives the patch logits (N x 1 x h x w); `features`
    gives them and the intermediate maps (every layer's output but the logits)."""

    def __init__(self, cfg: LamaConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.disc_width
        stages = [nn.Sequential(nn.Conv2d(3, w, 4, 2, 2), nn.LeakyReLU(0.2, inplace=True))]
        channels = w
        for n in range(1, cfg.disc_layers + 1):
            out = w * min(2 ** n, LAMA_MAX_MULTIPLIER)
            stride = 2 if n < cfg.disc_layers else 1
            stages.append(nn.Sequential(nn.Conv2d(channels, out, 4, stride, 2),
                                        nn.BatchNorm2d(out), nn.LeakyReLU(0.2, inplace=True)))
            channels = out
        self.stages = nn.ModuleList(stages)
        self.logits = nn.Conv2d(channels, 1, 4, 1, 2)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        maps = []
        for stage in self.stages:
            x = stage(x)
            maps.append(x)
        return self.logits(x), maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[0]


# ---------------------------------------------------------------- training masks

# LaMa's mask settings at 256 px (configs random_thick_256 / random_medium_256 and Big LaMa's
# training boxes); lengths are scaled by resolution / 256.
LAMA_STROKES = {"thick": {"max_len": 200, "max_width": 100, "min_times": 1, "max_times": 5},
                "medium": {"max_len": 100, "max_width": 50, "min_times": 4, "max_times": 5}}
LAMA_MAX_ANGLE = 4
LAMA_BOXES = {"margin": 10, "min_size": 30, "max_size": 150, "min_times": 1, "max_times": 4}


def _randint(low: int, high: int, rng: torch.Generator) -> int:
    """An integer in [low, high), as numpy's randint."""
    return int(torch.randint(low, max(high, low + 1), (), generator=rng))


def _strokes(size: int, kind: dict, rng: torch.Generator) -> torch.Tensor:
    """LaMa's make_random_irregular_mask: polylines of thick segments (1 = hole)."""
    s = size / 256
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32),
                            torch.arange(size, dtype=torch.float32), indexing="ij")
    hole = torch.zeros(size, size, dtype=torch.bool)
    for i in range(_randint(kind["min_times"], kind["max_times"] + 1, rng)):
        x0, y0 = float(_randint(0, size, rng)), float(_randint(0, size, rng))
        for _ in range(1 + _randint(0, 5, rng)):
            angle = 0.01 + _randint(0, LAMA_MAX_ANGLE, rng)
            if i % 2 == 0:
                angle = 2 * math.pi - angle
            length = s * (10 + _randint(0, kind["max_len"], rng))
            brush = max(1.0, s * (5 + _randint(0, kind["max_width"], rng)))
            x1 = min(max(x0 + length * math.sin(angle), 0.0), size - 1.0)
            y1 = min(max(y0 + length * math.cos(angle), 0.0), size - 1.0)
            # pixels within brush / 2 of the segment (round caps, like cv2's thick lines)
            dx, dy = x1 - x0, y1 - y0
            t = ((xs - x0) * dx + (ys - y0) * dy) / max(dx * dx + dy * dy, 1e-6)
            t = t.clamp(0, 1)
            dist2 = (xs - x0 - t * dx) ** 2 + (ys - y0 - t * dy) ** 2
            hole |= dist2 <= (brush / 2) ** 2
            x0, y0 = x1, y1
    return hole


def _boxes(size: int, rng: torch.Generator) -> torch.Tensor:
    """LaMa's make_random_rectangle_mask (1 = hole)."""
    s = size / 256
    margin = int(round(LAMA_BOXES["margin"] * s))
    min_size = max(1, int(round(LAMA_BOXES["min_size"] * s)))
    max_size = min(int(round(LAMA_BOXES["max_size"] * s)), size - 2 * margin)
    hole = torch.zeros(size, size, dtype=torch.bool)
    for _ in range(_randint(LAMA_BOXES["min_times"], LAMA_BOXES["max_times"] + 1, rng)):
        w, h = _randint(min_size, max_size, rng), _randint(min_size, max_size, rng)
        x = _randint(margin, size - margin - w + 1, rng)
        y = _randint(margin, size - margin - h + 1, rng)
        hole[y:y + h, x:x + w] = True
    return hole


def lama_mask(resolution: int, rng: torch.Generator) -> torch.Tensor:
    """One LaMa training mask (H x W, 1 = known): thick strokes, medium strokes or boxes, chosen
    uniformly; redrawn while more than `LAMA_MAX_HOLE` of it is hole."""
    while True:
        kind = _randint(0, 3, rng)
        hole = (_boxes(resolution, rng) if kind == 2 else
                _strokes(resolution, LAMA_STROKES["thick" if kind == 0 else "medium"], rng))
        if 0 < hole.float().mean() <= LAMA_MAX_HOLE:
            return (~hole).float()


def lama_masks(count: int, resolution: int, rng: torch.Generator) -> torch.Tensor:
    """`count` LaMa training masks, count x 1 x H x W (1 = known), deterministic given `rng`."""
    return torch.stack([lama_mask(resolution, rng) for _ in range(count)])[:, None]


# the names of these networks in model files (`inpaint.pretrained`)
NETWORKS = {
    "lama_generator": (LamaConfig, LamaGenerator),
    "lama_discriminator": (LamaConfig, LamaDiscriminator),
}
