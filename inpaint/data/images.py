"""Decoding any image file to RGB uint8, square crops, anti-aliased resizes, atomic writes,
and the encoder options of written photos."""
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
# zlib level of written PNGs, with zlib's run-length strategy unless a level is asked for.
# Encoding dominated a large photo at Pillow's default (level 6): a 24 MP photo took 11.5 CPU
# seconds at 6 and 2.5 at 1 with run-length matches, for a file of the same size (31.3 MiB
# both; 2.8 s and 35.4 MiB at 1 with the default strategy). Measured beside a two-core
# training run: profiling/README.md
PNG_COMPRESSION = 1
Z_RLE = 3  # zlib's strategy constant, Pillow's `compress_type`
# formats that store every pixel exactly, with the save options that make them do so
LOSSLESS_SAVE_OPTIONS = {"PNG": {}, "TIFF": {}, "BMP": {}, "PPM": {}, "TGA": {},
                         "WEBP": {"lossless": True, "exact": True}}
QUALITY_FORMATS = ("JPEG", "WEBP")  # formats a quality (1-100) applies to
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
    """Fully decode `path` with its EXIF orientation applied; `ImageError` if it cannot be.

    Photos up to Pillow's hard decompression-bomb limit (twice `Image.MAX_IMAGE_PIXELS`, 179
    MP) are read: Pillow's warning starts at 89 MP, below a 100 MP camera's photos."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()  # decode now: truncated files fail here, not later
                return ImageOps.exif_transpose(image)
    except FileNotFoundError:
        raise ImageError(f"{path}: file not found") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
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


def save_options(format_name: str, png_compression: int | None = None,
                 quality: int | None = None) -> dict:
    """Pillow's save options for a photo in `format_name` (Pillow's name: 'PNG', 'JPEG', ...).

    PNG is written at zlib level `png_compression` (0-9; default `PNG_COMPRESSION` with
    run-length matches only, which is faster and here no larger); JPEG at
    `quality` (1-100, default Pillow's 75); WebP lossless and exact, or lossy at `quality` when
    one is given; the other lossless formats as they are. A ValueError says which option does
    not apply to the format or is out of range."""
    if png_compression is not None:
        if format_name != "PNG":
            raise ValueError(f"a PNG compression level applies to PNG output, not {format_name}")
        if not 0 <= png_compression <= 9:
            raise ValueError(f"PNG compression level {png_compression}: expected 0-9")
    if quality is not None:
        if format_name not in QUALITY_FORMATS:
            raise ValueError(f"a quality applies to JPEG and WebP output, not {format_name}")
        if not 1 <= quality <= 100:
            raise ValueError(f"quality {quality}: expected 1-100")
        return {"quality": quality}
    if format_name == "PNG":
        if png_compression is None:
            return {"compress_level": PNG_COMPRESSION, "compress_type": Z_RLE}
        return {"compress_level": png_compression}
    return dict(LOSSLESS_SAVE_OPTIONS.get(format_name, {}))


def save_npy(array: np.ndarray, target: str | Path) -> None:
    with atomic_path(target) as tmp:
        np.save(tmp, array)


def load_npy(path: str | Path, mmap: bool = True) -> np.ndarray:
    """A stored array, memory-mapped by default so that training never copies the whole set."""
    return np.load(path, mmap_mode="r" if mmap else None)


def save_png(array: np.ndarray, target: str | Path) -> None:
    with atomic_path(target) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")
