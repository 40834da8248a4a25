"""Decoding any image file to RGB uint8, square crops, anti-aliased resizes, and atomic writes."""
from __future__ import annotations

import os
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageOps

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
_UMASK = os.umask(0)
os.umask(_UMASK)


class ImageError(ValueError):
    """An image file cannot be used; the message names the file and the reason."""


def list_images(folder: str | Path) -> list[Path]:
    """Image files under `folder` (recursive), sorted; an error if the folder is missing."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageError(f"{folder}: image folder not found")
    return sorted(p for p in folder.rglob("*")
                  if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and float grey images scaled to 8 bits (PIL's own convert would clip them)."""
    array = np.asarray(image)
    if image.mode.startswith("I;16") or (image.mode == "I" and array.max(initial=0) > 255):
        array = (array.astype(np.float64) / 65535.0 * 255.0).round()
    elif image.mode == "F":
        top = 1.0 if array.max(initial=0) <= 1.0 else 255.0
        array = array / top * 255.0
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), mode="L")


def open_image(path: str | Path) -> Image.Image:
    """Fully decode `path` with its EXIF orientation applied; `ImageError` if it cannot be."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()  # decode now: truncated files fail here, not later
                return ImageOps.exif_transpose(image)
    except FileNotFoundError:
        raise ImageError(f"{path}: file not found") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as err:
        raise ImageError(f"{path}: cannot decode image ({err})") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB from any mode: grey, palette, RGBA (alpha dropped), 16-bit, float, CMYK."""
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        image = _to_8bit(image)
    if image.mode == "P":
        image = image.convert("RGBA")
    return image.convert("RGB")


def center_square(image: Image.Image) -> Image.Image:
    """The largest centred square crop."""
    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return image.crop((left, top, left + side, top + side))


def square_resized(path: str | Path, resolution: int) -> np.ndarray:
    """Decode, convert to RGB, centre-crop and resize (Lanczos, anti-aliased) to `resolution`."""
    image = center_square(to_rgb(open_image(path)))
    if image.size != (resolution, resolution):
        image = image.resize((resolution, resolution), Image.Resampling.LANCZOS)
    return np.asarray(image)


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`, renamed onto it only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                               suffix=target.suffix or ".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_npy(array: np.ndarray, target: str | Path) -> None:
    with atomic_path(target) as tmp:
        np.save(tmp, array)


def load_npy(path: str | Path, mmap: bool = True) -> np.ndarray:
    """A stored array, memory-mapped by default so that training never copies the whole set."""
    return np.load(path, mmap_mode="r" if mmap else None)


def save_png(array: np.ndarray, target: str | Path) -> None:
    with atomic_path(target) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")
