"""Writing the repaired photo (issue 37): PNG at a zlib level chosen for speed and overridable,
JPEG and WebP at a quality when asked, and options that do not fit the output refused with a
usage error that names them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inpaint.api.cli import main
from inpaint.data.images import PNG_COMPRESSION, save_options


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
    for level in ("0", "9"):
        out = tmp_path / f"level{level}.png"
        assert main([*map(str, pair), "-o", str(out), "--method", "telea",
                     "--png-compression", level]) == 0
        sizes[level] = out.stat().st_size
    assert sizes["0"] > sizes["9"], "level 0 stores, level 9 compresses"
    assert np.array_equal(np.asarray(Image.open(tmp_path / "level0.png")),
                          np.asarray(Image.open(tmp_path / "level9.png")))
    for suffix in (".jpg", ".webp"):
        low, high = tmp_path / f"low{suffix}", tmp_path / f"high{suffix}"
        for out, quality in ((low, "5"), (high, "95")):
            assert main([*map(str, pair), "-o", str(out), "--method", "telea",
                         "--quality", quality]) == 0
        assert low.stat().st_size < high.stat().st_size
        assert "is not lossless" in capsys.readouterr().err
