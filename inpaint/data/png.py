"""A fast PNG writer for large photos (issue 37): rows filtered with PNG's "Up" filter (each
row minus the one above, byte by byte, in numpy) and deflated by ISA-L (the `isal` package) at
its levels 0-3.

Pillow's PNG encoder picks a filter per row by trying all five and spends most of a 24 MP
photo's encoding time there and in zlib; one fixed filter and ISA-L's deflate write it several
times faster in a file a few per cent larger (profiling/README.md). `write_image` says
when the command uses it: the default PNG level and levels 0-3, for the modes below; levels 4-9
and other modes go through Pillow.

The photo is read (Pillow's `crop` and `tobytes`), filtered and deflated in strips of a few MB
streamed through one compressor, so the extra memory is a few strips and the compressed bytes
of one IDAT chunk, not a copy of the photo."""
from __future__ import annotations

import struct
import zlib
from contextlib import nullcontext
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from inpaint.data.images import save_options

# mode: (PNG colour type, bit depth, bytes per pixel, Pillow's raw mode of the PNG's bytes)
MODES = {
    "L": (0, 8, 1, "L"),
    "LA": (4, 8, 2, "LA"),
    "RGB": (2, 8, 3, "RGB"),
    "RGBA": (6, 8, 4, "RGBA"),
    "I;16": (0, 16, 2, "I;16B"),  # PNG stores 16-bit samples big-endian
}
LEVELS = range(4)  # ISA-L's deflate levels
DEFAULT_LEVEL = 1  # the command's PNG level (`--png-compression`): ISA-L's level 1
SIGNATURE = b"\x89PNG\r\n\x1a\n"
STRIP_BYTES = 4 << 20  # rows read and filtered at a time (raw bytes)
IDAT_BYTES = 4 << 20  # compressed bytes per IDAT chunk (the last one is shorter)
UP = 2  # PNG's filter type "Up"


def _chunk(out: BinaryIO, kind: bytes, data: bytes | bytearray | memoryview) -> None:
    out.write(struct.pack(">I", len(data)))
    out.write(kind)
    out.write(data)
    out.write(struct.pack(">I", zlib.crc32(data, zlib.crc32(kind))))


def write_png(path_or_file: str | Path | BinaryIO, image: Image.Image, level: int,
              icc_profile: bytes | None = None) -> None:
    """Write `image` ('L', 'LA', 'RGB', 'RGBA' or 'I;16') as a PNG to a path or a binary file,
    deflated by ISA-L at `level` (0-3; 0 fastest, 3 smallest), with the ICC profile
    `icc_profile` when one is given (an iCCP chunk named as Pillow names it). ValueError for
    another mode, a level outside 0-3 or an empty image."""
    if image.mode not in MODES:
        raise ValueError(f"write_png writes {', '.join(MODES)} images, not {image.mode}")
    if level not in LEVELS:
        raise ValueError(f"ISA-L deflate level {level}: expected 0-3")
    width, height = image.size
    if width < 1 or height < 1:
        raise ValueError(f"a PNG needs at least one pixel, not {width}x{height}")
    from isal import isal_zlib  # here: the `inpaint` command starts without it

    colour_type, depth, pixel_bytes, raw_mode = MODES[image.mode]
    row_bytes = width * pixel_bytes
    strip_rows = max(1, STRIP_BYTES // row_bytes)
    filtered = np.empty((min(strip_rows, height), 1 + row_bytes), np.uint8)
    filtered[:, 0] = UP
    above = np.zeros(row_bytes, np.uint8)  # the row above the first is zero
    compressor = isal_zlib.compressobj(level)
    opened = open(path_or_file, "wb") if isinstance(path_or_file, (str, Path)) else None
    with opened or nullcontext():
        out = opened or path_or_file
        out.write(SIGNATURE)
        _chunk(out, b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour_type,
                                          0, 0, 0))  # deflate, adaptive filtering, no interlace
        if icc_profile:
            _chunk(out, b"iCCP", b"ICC Profile\0\0" + zlib.compress(icc_profile))
        pending = bytearray()
        for top in range(0, height, strip_rows):
            bottom = min(top + strip_rows, height)
            strip = np.frombuffer(image.crop((0, top, width, bottom)).tobytes("raw", raw_mode),
                                  np.uint8).reshape(bottom - top, row_bytes)
            block = filtered[:bottom - top]
            # Up: each byte minus the byte above, mod 256
            np.subtract(strip[0], above, out=block[0, 1:])
            np.subtract(strip[1:], strip[:-1], out=block[1:, 1:])
            above = strip[-1]
            pending += compressor.compress(block)
            while len(pending) >= IDAT_BYTES:
                _chunk(out, b"IDAT", pending[:IDAT_BYTES])
                del pending[:IDAT_BYTES]
        pending += compressor.flush()
        for start in range(0, len(pending), IDAT_BYTES):
            _chunk(out, b"IDAT", pending[start:start + IDAT_BYTES])
        _chunk(out, b"IEND", b"")


def fast_png_level(format_name: str, png_compression: int | None = None) -> int | None:
    """ISA-L's deflate level at which `write_png` writes a PNG at level
    `png_compression` (the default `DEFAULT_LEVEL`, or 0-3); None for levels 4-9 (Pillow)
    and for other formats."""
    level = DEFAULT_LEVEL if png_compression is None else png_compression
    return level if format_name == "PNG" and level in LEVELS else None


def write_image(image: Image.Image, path: str | Path, format_name: str,
                png_compression: int | None = None, quality: int | None = None) -> None:
    """Write `image` to `path` in `format_name` at the options' level or quality
    (`save_options`, which checks them), with the profile of `image.info['icc_profile']`: a
    PNG at the default level or 0-3 in a mode `write_png` writes goes through it, the
    rest through Pillow."""
    options = save_options(format_name, png_compression, quality)
    level = fast_png_level(format_name, png_compression)
    if (level is not None and image.mode in MODES
            and "transparency" not in image.info):  # a tRNS chunk: Pillow writes it
        write_png(path, image, level, image.info.get("icc_profile"))
    else:
        image.save(path, format=format_name, **options)
