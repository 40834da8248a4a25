"""Decoding: every odd mode becomes RGB of the right size; bad files are reported."""
import numpy as np
import pytest
from PIL import Image

from inpaint.data.images import ImageError, list_images, open_image, square_resized, to_rgb


def _gradient(w=40, h=30):
    return np.linspace(0, 255, w * h * 3).reshape(h, w, 3).astype(np.uint8)


def _write_modes(folder):
    rgb = Image.fromarray(_gradient())
    files = {
        "rgb.jpg": rgb, "grey.png": rgb.convert("L"), "palette.png": rgb.convert("P"),
        "rgba.png": rgb.convert("RGBA"), "cmyk.jpg": rgb.convert("CMYK"),
        "la.png": rgb.convert("LA"), "bw.bmp": rgb.convert("1"), "rgb.webp": rgb,
        "grey16.png": Image.fromarray((np.asarray(rgb.convert("L")).astype(np.uint16) * 257)),
    }
    for name, image in files.items():
        image.save(folder / name)
    return files


def load_rgb(path):
    return np.asarray(to_rgb(open_image(path)))


def test_every_mode_decodes_to_rgb_of_the_right_size(tmp_path):
    files = _write_modes(tmp_path)
    for name in files:
        out = square_resized(tmp_path / name, 16)
        assert out.shape == (16, 16, 3) and out.dtype == np.uint8, name


def test_sixteen_bit_is_scaled_not_clipped(tmp_path):
    _write_modes(tmp_path)
    grey16 = load_rgb(tmp_path / "grey16.png")
    grey8 = load_rgb(tmp_path / "grey.png")
    assert np.abs(grey16.astype(int) - grey8.astype(int)).max() <= 1
    assert grey16.max() > 200


def test_exif_orientation_is_applied(tmp_path):
    image = Image.fromarray(_gradient(40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    image.save(tmp_path / "rotated.jpg", exif=exif)
    assert load_rgb(tmp_path / "rotated.jpg").shape == (40, 20, 3)


def test_centre_crop_keeps_the_middle(tmp_path):
    array = np.zeros((20, 60, 3), np.uint8)
    array[:, 20:40] = 255  # a white square in the middle of a wide image
    Image.fromarray(array).save(tmp_path / "wide.png")
    assert square_resized(tmp_path / "wide.png", 20).min() == 255


@pytest.mark.parametrize("name, content", [
    ("text.jpg", b"this is not an image"),
    ("empty.png", b""),
])
def test_non_images_raise_image_error_naming_the_file(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ImageError, match=name):
        load_rgb(tmp_path / name)


def test_truncated_file_raises(tmp_path):
    Image.fromarray(_gradient(200, 200)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="cut.png"):
        load_rgb(tmp_path / "cut.png")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageError, match="file not found"):
        load_rgb(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="folder not found"):
        list_images(tmp_path / "nope")


def test_list_images_is_recursive_and_filters_suffixes(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ["a/b/x.PNG", "a/y.jpeg", "z.txt", "w.webp"]:
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in list_images(tmp_path)] == ["x.PNG", "y.jpeg", "w.webp"]


def test_large_photos_are_read_up_to_pillows_hard_limit(tmp_path, monkeypatch):
    """Pillow warns of a decompression bomb from 89 MP, below a 100 MP camera's photo: such
    photos are read; beyond twice that (Pillow's own error) the file is refused."""
    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 6000)  # 10,000 px: in the warning band
    assert open_image(tmp_path / "big.png").size == (100, 100)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4000)  # beyond twice the limit
    with pytest.raises(ImageError, match="big.png: cannot decode image"):
        open_image(tmp_path / "big.png")
