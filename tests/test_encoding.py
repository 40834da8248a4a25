"""Writing the repaired photo (issue 37): PNG by the fast writer (`inpaint.data.png`: Up filter,
ISA-L deflate) at the default level and 0-3, by Pillow at zlib levels 4-9, JPEG and WebP at a
quality when asked, and options that do not fit the output refused with a usage error that
names them."""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inpaint.api.cli import main
from inpaint.data.images import PNG_COMPRESSION, save_options
from inpaint.data.png import DEFAULT_LEVEL, fast_png_level, write_image, write_png


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of each chunk of a PNG file, every CRC checked."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        assert struct.unpack(">I", data[at + 8 + length:at + 12 + length])[0] == zlib.crc32(
            kind + body), kind
        chunks.append((kind, body))
        at += 12 + length
    return chunks


def row_filters(data: bytes) -> set[int]:
    """The filter types of the rows of an 8-bit, non-interlaced PNG file."""
    chunks = png_chunks(data)
    width, height, depth, colour = struct.unpack(">IIBB", chunks[0][1][:10])
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    row = 1 + width * channels * depth // 8
    assert len(raw) == row * height
    return set(raw[::row])


def random_image(mode: str, width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 1 << 16, (height, width), dtype=np.uint16))
    channels = len(mode)
    pixels = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    if channels == 1:
        return Image.fromarray(pixels[..., 0])
    return Image.fromarray(pixels, mode)


def written(image: Image.Image, level: int, icc_profile: bytes | None = None) -> bytes:
    out = io.BytesIO()
    write_png(out, image, level, icc_profile)
    return out.getvalue()


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "I;16"])
@pytest.mark.parametrize("width, height", [(1, 1), (1, 7), (13, 1), (37, 29), (64, 48)])
def test_write_png_decodes_to_the_same_pixels(mode, width, height):
    image = random_image(mode, width, height, seed=width * height)
    assert image.mode == mode
    decoded = Image.open(io.BytesIO(written(image, DEFAULT_LEVEL)))
    assert decoded.mode == mode and decoded.size == (width, height)
    assert np.array_equal(np.asarray(decoded), np.asarray(image))


def test_write_png_levels_strips_and_chunks(monkeypatch, tmp_path):
    """Every ISA-L level decodes to the same pixels, also when the photo is filtered in many
    strips and its compressed bytes split into many IDAT chunks; a path is written too."""
    from inpaint.data import png
    ramp = np.add.outer(np.arange(90), np.arange(70)).astype(np.uint8)  # smooth: compressible
    noise = np.random.default_rng(1).integers(0, 3, (90, 70, 3), dtype=np.uint8)
    image = Image.fromarray(np.dstack([ramp, ramp.T[:70, :90].T, 255 - ramp]) + noise)
    pixels = np.asarray(image)
    whole = [written(image, level) for level in png.LEVELS]
    monkeypatch.setattr(png, "STRIP_BYTES", 3 * 70 * 4 + 5)  # 4 rows a strip
    monkeypatch.setattr(png, "IDAT_BYTES", 1000)
    for level, one_strip in zip(png.LEVELS, whole):
        write_png(tmp_path / f"level{level}.png", image, level)
        data = (tmp_path / f"level{level}.png").read_bytes()
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), pixels), level
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(one_strip))), pixels), level
        kinds = [kind for kind, _ in png_chunks(data)]
        assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and len(kinds) > 4
        assert set(kinds[1:-1]) == {b"IDAT"} and row_filters(data) == {2}
        assert len(one_strip) < pixels.nbytes  # compressed at every level


@pytest.mark.parametrize("threads", ["1", "2", "3", "7"])
def test_write_png_in_bands_deflated_side_by_side(monkeypatch, threads):
    """Each thread deflates a band of rows as a raw stream of its own; joined with the zlib
    header and the combined Adler-32 they are one valid stream, for any number of bands
    (also more than there are rows of a band's strip, and bands of one row), every mode."""
    from inpaint.data import png
    monkeypatch.setenv("OMP_NUM_THREADS", threads)
    monkeypatch.setattr(png, "BAND_BYTES", 1)
    monkeypatch.setattr(png, "STRIP_BYTES", 500)
    for mode, width, height in (("RGB", 41, 23), ("L", 9, 5), ("RGBA", 17, 40),
                                ("I;16", 12, 31)):
        image = random_image(mode, width, height, seed=int(threads))
        bands = png._bands(height, width * png.MODES[mode][2])
        assert len(bands) == min(int(threads), height)
        data = written(image, 1)
        idat = b"".join(body for kind, body in png_chunks(data) if kind == b"IDAT")
        zlib.decompress(idat)  # one zlib stream, its Adler-32 checked
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), np.asarray(image)), (
            mode, threads)


def test_adler32_of_joined_bytes_from_the_parts():
    from inpaint.data.png import _adler32_combine
    rng = np.random.default_rng(0)
    for first, second in ((0, 0), (1, 70000), (65521, 3), (100000, 200000)):
        a, b = rng.bytes(first), rng.bytes(second)
        assert _adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b)) == zlib.adler32(a + b)


def test_write_png_keeps_the_icc_profile_and_refuses_other_modes():
    profile = bytes(range(256)) * 9
    data = written(random_image("RGB", 5, 4), 1, profile)
    assert [kind for kind, _ in png_chunks(data)][:2] == [b"IHDR", b"iCCP"]
    assert Image.open(io.BytesIO(data)).info["icc_profile"] == profile
    assert "icc_profile" not in Image.open(io.BytesIO(written(random_image("L", 5, 4), 1))).info
    for image in (Image.new("P", (4, 4)), Image.new("1", (4, 4)), Image.new("I", (4, 4)),
                  Image.new("F", (4, 4)), Image.new("CMYK", (4, 4))):
        with pytest.raises(ValueError, match=f"not {image.mode}"):
            written(image, 1)
    with pytest.raises(ValueError, match="level 4: expected 0-3"):
        written(random_image("L", 5, 4), 4)


def test_fast_png_level_and_write_image(tmp_path):
    assert fast_png_level("PNG") == DEFAULT_LEVEL
    assert [fast_png_level("PNG", level) for level in range(10)] == [0, 1, 2, 3] + [None] * 6
    assert fast_png_level("JPEG") is None and fast_png_level("TIFF") is None
    rgb, palette = random_image("RGB", 33, 21), random_image("RGB", 33, 21).convert("P")
    for image in (rgb, palette):
        for level in (None, 0, 3, 4, 9):
            out = tmp_path / f"{image.mode}{level}.png"
            write_image(image, out, "PNG", png_compression=level)
            assert Image.open(out).mode == image.mode
            assert np.array_equal(np.asarray(Image.open(out)), np.asarray(image))
            if image.mode == "RGB" and (level is None or level <= 3):
                assert row_filters(out.read_bytes()) == {2}, "written by write_png"
    with pytest.raises(ValueError, match="applies to PNG output, not JPEG"):
        write_image(rgb, tmp_path / "x.jpg", "JPEG", png_compression=1)


def test_save_options_per_format():
    assert save_options("PNG") == {"compress_level": PNG_COMPRESSION, "compress_type": 3}
    assert save_options("PNG", png_compression=9) == {"compress_level": 9}
    assert save_options("JPEG") == {}
    assert save_options("JPEG", quality=95) == {"quality": 95}
    assert save_options("WEBP") == {"lossless": True, "exact": True}
    assert save_options("WEBP", quality=80) == {"quality": 80}
    assert save_options("TIFF") == {}


@pytest.mark.parametrize("name, options, message", [
    ("PNG", {"png_compression": 10}, "PNG compression level 10: expected 0-9"),
    ("PNG", {"png_compression": -1}, "PNG compression level -1: expected 0-9"),
    ("JPEG", {"png_compression": 1}, "applies to PNG output, not JPEG"),
    ("PNG", {"quality": 90}, "applies to JPEG and WebP output, not PNG"),
    ("JPEG", {"quality": 0}, "quality 0: expected 1-100"),
    ("WEBP", {"quality": 101}, "quality 101: expected 1-100"),
])
def test_save_options_refuse_what_does_not_fit(name, options, message):
    with pytest.raises(ValueError, match=message):
        save_options(name, **options)


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    image = (np.arange(48 * 64 * 3).reshape(48, 64, 3) % 7 * 30 + rng.integers(0, 4, (48, 64, 3))
             ).astype(np.uint8)  # compressible: the PNG levels differ
    hole = np.zeros((48, 64), np.uint8)
    hole[10:20, 15:30] = 255
    Image.fromarray(image).save(tmp_path / "photo.png")
    Image.fromarray(hole).save(tmp_path / "mask.png")
    return tmp_path / "photo.png", tmp_path / "mask.png"


@pytest.mark.parametrize("options, error", [
    (["--png-compression", "10"], "--png-compression: PNG compression level 10: expected 0-9"),
    (["--quality", "90"], "--quality: a quality applies to JPEG and WebP output, not PNG"),
])
def test_cli_refuses_encoder_options_that_do_not_fit_the_output(pair, tmp_path, capsys, options,
                                                                error):
    with pytest.raises(SystemExit) as exit_:
        main([*map(str, pair), "-o", str(tmp_path / "out.png"), "--method", "telea", *options])
    assert exit_.value.code == 2
    assert error in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--images", str(tmp_path), "--masks", str(tmp_path), "-o", str(tmp_path / "o"),
              "--method", "telea", "--quality", "90"])  # folder mode writes PNG
    assert "--quality: a quality applies to JPEG and WebP output, not PNG" in (
        capsys.readouterr().err)


def test_cli_writes_png_at_the_level_asked_and_jpeg_and_webp_at_a_quality(pair, tmp_path,
                                                                          capsys):
    sizes = {}
    for level in ("default", "0", "9"):
        out = tmp_path / f"level{level}.png"
        extra = [] if level == "default" else ["--png-compression", level]
        assert main([*map(str, pair), "-o", str(out), "--method", "telea", *extra]) == 0
        sizes[level] = out.stat().st_size
    assert sizes["0"] > sizes["9"], "ISA-L's fastest level against zlib's hardest"
    # the default and 0-3: the fast writer's Up filter on every row; 4-9 Pillow's
    assert row_filters((tmp_path / "leveldefault.png").read_bytes()) == {2}
    assert row_filters((tmp_path / "level0.png").read_bytes()) == {2}
    assert row_filters((tmp_path / "level9.png").read_bytes()) != {2}  # here no filter, {0}
    for level in ("default", "0"):
        assert np.array_equal(np.asarray(Image.open(tmp_path / f"level{level}.png")),
                              np.asarray(Image.open(tmp_path / "level9.png")))
    for suffix in (".jpg", ".webp"):
        low, high = tmp_path / f"low{suffix}", tmp_path / f"high{suffix}"
        for out, quality in ((low, "5"), (high, "95")):
            assert main([*map(str, pair), "-o", str(out), "--method", "telea",
                         "--quality", quality]) == 0
        assert low.stat().st_size < high.stat().st_size
        assert "is not lossless" in capsys.readouterr().err


def test_cli_keeps_the_sources_icc_profile_in_the_fast_png(pair, tmp_path):
    image_path, mask_path = pair
    profile = b"not a real profile, kept as it is" * 20
    Image.open(image_path).save(image_path, icc_profile=profile)
    for extra in ([], ["--png-compression", "3"], ["--png-compression", "6"]):
        out = tmp_path / "out.png"
        assert main([str(image_path), str(mask_path), "-o", str(out), "--method", "telea",
                     *extra]) == 0
        assert Image.open(out).info["icc_profile"] == profile, extra
