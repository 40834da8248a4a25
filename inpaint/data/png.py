"""A fast PNG writer for large photos (issue 37): rows filtered with PNG's "Up" filter (each
row minus the one above, byte by byte, in numpy) and deflated by ISA-L (the `isal` package) at
its levels 0-3.

Pillow's PNG encoder picks a filter per row by trying all five and spends most of a 24 MP
photo's encoding time there and in zlib; one fixed filter and ISA-L's deflate write it several
times faster in a file a few per cent larger (profiling/README.md). `write_image` says
when the command uses it: the default PNG level and levels 0-3, for the modes below; levels 4-9
and other modes go through Pillow.

The photo is cut into bands of rows, one per thread (ISA-L frees the GIL, so they deflate side
by side: 0.3 s instead of 0.5 for 24 MP on two cores), each read (Pillow's `crop` and
`tobytes`), filtered and deflated in strips of a few MB as a raw deflate stream of its own that
ends on a byte boundary; joined behind the zlib header with the bands' combined Adler-32 they
are one zlib stream, as pigz writes it. The extra memory is a few strips per band and the
compressed photo (a third of the raw bytes or less), not a copy of the photo."""
from __future__ import annotations

import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
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
BAND_BYTES = 8 << 20  # least raw bytes a band deflated by a thread of its own
ZLIB_HEADER = b"\x78\x01"  # deflate, 32 KiB window, no dictionary
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
    colour_type, depth, pixel_bytes, _ = MODES[image.mode]
    bands = _bands(height, width * pixel_bytes)
    opened = open(path_or_file, "wb") if isinstance(path_or_file, (str, Path)) else None
    with opened or nullcontext(), ThreadPoolExecutor(len(bands)) as pool:
        # ISA-L frees the GIL: the bands deflate side by side, each its own raw stream
        parts = [pool.submit(_deflate_band, image, level, top, bottom, last=bottom == height)
                 for top, bottom in bands]
        out = opened or path_or_file
        out.write(SIGNATURE)
        _chunk(out, b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour_type,
                                          0, 0, 0))  # deflate, adaptive filtering, no interlace
        if icc_profile:
            _chunk(out, b"iCCP", b"ICC Profile\0\0" + zlib.compress(icc_profile))
        pending = bytearray(ZLIB_HEADER)
        checksum = 1  # Adler-32 of nothing
        for part in parts:
            deflated, band_checksum, length = part.result()
            pending += deflated
            checksum = _adler32_combine(checksum, band_checksum, length)
            while len(pending) >= IDAT_BYTES:
                _chunk(out, b"IDAT", pending[:IDAT_BYTES])
                del pending[:IDAT_BYTES]
        pending += struct.pack(">I", checksum)
        for start in range(0, len(pending), IDAT_BYTES):
            _chunk(out, b"IDAT", pending[start:start + IDAT_BYTES])
        _chunk(out, b"IEND", b"")


def _bands(height: int, row_bytes: int) -> list[tuple[int, int]]:
    """Rows top:bottom of each band deflated on its own: one per thread OMP_NUM_THREADS allows
    (one per core by default), none smaller than BAND_BYTES."""
    threads = int(os.environ.get("OMP_NUM_THREADS") or 0) or os.cpu_count() or 1
    count = max(1, min(threads, height * row_bytes // BAND_BYTES, height))
    edges = [height * i // count for i in range(count + 1)]
    return list(zip(edges[:-1], edges[1:]))


def _deflate_band(image: Image.Image, level: int, top: int, bottom: int, last: bool
                  ) -> tuple[bytes, int, int]:
    """Rows top:bottom of `image` Up-filtered and deflated by ISA-L as a raw stream that ends
    on a byte boundary (the last band: with the final block), its filtered bytes' Adler-32
    and their number."""
    from isal import isal_zlib  # here: the `inpaint` command starts without it
    width = image.size[0]
    _, _, pixel_bytes, raw_mode = MODES[image.mode]
    row_bytes = width * pixel_bytes
    strip_rows = max(1, STRIP_BYTES // row_bytes)
    filtered = np.empty((min(strip_rows, bottom - top), 1 + row_bytes), np.uint8)
    filtered[:, 0] = UP
    above = (_rows(image, raw_mode, top - 1, top)[0] if top else
             np.zeros(row_bytes, np.uint8))  # the row above the first is zero
    compressor = isal_zlib.compressobj(level, isal_zlib.DEFLATED, -15)  # raw: no header
    deflated, checksum = [], 1
    for start in range(top, bottom, strip_rows):
        stop = min(start + strip_rows, bottom)
        strip = _rows(image, raw_mode, start, stop)
        block = filtered[:stop - start]
        # Up: each byte minus the byte above, mod 256
        np.subtract(strip[0], above, out=block[0, 1:])
        np.subtract(strip[1:], strip[:-1], out=block[1:, 1:])
        above = strip[-1]
        deflated.append(compressor.compress(block))
        checksum = zlib.adler32(block, checksum)
    deflated.append(compressor.flush() if last else compressor.flush(isal_zlib.Z_SYNC_FLUSH))
    return b"".join(deflated), checksum, (bottom - top) * (1 + row_bytes)


def _rows(image: Image.Image, raw_mode: str, top: int, bottom: int) -> np.ndarray:
    """Rows top:bottom of `image` as the PNG's bytes (rows x bytes per row, uint8)."""
    data = image.crop((0, top, image.size[0], bottom)).tobytes("raw", raw_mode)
    return np.frombuffer(data, np.uint8).reshape(bottom - top, -1)


def _adler32_combine(first: int, second: int, second_length: int) -> int:
    """The Adler-32 of two byte strings joined, from theirs and the second's length (zlib's
    adler32_combine, which Python's zlib does not expose)."""
    base = 65521
    rem = second_length % base
    low = first & 0xFFFF
    high = (rem * low) % base
    low = (low + (second & 0xFFFF) + base - 1) % base
    high = (high + (first >> 16) + (second >> 16) + base - rem) % base
    return low | high << 16


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
