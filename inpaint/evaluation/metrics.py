"""Image-quality metrics over uint8 HxWx3 images: a registry of per-image metrics, and FID.

Per-image metrics (as in NVlabs' stylegan2-ada, each name says what it computes):

* `psnr`       PSNR over the whole RGB image, data range 255;
* `psnr_hole`  PSNR over the hole pixels only (known-mask M: 1 = known, 0 = hole);
* `ssim`       SSIM (scikit-image, 7x7 uniform window, data range 255, over RGB);
* `lpips_alex` LPIPS v0.1 with the AlexNet backbone, inputs scaled to [-1, 1].

Each takes `real` and `fake` (uint8, NxHxWx3), the known-masks (uint8, NxHxW) and a
`MetricContext`, and returns one float64 value per image, so that callers can average per
hole-ratio bucket. FID is a set metric: `inception_features` gives the 2048-d Inception pool3
features of a set, and `fid_from_features` compares two of them.
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import lpips
import numpy as np
import pytorch_fid.inception
import torch
from skimage.metrics import structural_similarity

from inpaint.device import get_device
from inpaint.data.images import atomic_path
from inpaint.evaluation.weights import DEFAULT_DIR, load_inception, load_lpips

SSIM_WINDOW = 7  # scikit-image's default, as in most inpainting papers' SSIM tables
ALL_MASKS = "all masks"  # the row over every bucket, beside the per-bucket rows


@dataclasses.dataclass
class MetricContext:
    """What the network-based metrics need: weights folder, device, batch size.

    The networks are loaded on first use and kept, so one context serves many calls.
    """
    weights_dir: Path = DEFAULT_DIR
    device: torch.device = dataclasses.field(default_factory=get_device)
    batch_size: int = 32
    _lpips: lpips.LPIPS | None = dataclasses.field(default=None, init=False, repr=False)
    _inception: pytorch_fid.inception.InceptionV3 | None = dataclasses.field(
        default=None, init=False, repr=False)

    def lpips_model(self) -> lpips.LPIPS:
        if self._lpips is None:
            self._lpips = load_lpips(self.weights_dir, self.device)
        return self._lpips

    def inception_model(self) -> pytorch_fid.inception.InceptionV3:
        if self._inception is None:
            self._inception = load_inception(self.weights_dir, self.device)
        return self._inception


PerImageMetric = Callable[[np.ndarray, np.ndarray, np.ndarray | None, MetricContext | None],
                          np.ndarray]
_METRICS: dict[str, PerImageMetric] = {}


def register_metric(fn: PerImageMetric) -> PerImageMetric:
    """Register a per-image metric under its function name."""
    _METRICS[fn.__name__] = fn
    return fn


def calc_metric(name: str, real: np.ndarray, fake: np.ndarray, known: np.ndarray | None = None,
                ctx: MetricContext | None = None) -> np.ndarray:
    """Per-image values of the registered metric `name`."""
    if name not in _METRICS:
        raise ValueError(f"unknown metric {name!r}; valid metrics: {', '.join(_METRICS)}")
    return _METRICS[name](real, fake, known, ctx)


def _check_images(*arrays: np.ndarray) -> None:
    """All arrays uint8 NxHxWx3 of one shape."""
    for array in arrays:
        if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != 3:
            raise ValueError(f"expected uint8 images NxHxWx3, got {array.dtype} {array.shape}")
    if len({a.shape for a in arrays}) > 1:
        raise ValueError(f"image sets differ in shape: {[a.shape for a in arrays]}")


def _psnr_from_mse(mse: np.ndarray) -> np.ndarray:
    """PSNR for data range 255; identical images (mse 0) give inf, as in scikit-image."""
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(255.0 ** 2 / mse)


@register_metric
def psnr(real: np.ndarray, fake: np.ndarray, known: np.ndarray | None = None,
         ctx: MetricContext | None = None) -> np.ndarray:
    """PSNR (dB) of each whole RGB image, data range 255; inf for identical images."""
    _check_images(real, fake)
    diff = real.astype(np.float64) - fake.astype(np.float64)
    return _psnr_from_mse((diff ** 2).mean(axis=(1, 2, 3)))


@register_metric
def psnr_hole(real: np.ndarray, fake: np.ndarray, known: np.ndarray | None = None,
              ctx: MetricContext | None = None) -> np.ndarray:
    """PSNR (dB) over the hole pixels (all three channels) of each image.

    `known` is the known-mask, uint8 NxHxW, 1 = known and 0 = hole. An image without hole
    pixels gives nan; a perfect hole gives inf.
    """
    _check_images(real, fake)
    if known is None or known.shape != real.shape[:3]:
        raise ValueError(f"psnr_hole needs known-masks of shape {real.shape[:3]}, "
                         f"got {None if known is None else known.shape}")
    hole = (known == 0)[..., None]
    squared = (real.astype(np.float64) - fake.astype(np.float64)) ** 2
    count = hole.sum(axis=(1, 2, 3)) * 3.0
    with np.errstate(invalid="ignore"):
        return _psnr_from_mse((squared * hole).sum(axis=(1, 2, 3)) / count)


@register_metric
def ssim(real: np.ndarray, fake: np.ndarray, known: np.ndarray | None = None,
         ctx: MetricContext | None = None) -> np.ndarray:
    """SSIM of each RGB image: scikit-image's `structural_similarity` with a 7x7 uniform
    window (its default), `channel_axis=-1`, `data_range=255`, averaged over the channels.

    Images smaller than 7 px use the largest odd window that fits; below 3 px SSIM is not
    defined (no local variance) and the value is nan.
    """
    _check_images(real, fake)
    side = min(real.shape[1:3])
    window = min(SSIM_WINDOW, side if side % 2 else side - 1)
    if window < 3:
        return np.full(len(real), np.nan)
    return np.array([structural_similarity(r, f, win_size=window, channel_axis=-1,
                                           data_range=255)
                     for r, f in zip(real, fake)], dtype=np.float64)


def _batches(images: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(images), batch_size):
        yield images[start:start + batch_size]


def _to_tensor(images: np.ndarray, device: torch.device, low: float) -> torch.Tensor:
    """uint8 NxHxWx3 -> float NCHW in [low, 1] (low = -1 for LPIPS, 0 for pytorch-fid)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2).float()
    return x * ((1.0 - low) / 255.0) + low


@register_metric
def lpips_alex(real: np.ndarray, fake: np.ndarray, known: np.ndarray | None = None,
               ctx: MetricContext | None = None) -> np.ndarray:
    """LPIPS distance (v0.1, AlexNet backbone) of each image pair; lower is closer.

    Images are scaled to [-1, 1] as `lpips.im2tensor` does; pass a `MetricContext` to reuse
    the loaded network across calls.
    """
    _check_images(real, fake)
    ctx = ctx or MetricContext()
    model = ctx.lpips_model()
    values = []
    with torch.no_grad():
        for r, f in zip(_batches(real, ctx.batch_size), _batches(fake, ctx.batch_size)):
            distance = model(_to_tensor(r, ctx.device, -1.0), _to_tensor(f, ctx.device, -1.0))
            values.append(distance.flatten().double().cpu().numpy())
    return np.concatenate(values) if values else np.zeros(0)


def inception_features(images: np.ndarray, ctx: MetricContext) -> np.ndarray:
    """2048-d Inception pool3 features (float64, Nx2048) of uint8 NxHxWx3 images.

    Images go in as [0, 1]; pytorch-fid's InceptionV3 resizes them bilinearly to 299x299 and
    scales them to [-1, 1] itself (resize_input=True, normalize_input=True).
    """
    _check_images(images)
    model = ctx.inception_model()
    features = []
    with torch.no_grad():
        for batch in _batches(images, ctx.batch_size):
            pool = model(_to_tensor(batch, ctx.device, 0.0))[0]
            features.append(pool.flatten(1).double().cpu().numpy())
    return np.concatenate(features) if features else np.zeros((0, 2048))


def images_hash(images: np.ndarray) -> str:
    """sha256 of an image set's shape, dtype and pixels: the key of cached Inception features."""
    digest = hashlib.sha256(f"{images.shape}{images.dtype}".encode())
    digest.update(np.ascontiguousarray(images).data)
    return digest.hexdigest()


def fid_from_features(real: np.ndarray, fake: np.ndarray) -> float:
    """FID between two feature sets, exact and fast when the sets are small.

    tr sqrt(S1 S2) equals the sum of the singular values of Xc Yc^T / sqrt((n1-1)(n2-1))
    (Xc, Yc: centred features), so an n1 x n2 SVD replaces the 2048 x 2048 matrix square root
    of pytorch-fid's formula (about 20 s on one core); both give the same number.
    """
    if min(len(real), len(fake)) < 2:
        raise ValueError(f"FID needs at least 2 images per set, got {len(real)} and {len(fake)}")
    xc, yc = real - real.mean(axis=0), fake - fake.mean(axis=0)
    n1, n2 = len(real) - 1, len(fake) - 1
    cross = np.linalg.svd(xc @ yc.T, compute_uv=False).sum() / np.sqrt(n1 * n2)
    mean_term = ((real.mean(axis=0) - fake.mean(axis=0)) ** 2).sum()
    return float(mean_term + (xc ** 2).sum() / n1 + (yc ** 2).sum() / n2 - 2 * cross)


def cached_inception_features(images: np.ndarray, ctx: MetricContext,
                              cache_dir: str | Path) -> np.ndarray:
    """Inception features of `images`, from `cache_dir` when this exact set was seen before."""
    key = images_hash(images)
    path = Path(cache_dir) / f"inception_features_{key[:16]}.npy"
    if path.is_file():
        return np.load(path)
    features = inception_features(images, ctx)
    with atomic_path(path) as tmp:
        np.save(tmp, features)
    return features
