"""The `inpaint` command end to end, through the installed console script, with a tiny model."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import binary_dilation

pytest_plugins = ["fixtures_model"]  # the session-scoped `tiny_model` fixture
pytestmark = pytest.mark.slow

SCRIPT = Path(sys.executable).with_name("inpaint")  # installed by pyproject's [project.scripts]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
MAGENTA = np.array([255, 0, 255], np.uint8)  # hole content the model will not reproduce


def run_cli(*args: object, cwd: Path | None = None,
            command: tuple[str, ...] = (str(SCRIPT),)) -> subprocess.CompletedProcess:
    return subprocess.run([*command, *map(str, args)], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=300, check=False)


def photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def box_hole(width: int, height: int) -> np.ndarray:
    """A hole in the middle covering about a quarter of the image (True = hole)."""
    hole = np.zeros((height, width), bool)
    hole[height // 4:height * 3 // 4, width // 4:width * 3 // 4] = True
    return hole


def damaged(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    image = image.copy()
    image[hole] = MAGENTA
    return image


def mask_image(hole: np.ndarray) -> Image.Image:
    """A mask file's image: white = hole."""
    return Image.fromarray(np.where(hole, 255, 0).astype(np.uint8))


def save_pair(folder: Path, image: Image.Image, hole: np.ndarray,
              name: str = "photo") -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    image_path, mask_path = folder / f"{name}.png", folder / f"{name}_mask.png"
    image.save(image_path)
    mask_image(hole).save(mask_path)
    return image_path, mask_path


def leftovers(folder: Path) -> list[Path]:
    """Temporary files an interrupted atomic write would leave behind."""
    return list(folder.glob(".*")) if folder.is_dir() else []


def test_help_shows_examples_and_runs_as_a_module():
    result = run_cli("--help", command=(sys.executable, "-m", "inpaint.api.cli"))
    assert result.returncode == 0
    assert "examples:" in result.stdout and "inpaint --images" in result.stdout


@pytest.mark.parametrize("width,height,extra", [(70, 45, []), (20, 33, ["--refine-steps", "2"])])
def test_known_pixels_are_kept_bit_for_bit_at_any_size(tiny_model, tmp_path, width, height,
                                                       extra):
    hole = box_hole(width, height)
    image = damaged(photo(width, height), hole)
    image_path, mask_path = save_pair(tmp_path, Image.fromarray(image), hole)
    out = tmp_path / "out" / "result.png"
    # no --model: the default is the pipeline's models/inpainter under the working directory
    result = run_cli(image_path, mask_path, "-o", out, *extra, cwd=tiny_model.parents[1])
    assert result.returncode == 0, result.stderr
    repaired = np.asarray(Image.open(out))
    assert repaired.shape == image.shape
    assert np.array_equal(repaired[~hole], image[~hole])
    assert (repaired[hole] != MAGENTA).any(axis=-1).mean() > 0.9, "the hole is filled"


@pytest.mark.parametrize("method,model", [("pconv", None), ("gatedconv", "gatedconv.pt"),
                                          ("comodgan", None), ("hifill", "hifill.pt"),
                                          ("lama", None), ("ours_extended", None), ("telea", None),
                                          ("biharmonic", None)])
def test_every_method_keeps_known_pixels_bit_for_bit(tiny_model, tmp_path, method, model):
    width, height = 70, 45
    hole = box_hole(width, height)
    image = damaged(photo(width, height), hole)
    image_path, mask_path = save_pair(tmp_path, Image.fromarray(image), hole)
    out = tmp_path / "result.png"
    extra = ["--model", tiny_model.parent / model] if model else []
    # without --model: the default is models/pconv.pt (models/inpainter_extended) under the
    # working directory
    result = run_cli(image_path, mask_path, "-o", out, "--method", method, *extra,
                     cwd=tiny_model.parents[1])
    assert result.returncode == 0, result.stderr
    repaired = np.asarray(Image.open(out))
    assert repaired.shape == image.shape
    assert np.array_equal(repaired[~hole], image[~hole])
    assert (repaired[hole] != MAGENTA).any(axis=-1).mean() > 0.9, "the hole is filled"


def test_help_lists_the_methods():
    result = run_cli("--help")
    assert result.returncode == 0
    for method in ("ours", "ours_extended", "optim", "telea", "ns", "biharmonic", "pconv",
                   "gatedconv", "comodgan", "hifill", "lama"):
        assert f"\n  {method} " in result.stdout, method
    assert "--upsample {cra,bicubic}" in result.stdout and "--seed N" in result.stdout


def test_unknown_method_and_misplaced_options_are_usage_errors(tiny_model, tmp_path):
    image_path, mask_path = save_pair(tmp_path, Image.fromarray(photo(40, 30)), box_hole(40, 30))
    out = tmp_path / "result.png"
    for extra, says in [(["--method", "nope"], "invalid choice: 'nope'"),
                        (["--method", "ours_raw"], "invalid choice: 'ours_raw'"),
                        (["--method", "telea", "--model", tiny_model], "uses no model"),
                        (["--method", "pconv", "--refine-steps", "3"],
                         "--refine-steps applies to --method ours"),
                        (["--upsample", "lanczos"], "invalid choice: 'lanczos'"),
                        (["--method", "comodgan", "--seed", "1.5"],
                         "--seed: invalid non_negative value: '1.5'"),
                        (["--seed", "-2"], "-2: must be 0 or more")]:
        result = run_cli(image_path, mask_path, "-o", out, *extra)
        assert result.returncode == 2 and says in result.stderr, (extra, result.stderr)
        assert not out.exists()


def test_missing_baseline_model_names_the_file_and_its_stage(tmp_path):
    image_path, mask_path = save_pair(tmp_path, Image.fromarray(photo(40, 30)), box_hole(40, 30))
    out = tmp_path / "result.png"
    result = run_cli(image_path, mask_path, "-o", out, "--method", "gatedconv", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == ("inpaint: error: models/gatedconv.pt: model file not "
                                     "found; `dvc repro train_gatedconv` writes "
                                     "models/gatedconv.pt")
    assert not out.exists() and not leftovers(tmp_path)


def test_python_api_runs_any_registry_method(tiny_model):
    from inpaint import Inpainter

    hole = box_hole(50, 30)
    rgb = damaged(photo(50, 30), hole)
    pconv = Inpainter.from_pretrained(tiny_model.parent / "pconv.pt", device="cpu",
                                      method="pconv")
    telea = Inpainter.from_pretrained(method="telea")
    assert pconv.resolution == 32 and telea.resolution is None
    for inpainter in (pconv, telea):
        result = inpainter.inpaint(rgb, hole)
        assert result.shape == rgb.shape and np.array_equal(result[~hole], rgb[~hole])
    with pytest.raises(ValueError,
                       match="unknown method 'nope'; methods: ours, ours_extended, optim"):
        Inpainter.from_pretrained(method="nope")
    with pytest.raises(ValueError, match="only method 'ours' refines"):
        Inpainter.from_pretrained(method="telea", refine_steps=2)


def test_seed_draws_comodgan_code_and_upsample_is_checked(tiny_model):
    """One seed, one fill (the benchmark scores seed 0); another seed, another fill."""
    from inpaint import Inpainter

    hole = box_hole(50, 30)
    rgb = damaged(photo(50, 30), hole)
    model = tiny_model.parent / "comodgan.pt"
    fills = [Inpainter.from_pretrained(model, device="cpu", method="comodgan", seed=seed,
                                       blend="paste").inpaint(rgb, hole) for seed in (0, 0, 7)]
    assert np.array_equal(fills[0], fills[1]) and not np.array_equal(fills[0], fills[2])
    for bad in ("3", -1, 2.0, True):
        with pytest.raises(ValueError, match="seed=.*must be an integer, 0 or more"):
            Inpainter.from_pretrained(model, device="cpu", method="comodgan", seed=bad)
    with pytest.raises(ValueError, match="upsample='lanczos': expected one of cra, bicubic"):
        Inpainter.from_pretrained(method="telea", upsample="lanczos")


def test_a_model_loaded_in_the_background_fills_as_one_loaded_first(tiny_model):
    """`background=True` (the command's way: the photo is prepared while torch loads) gives
    the same photo, resized for the resolution the model folder's config states; a config
    that disagrees with the loaded model, or a model that does not load, is an error at the
    first `inpaint`."""
    from inpaint import Inpainter
    from inpaint.pretrained import ModelFormatError

    hole = box_hole(90, 70)  # larger than the 32 px model: CRA and the rectangles run too
    rgb = damaged(photo(90, 70), hole)
    loaded_first = Inpainter.from_pretrained(tiny_model, device="cpu").inpaint(rgb, hole)
    background = Inpainter.from_pretrained(tiny_model, device="cpu", background=True)
    assert background._stated_resolution == 32 and background.resolution == 32
    assert np.array_equal(background.inpaint(rgb, hole), loaded_first)
    wrong = Inpainter.from_pretrained(tiny_model, device="cpu", background=True)
    wrong._stated_resolution = 64
    with pytest.raises(ModelFormatError, match="states resolution 64 but it loads at 32"):
        wrong.inpaint(rgb, hole)
    missing = Inpainter.from_pretrained(tiny_model.parent / "nowhere", background=True)
    with pytest.raises(ModelFormatError, match="nowhere: model folder not found"):
        missing.inpaint(rgb, hole)


def test_python_api_returns_what_it_was_given(tiny_model):
    from inpaint import Inpainter

    inpainter = Inpainter.from_pretrained(tiny_model, device="cpu")
    hole = box_hole(50, 30)
    rgb = damaged(photo(50, 30), hole)
    grey = rgb[..., 0]
    rgba = np.dstack([rgb, np.full((30, 50), 77, np.uint8)])
    for image in (rgb, grey, rgba):
        result = inpainter.inpaint(image, hole)
        assert isinstance(result, np.ndarray)
        assert result.shape == image.shape and result.dtype == image.dtype
        assert np.array_equal(result[~hole], image[~hole])
    result = inpainter.inpaint(Image.fromarray(rgb), mask_image(hole))
    assert isinstance(result, Image.Image) and result.mode == "RGB" and result.size == (50, 30)
    batch = inpainter.inpaint_batch([Image.fromarray(rgb), grey[:20, :10]],
                                    [mask_image(hole), box_hole(10, 20)])
    assert isinstance(batch[0], Image.Image) and batch[1].shape == (20, 10)


def test_rgba_alpha_is_kept(tiny_model, tmp_path):
    hole = box_hole(50, 40)
    alpha = np.tile(np.linspace(0, 255, 50).astype(np.uint8), (40, 1))
    image = np.dstack([damaged(photo(50, 40), hole), alpha])
    image_path, mask_path = save_pair(tmp_path, Image.fromarray(image), hole)
    out = tmp_path / "result.png"
    result = run_cli(image_path, mask_path, "-o", out, "--model", tiny_model)
    assert result.returncode == 0, result.stderr
    repaired = Image.open(out)
    assert repaired.mode == "RGBA"
    repaired = np.asarray(repaired)
    assert np.array_equal(repaired[..., 3], alpha)
    assert np.array_equal(repaired[~hole], image[~hole])


def test_grey_palette_16_bit_and_cmyk_inputs(tiny_model, tmp_path):
    hole = box_hole(48, 40)
    source = Image.fromarray(damaged(photo(48, 40), hole))
    sixteen = np.asarray(source)[..., 0].astype(np.uint16) * 257 // 2 + 1000
    inputs = {  # name: (image, file suffix, expected output mode, the values to keep)
        "grey": (source.convert("L"), ".png", "L", lambda im: np.asarray(im)),
        "palette": (source.convert("P"), ".png", "RGB", lambda im: np.asarray(im.convert("RGB"))),
        "sixteen": (Image.fromarray(sixteen), ".png", "I;16",
                    lambda im: np.asarray(im)),
        "cmyk": (source.convert("CMYK"), ".jpg", "RGB", lambda im: np.asarray(im.convert("RGB"))),
    }
    for name, (image, suffix, _, _) in inputs.items():
        (tmp_path / "images").mkdir(exist_ok=True)
        image.save(tmp_path / "images" / f"{name}{suffix}")
        (tmp_path / "masks").mkdir(exist_ok=True)
        mask_image(hole).save(tmp_path / "masks" / f"{name}.png")
    result = run_cli("--images", tmp_path / "images", "--masks", tmp_path / "masks",
                     "-o", tmp_path / "out", "--model", tiny_model)
    assert result.returncode == 0, result.stderr
    for name, (_, suffix, mode, kept) in inputs.items():
        repaired = Image.open(tmp_path / "out" / f"{name}.png")
        assert repaired.mode == mode, name
        expected = kept(Image.open(tmp_path / "images" / f"{name}{suffix}"))
        assert np.array_equal(np.asarray(repaired)[~hole], expected[~hole]), name


def test_folder_mode_pairs_by_name_and_reports_the_rest(tiny_model, tmp_path):
    images, masks, out = tmp_path / "images", tmp_path / "masks", tmp_path / "out"
    hole = box_hole(40, 30)
    image = Image.fromarray(damaged(photo(40, 30), hole))
    for name in ("a", "b", "c", "e", "sub/d"):
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        image.save(images / f"{name}.png")
    (images / "e.png").write_bytes(b"not an image")
    for name, suffix in (("a", ".png"), ("b", ".bmp"), ("e", ".png"), ("x", ".png"),
                         ("sub/d", ".png")):
        (masks / name).parent.mkdir(parents=True, exist_ok=True)
        mask_image(hole).save(masks / f"{name}{suffix}")
    result = run_cli("--images", images, "--masks", masks, "-o", out, "--model", tiny_model)
    assert result.returncode == 1, "a pair failed (e.png is not an image)"
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["a.png", "b.png", "sub/d.png"]
    assert np.array_equal(np.asarray(Image.open(out / "a.png"))[~hole],
                          np.asarray(image)[~hole])
    assert "done: 3 inpainted" in result.stdout and "failed: 1; skipped: 2" in result.stdout
    assert f"{images / 'e.png'}: cannot decode" in result.stderr
    assert f"{images / 'c.png'}: no mask named c.*" in result.stderr
    assert f"{masks / 'x.png'}: no image named x.*" in result.stderr


@dataclass
class Call:
    """The arguments of one command line, for the bad-input cases to spoil."""
    image: Path
    mask: Path
    out: Path
    model: Path

    def args(self) -> list[object]:
        return [self.image, self.mask, "-o", self.out, "--model", self.model]


def _copy_model(call: Call, tmp: Path) -> Path:
    call.model = Path(shutil.copytree(call.model, tmp / "model_copy"))
    return call.model


def missing_image(call: Call, tmp: Path) -> tuple[Path, str]:
    call.image = tmp / "nowhere.png"
    return call.image, "file not found"


def unreadable_image(call: Call, tmp: Path) -> tuple[Path, str]:
    call.image.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return call.image, "cannot decode"


def missing_mask(call: Call, tmp: Path) -> tuple[Path, str]:
    call.mask = tmp / "no_mask.png"
    return call.mask, "file not found"


def unreadable_mask(call: Call, tmp: Path) -> tuple[Path, str]:
    call.mask.write_text("a text file")
    return call.mask, "cannot decode"


def mask_of_another_size(call: Call, tmp: Path) -> tuple[Path, str]:
    mask_image(box_hole(20, 30)).save(call.mask)
    return call.mask, "--resize-mask"


def unwritable_output_folder(call: Call, tmp: Path) -> tuple[Path, str]:
    (tmp / "a_file").write_text("")
    call.out = tmp / "a_file" / "result.png"
    return call.out, "not written"


def unknown_output_format(call: Call, tmp: Path) -> tuple[Path, str]:
    call.out = call.out.with_suffix(".xyz")
    return call.out, "cannot write '.xyz' images"


def alpha_into_jpeg(call: Call, tmp: Path) -> tuple[Path, str]:
    Image.open(call.image).convert("RGBA").save(call.image)
    call.out = call.out.with_suffix(".jpg")
    return call.out, "cannot write mode RGBA as JPEG"


def missing_model(call: Call, tmp: Path) -> tuple[Path, str]:
    call.model = tmp / "no_model"
    return call.model, "model folder not found"


def model_of_another_version(call: Call, tmp: Path) -> tuple[Path, str]:
    config_path = _copy_model(call, tmp) / "config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "format_version": 99}))
    return call.model, "model format version 99"


def damaged_model_weights(call: Call, tmp: Path) -> tuple[Path, str]:
    weights = _copy_model(call, tmp) / "weights.pt"
    weights.write_bytes(weights.read_bytes()[:1000])
    return weights, "cannot load"


BAD_INPUTS: list[Callable[[Call, Path], tuple[Path, str]]] = [
    missing_image, unreadable_image, missing_mask, unreadable_mask, mask_of_another_size,
    unwritable_output_folder, unknown_output_format, alpha_into_jpeg, missing_model,
    model_of_another_version, damaged_model_weights]


@pytest.mark.parametrize("spoil", BAD_INPUTS, ids=lambda f: f.__name__)
def test_bad_input_gives_one_clear_line_and_no_output(tiny_model, tmp_path, spoil):
    hole = box_hole(40, 30)
    image_path, mask_path = save_pair(tmp_path, Image.fromarray(photo(40, 30)), hole)
    call = Call(image_path, mask_path, tmp_path / "out" / "result.png", tiny_model)
    named, says = spoil(call, tmp_path)
    result = run_cli(*call.args())
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(named) in lines[0] and says in lines[0], result.stderr
    assert not call.out.exists() and not leftovers(call.out.parent)


@pytest.mark.parametrize("mask", [
    Image.fromarray(np.array([[0, 127, 128, 255]], np.uint8)),
    Image.fromarray(np.array([[0, 127, 128, 255]], np.uint8)).convert("RGB"),
    Image.fromarray(np.array([[0, 32767, 32768, 65535]], np.uint16)),
    np.array([[0, 127, 128, 255]], np.uint8),
    np.array([[0, 32767, 32768, 65535]], np.uint16),
    np.array([[0.0, 0.4999, 0.5, 1.0]]),
    np.array([[False, False, True, True]]),
], ids=["L", "RGB", "I;16", "uint8", "uint16", "float", "bool"])
@pytest.mark.filterwarnings("ignore:mask is not binary")
def test_every_kind_of_mask_is_thresholded_at_half_white(mask):
    """Grey levels are compared in their own type (no float copy of a large mask): the hole
    starts at half of white, as when they were scaled to [0, 1] first."""
    from inpaint.api.inpainter import _hole

    hole = _hole(mask, (4, 1), "white-hole", False, "")
    assert hole.tolist() == [[False, False, True, True]]
    assert (~_hole(mask, (4, 1), "black-hole", False, "")).tolist() == hole.tolist()


def test_surprising_masks_work_with_a_warning(tiny_model, tmp_path):
    """Non-binary, empty and all-hole masks; a mask resized or in the black-hole format."""
    height, width = 30, 40
    image = damaged(photo(width, height), box_hole(width, height))
    image_path = tmp_path / "photo.png"
    Image.fromarray(image).save(image_path)
    grey = np.zeros((height, width), np.uint8)
    grey[:, :20], grey[:10, 20:] = 128, 127  # thresholded at 50%: only the left half is hole
    small = np.zeros((15, 20), bool)
    small[4:10, 6:14] = True
    cases = {  # name: (mask image, extra options, expected hole, expected warning)
        "grey": (Image.fromarray(grey), [], grey >= 128, "not binary"),
        "empty": (mask_image(np.zeros_like(grey, bool)), [], grey < 0, "no hole pixels"),
        "full": (mask_image(np.ones_like(grey, bool)), [], grey >= 0, "all hole"),
        "black": (mask_image(~box_hole(width, height)), ["--mask-format", "black-hole"],
                  box_hole(width, height), None),
        "resized": (mask_image(small), ["--resize-mask"],
                    np.kron(small, np.ones((2, 2), bool)), None),
    }
    for name, (mask, extra, hole, warning) in cases.items():
        mask_path, out = tmp_path / f"{name}_mask.png", tmp_path / f"{name}.png"
        mask.save(mask_path)
        result = run_cli(image_path, mask_path, "-o", out, "--model", tiny_model, *extra)
        assert result.returncode == 0, result.stderr
        if warning:
            assert f"{mask_path}: warning: " in result.stderr and warning in result.stderr
        else:
            assert "warning" not in result.stderr, result.stderr
        repaired = np.asarray(Image.open(out))
        assert repaired.shape == image.shape, name
        if name == "resized":  # the upscaled mask edge is interpolated: compare away from it
            hole = binary_dilation(hole, iterations=2)
        assert np.array_equal(repaired[~hole], image[~hole]), name
        if name == "empty":
            assert np.array_equal(repaired, image)


def _shifted_fill(images: np.ndarray, known: np.ndarray) -> np.ndarray:
    """A 'method' whose fill is the true image, 20 grey levels too bright."""
    return np.clip(images.astype(int) + 20, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("mode", ["RGB", "I;16"])
def test_poisson_blend_takes_a_shifted_fill_back_to_the_truth(mode):
    from inpaint.api.inpainter import Inpainter
    y, x = np.mgrid[:40, :48]
    grey = (60 + 2 * x + y).astype(np.uint8)  # a smooth ramp, far from 0 and 255
    if mode == "RGB":
        truth = np.dstack([grey, grey // 2 + 40, 200 - grey // 2])
    else:
        truth = grey.astype(np.uint16) * 257  # 16-bit grey whose 8-bit view is `grey`
    hole = box_hole(48, 40)
    blended = Inpainter(_shifted_fill, None, blend="poisson").inpaint(truth, hole)
    assert blended.dtype == truth.dtype
    assert np.array_equal(blended, truth), "the shift is taken from the border"
    pasted = Inpainter(_shifted_fill, None, blend="paste").inpaint(truth, hole)
    assert np.array_equal(pasted[~hole], truth[~hole])
    assert (pasted[hole].astype(int) - truth[hole]).min() > 0, "pasting keeps the shift"
    with pytest.raises(ValueError, match="blend='mix': expected one of paste, poisson"):
        Inpainter(_shifted_fill, None, blend="mix")


def test_poisson_corrects_a_learned_fills_colour_on_a_photo_larger_than_the_model():
    """A 'model' at 16 px whose fill is the truth 30 grey levels too bright, on a 64 px photo:
    blending takes the shift out, pasting keeps it (issue 31: both used to keep it)."""
    from inpaint.api.inpainter import Inpainter

    def brighter(images: np.ndarray, known: np.ndarray) -> np.ndarray:
        return np.clip(images.astype(int) + 30, 0, 255).astype(np.uint8)

    y, x = np.mgrid[:64, :64]
    grey = (50 + x + y // 2).astype(np.uint8)  # smooth, so resizing loses little
    truth = np.dstack([grey, grey // 2 + 60, 220 - grey // 2])
    hole = box_hole(64, 64)
    error = {}
    for mode in ("poisson", "paste"):
        repaired = Inpainter(brighter, 16, blend=mode).inpaint(truth, hole)
        assert np.array_equal(repaired[~hole], truth[~hole]), mode
        error[mode] = np.abs(repaired[hole].astype(int) - truth[hole]).mean()
    assert error["paste"] > 25, error
    assert error["poisson"] < 3, error


def test_alpha_masks_mark_the_hole_by_transparency(tmp_path):
    """An RGBA mask whose transparent pixels are the hole (image-editing APIs, painting tools)."""
    hole = box_hole(40, 30)
    image = damaged(photo(40, 30), hole)
    image_path = tmp_path / "photo.png"
    Image.fromarray(image).save(image_path)
    cutout = np.zeros((30, 40, 4), np.uint8)  # black everywhere: no hole in its colours
    cutout[..., 3] = np.where(hole, 0, 255)
    mask_path = tmp_path / "cutout.png"
    Image.fromarray(cutout).save(mask_path)

    out = tmp_path / "alpha.png"
    result = run_cli(image_path, mask_path, "-o", out, "--method", "telea",
                     "--mask-format", "alpha")
    assert result.returncode == 0, result.stderr
    repaired = np.asarray(Image.open(out))
    assert np.array_equal(repaired[~hole], image[~hole])
    assert not (repaired[hole] == MAGENTA).all(axis=-1).any(), "the hole is filled"

    result = run_cli(image_path, mask_path, "-o", tmp_path / "white.png", "--method", "telea")
    assert result.returncode == 1
    assert str(mask_path) in result.stderr and "--mask-format alpha" in result.stderr
    assert "transparent" in result.stderr and not (tmp_path / "white.png").exists()

    from inpaint.api.inpainter import Inpainter, InputError
    telea = Inpainter.from_pretrained(method="telea")
    array_result = telea.inpaint(image, cutout, mask_format="alpha")
    assert np.array_equal(array_result, repaired)
    with pytest.raises(InputError, match="no transparency"):
        telea.inpaint(image, mask_image(hole), mask_format="alpha")


def test_lossy_output_warns_and_lossless_formats_keep_known_pixels(tmp_path):
    hole = box_hole(40, 30)
    image = damaged(photo(40, 30), hole)
    image_path, mask_path = save_pair(tmp_path, Image.fromarray(image), hole)
    for suffix in (".png", ".webp", ".tif", ".bmp"):
        out = tmp_path / f"result{suffix}"
        result = run_cli(image_path, mask_path, "-o", out, "--method", "telea")
        assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
        assert np.array_equal(np.asarray(Image.open(out).convert("RGB"))[~hole], image[~hole])
    out = tmp_path / "result.jpg"
    result = run_cli(image_path, mask_path, "-o", out, "--method", "telea")
    assert result.returncode == 0 and out.is_file()
    assert f"{out}: warning: JPEG is not lossless" in result.stderr
    assert "write .png" in result.stderr


def test_the_command_answers_without_loading_the_heavy_libraries():
    """`--help`, `--version` and usage errors must not wait for torch (profiling/startup.py
    measures the time; this checks the cause)."""
    heavy = ("torch", "scipy", "cv2", "skimage", "pandas", "tqdm", "fastapi", "lpips")
    probe = ("import sys, inpaint.api.cli; "
             f"print(' '.join(m for m in {heavy!r} if m in sys.modules))")
    result = run_cli("-c", probe, command=(sys.executable,))
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("inpaint ")
    typo = run_cli("photo.png", "mask.png", "-o", "out.png", "--mehtod", "telea")
    assert typo.returncode == 2 and "unrecognized arguments: --mehtod" in typo.stderr
