"""The networks of Wang, Song & Zhang (2023), each a small module with its own config.

- `Encoder` (E_R) and `Decoder` (Dec): the autoencoder; a res x res image <-> a
  (res/8) x (res/8) x 16 feature map, exactly the paper's layers.
- `Generator` (G) and `Discriminator` (D): a DCGAN in that feature-map space.
- `InversionEncoder` (E_z): Table 1 of the paper, damaged image -> latent code z.
- The same `Generator` / `Discriminator` with `GanConfig(size=res, channels=3)` are the
  pixel-space DCGAN of the Figure 6 ablation.

Images are float tensors in [-1, 1], NCHW.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

MAP_CHANNELS = 16  # the paper's E_R ends in 16 filters
MAP_DOWNSCALE = 8  # three stride-2 convolutions


def _log2(value: int, what: str) -> int:
    exponent = int(round(math.log2(value)))
    if 2 ** exponent != value:
        raise ValueError(f"{what} = {value}: must be a power of two")
    return exponent


def _init_dcgan(module: nn.Module) -> None:
    """DCGAN initialisation (Radford et al. 2016): N(0, 0.02) weights, BN scale N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


# ---------------------------------------------------------------- autoencoder (E_R, Dec)

@dataclass(frozen=True)
class AutoencoderConfig:
    resolution: int = 64
    widths: tuple[int, int] = (64, 128)  # the paper's hidden filters; the map has 16

    @property
    def map_size(self) -> int:
        return self.resolution // MAP_DOWNSCALE


class Encoder(nn.Module):
    """E_R: three 4x4 stride-2 convolutions, 64/128/16 filters, LeakyReLU, LeakyReLU, Tanh."""

    def __init__(self, cfg: AutoencoderConfig):
        super().__init__()
        w1, w2 = cfg.widths
        self.net = nn.Sequential(
            nn.Conv2d(3, w1, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(w1, w2, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(w2, MAP_CHANNELS, 4, 2, 1), nn.Tanh())

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image)


class Decoder(nn.Module):
    """Dec: three 4x4 stride-2 transposed convolutions, 128/64/3 filters, ReLU, ReLU, Tanh."""

    def __init__(self, cfg: AutoencoderConfig):
        super().__init__()
        w1, w2 = cfg.widths
        self.net = nn.Sequential(
            nn.ConvTranspose2d(MAP_CHANNELS, w2, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(w2, w1, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(w1, 3, 4, 2, 1), nn.Tanh())

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        return self.net(feature_map)


# ---------------------------------------------------------------- DCGAN (G, D)

@dataclass(frozen=True)
class GanConfig:
    """A DCGAN producing `channels` x `size` x `size` outputs from a `z_dim` code."""
    size: int = 8  # the output's side: the feature map's (res/8), or the image's
    channels: int = MAP_CHANNELS
    z_dim: int = 100
    width: int = 64  # filters of the widest-resolution layer; doubled at each halving

    @property
    def halvings(self) -> int:
        """Stride-2 stages between 4x4 and the output size."""
        if self.size < 4:
            raise ValueError(f"DCGAN output size {self.size} is below 4")
        return _log2(self.size, "DCGAN output size") - 2


class Generator(nn.Module):
    """z -> 4x4 (transposed conv) -> doubling stages (BN, ReLU) -> 3x3 conv to output, Tanh.

    The Tanh matches E_R's output range, so real and generated maps live in [-1, 1].
    """

    def __init__(self, cfg: GanConfig):
        super().__init__()
        self.cfg = cfg
        channels = cfg.width * 2 ** cfg.halvings
        layers: list[nn.Module] = [nn.ConvTranspose2d(cfg.z_dim, channels, 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(channels), nn.ReLU()]
        for _ in range(cfg.halvings):
            layers += [nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(channels // 2), nn.ReLU()]
            channels //= 2
        layers += [nn.Conv2d(channels, cfg.channels, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        _init_dcgan(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])

    def hidden(self, z: torch.Tensor) -> torch.Tensor:
        """G's last hidden features (width x res/8 x res/8 in feature space), before the 3x3
        output conv: where the extended code of `ExtendedInversionEncoder` enters."""
        return self.net[:-2](z[:, :, None, None])

    def output(self, hidden: torch.Tensor) -> torch.Tensor:
        """The feature map from G's last hidden features: forward(z) = output(hidden(z))."""
        return self.net[-2:](hidden)

    @property
    def hidden_channels(self) -> int:
        return self.cfg.width


class Discriminator(nn.Module):
    """Input -> 3x3 conv (LeakyReLU, no BN) -> halving stages (BN, LeakyReLU) -> 4x4 conv: a logit.

    Returns the logit; D's probability is its sigmoid, and the losses use the logit-space BCE
    (the same objective as equations (4)-(5), numerically stable).
    """

    def __init__(self, cfg: GanConfig):
        super().__init__()
        channels = cfg.width
        layers: list[nn.Module] = [nn.Conv2d(cfg.channels, channels, 3, 1, 1), nn.LeakyReLU(0.2)]
        for _ in range(cfg.halvings):
            layers += [nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(channels * 2), nn.LeakyReLU(0.2)]
            channels *= 2
        layers += [nn.Conv2d(channels, 1, 4, 1, 0)]
        self.net = nn.Sequential(*layers)
        _init_dcgan(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


# ---------------------------------------------------------------- inversion encoder (E_z)

KERNELS = (7, 5, 5, 3, 3, 3, 3)  # Table 1
FILTERS = (64, 128, 256, 512, 512, 512, 512)
FC_WIDTH = 4096


@dataclass(frozen=True)
class InversionConfig:
    resolution: int = 64
    z_dim: int = 100
    width: float = 1.0  # multiplies every filter count and FC1; 1.0 is the paper
    mask_input: bool = False  # the known-mask as a 4th input channel (the paper: I_M alone)

    def strides(self) -> list[int]:
        """Stride per conv so the map reaches 4x4: the first convs halve (downsampling early
        is cheapest); above 512 px Conv1 takes the extra factor (stride 4 at 1024 px)."""
        halvings = _log2(self.resolution, "resolution") - 2
        strides = [2 if i < halvings else 1 for i in range(len(KERNELS))]
        strides[0] = 2 ** max(1, halvings - len(KERNELS) + 1)
        return strides


class InversionEncoder(nn.Module):
    """E_z (Table 1): seven convs 7x7/5x5/5x5/3x3x4, BatchNorm from Conv2, ReLU; FC1 (BN, ReLU);
    FC2 to z with no BatchNorm or activation, so the code can follow the Gaussian prior.
    With `mask_input` it takes the known-mask as a fourth channel beside I_M, so that a hole
    filled with `hole_fill` is not confused with pixels of that colour."""

    def __init__(self, cfg: InversionConfig):
        super().__init__()
        self.cfg = cfg
        filters = [max(8, int(round(f * cfg.width))) for f in FILTERS]
        layers: list[nn.Module] = []
        in_ch = 4 if cfg.mask_input else 3
        for i, (k, f, s) in enumerate(zip(KERNELS, filters, cfg.strides())):
            layers.append(nn.Conv2d(in_ch, f, k, s, k // 2, bias=i == 0))
            layers += [nn.BatchNorm2d(f)] if i > 0 else []
            layers.append(nn.ReLU())
            in_ch = f
        fc = max(64, int(round(FC_WIDTH * cfg.width)))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(in_ch * 16, fc, bias=False), nn.BatchNorm1d(fc), nn.ReLU(),
            nn.Linear(fc, cfg.z_dim))

    def forward(self, damaged: torch.Tensor) -> torch.Tensor:
        """`damaged`: I_M (N x 3 x H x W), with the known-mask concatenated for `mask_input`."""
        return self.head(self.features(damaged))


@dataclass(frozen=True)
class ExtendedInversionConfig(InversionConfig):
    """E_z with the extended code: `feature_channels` x `feature_size`^2 beside z."""
    feature_channels: int = 32  # G's last hidden width (gan.width)
    feature_size: int = 8  # G's last hidden side (res/8)


class ExtendedInversionEncoder(InversionEncoder):
    """E_z (Table 1) that also predicts an offset of G's last hidden features (`Generator.
    hidden`): z from its head as in the paper, and from the trunk's map at the features' side
    a 3x3 conv (BN, ReLU) and a 1x1 conv to `feature_channels`, zero-initialised so that
    training starts from the paper's code. Returns (z, offset)."""

    def __init__(self, cfg: ExtendedInversionConfig):
        super().__init__(cfg)
        strides = cfg.strides()
        side, self.tap = cfg.resolution, None
        for i, stride in enumerate(strides):  # the last conv whose output has the features' side
            side //= stride
            if side == cfg.feature_size:
                self.tap = i
        if self.tap is None:
            raise ValueError(f"E_z has no map of side {cfg.feature_size} at {cfg.resolution} px")
        convs = [m for m in self.features if isinstance(m, nn.Conv2d)]
        channels = convs[self.tap].out_channels
        self.spatial = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels),
            nn.ReLU(), nn.Conv2d(channels, cfg.feature_channels, 1))
        nn.init.zeros_(self.spatial[-1].weight)
        nn.init.zeros_(self.spatial[-1].bias)

    def forward(self, damaged: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, tapped, convs = damaged, None, -1
        for layer in self.features:
            h = layer(h)
            convs += isinstance(layer, nn.Conv2d)
            if convs == self.tap and isinstance(layer, nn.ReLU):
                tapped = h
        return self.head(h), self.spatial(tapped)


# the names of these networks in model files (`inpaint.pretrained`)
NETWORKS = {
    "encoder": (AutoencoderConfig, Encoder),
    "decoder": (AutoencoderConfig, Decoder),
    "generator": (GanConfig, Generator),
    "discriminator": (GanConfig, Discriminator),
    "inversion_encoder": (InversionConfig, InversionEncoder),
    "extended_inversion_encoder": (ExtendedInversionConfig, ExtendedInversionEncoder),
}
