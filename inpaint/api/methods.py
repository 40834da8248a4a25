"""The method registry shared by the benchmark and the `inpaint` command.

A method is built once from `MethodSettings` and then maps a batch of uint8 images
(N x H x W x 3) and known-masks (N x H x W, 1 = known) to its raw uint8 output. Whether the
known pixels are put back before scoring (pasted, or Poisson-blended: `inpaint.api.blending`) is
the method's `composite` flag, so that the paper's method can also be scored raw. Adding a
method is one decorated builder function.

Importing the registry is cheap: torch, OpenCV and scikit-image load inside the builders, when
a method is built, so that `inpaint --help` and argument errors answer at once.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from inpaint.device import get_device

if TYPE_CHECKING:
    import torch

InpaintFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True)
class MethodSettings:
    model_dir: Path | None = None  # a folder method's model elsewhere (the CLI's --model)
    models_dir: Path = Path("models")  # models/<folder> of each folder method, models/<name>.pt
    model_file: Path | None = None  # a learned baseline's file elsewhere (the CLI's --model)
    device: torch.device = dataclasses.field(default_factory=get_device)
    refine_steps: int = 20
    optim_steps: int = 200
    seed: int = 0


@dataclasses.dataclass(frozen=True)
class Method:
    name: str
    description: str
    build: Callable[[MethodSettings], InpaintFn]
    composite: bool = True  # score M * I + (1 - M) * output, as LaMa, MAT and CoModGAN do
    per_image_optimisation: bool = False  # slow: the benchmark scores it on a subset
    model: str | None = None  # 'folder', 'file' or None: see the module docstring
    cli: bool = True  # offered by the `inpaint` command (False: a scoring variant of another)
    folder: str = "inpainter"  # a folder method's model under `models_dir`


METHODS: dict[str, Method] = {}


def register(name: str, description: str, composite: bool = True,
             per_image_optimisation: bool = False, model: str | None = None, cli: bool = True,
             folder: str = "inpainter"):
    def add(build: Callable[[MethodSettings], InpaintFn]):
        METHODS[name] = Method(name, description, build, composite, per_image_optimisation,
                               model, cli, folder)
        return build
    return add


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known methods: {', '.join(METHODS)}")
    return METHODS[name]


def scored_name(method: str, blend_mode: str | None) -> str:
    """The benchmark's name for `method` composited with `blend_mode` ('paste' keeps the plain
    name; None: scored on its raw output)."""
    return method if blend_mode in (None, "paste") else f"{method}+{blend_mode}"


def model_folder(name: str, settings: MethodSettings) -> Path:
    """The exported model folder folder method `name` loads: `settings.model_dir` when given,
    else models/<its folder> (models/inpainter for 'ours' and its variants)."""
    return Path(settings.model_dir or Path(settings.models_dir) / get_method(name).folder)


def baseline_path(name: str, settings: MethodSettings) -> Path:
    """The stage file of learned baseline `name`, checked to exist."""
    from inpaint.pretrained import ModelFormatError
    path = Path(settings.model_file or Path(settings.models_dir) / f"{name}.pt")
    if not path.is_file():
        what = "is a folder, not a model file" if path.is_dir() else "model file not found"
        raise ModelFormatError(f"{path}: {what}; `dvc repro train_{name}` writes "
                               f"models/{name}.pt")
    return path


def model_resolution(name: str, settings: MethodSettings) -> int | None:
    """The side of the square method `name`'s model works at; None when it has no model."""
    from inpaint.baselines.learned import BASELINES
    from inpaint.pretrained import network_config, read_inpainter_config
    method = get_method(name)
    if method.model == "folder":
        return int(read_inpainter_config(model_folder(name, settings))["resolution"])
    if method.model == "file":
        return int(network_config(baseline_path(name, settings), BASELINES[name]).resolution)
    return None


def _gan_method(name: str, inversion: str,
                extra_args: Callable[[MethodSettings], tuple] = lambda s: ()):
    """An InpaintFn around method `name`'s exported GAN-inversion model that runs
    `inpaint.paper.inversion.<inversion>(model, images, known, *extra_args(settings))`."""
    def build(settings: MethodSettings) -> InpaintFn:
        from inpaint.paper import inversion as inversions
        from inpaint.tensors import known_tensor, to_tensor, to_uint8
        model = inversions.GanInverter.from_folder(model_folder(name, settings), settings.device)
        run, extra = getattr(inversions, inversion), extra_args(settings)

        def inpaint(images: np.ndarray, known: np.ndarray) -> np.ndarray:
            x, m = to_tensor(images, settings.device), known_tensor(known, settings.device)
            return to_uint8(run(model, x, m, *extra))
        return inpaint
    return build


def _learned_baseline(name: str) -> Callable[[MethodSettings], InpaintFn]:
    """An InpaintFn around a retrained baseline's stage file (`train_<name>`)."""
    def build(settings: MethodSettings) -> InpaintFn:
        from inpaint.baselines.learned import load_baseline
        from inpaint.tensors import known_tensor, to_tensor, to_uint8
        run = load_baseline(name, baseline_path(name, settings), settings.device, settings.seed)

        def inpaint(images: np.ndarray, known: np.ndarray) -> np.ndarray:
            x, m = to_tensor(images, settings.device), known_tensor(known, settings.device)
            return to_uint8(run(x, m))
        return inpaint
    return build


def _classical(name: str) -> Callable[[MethodSettings], InpaintFn]:
    """An InpaintFn running `inpaint.baselines.classical.<name>` image by image."""
    def build(settings: MethodSettings) -> InpaintFn:
        from inpaint.baselines import classical
        fn = getattr(classical, name)
        return lambda images, known: np.stack([fn(i, k) for i, k in zip(images, known)])
    return build


def _optim_args(settings: MethodSettings) -> tuple:
    import torch
    return settings.optim_steps, torch.Generator().manual_seed(settings.seed)


register("ours", "learned GAN inversion (the paper): Dec(G(E_z(I_M)))",
         model="folder")(_gan_method("ours", "learned_inversion"))
register("ours_raw", "the same, scored on the raw decoder output", composite=False,
         model="folder", cli=False)(_gan_method("ours_raw", "learned_inversion"))
register("ours_hybrid", "E_z's code refined by gradient steps on z (Lahiri et al. 2019)",
         model="folder", cli=False,  # the CLI's `--method ours --refine-steps K`
         )(_gan_method("ours_hybrid", "hybrid_inversion", lambda s: (s.refine_steps,)))
register("ours_extended", "learned inversion to z and an offset of G's hidden features "
                          "(beyond the paper)", model="folder",
         folder="inpainter_extended")(_gan_method("ours_extended", "learned_inversion"))
register("optim", "optimisation-based inversion from a random z (Yeh et al. 2017)",
         per_image_optimisation=True, model="folder")(
    _gan_method("optim", "optimisation_inversion", _optim_args))
register("telea", "OpenCV fast marching (Telea 2004)")(_classical("telea"))
register("ns", "OpenCV Navier-Stokes (Bertalmio et al. 2001)")(_classical("navier_stokes"))
register("biharmonic", "scikit-image biharmonic inpainting")(_classical("biharmonic"))
register("pconv", "partial-convolution U-Net (Liu et al. 2018), retrained here", model="file")(
    _learned_baseline("pconv"))
register("gatedconv", "gated-convolution coarse-to-fine generator (Yu et al. 2019), retrained "
                      "here", model="file")(_learned_baseline("gatedconv"))
register("comodgan", "co-modulated StyleGAN2 generator (Zhao et al. 2021), retrained here; "
                     "stochastic: --seed", model="file")(_learned_baseline("comodgan"))
register("hifill", "coarse-to-fine generator with attention transfer (Yi et al. 2020), "
                   "retrained here", model="file")(_learned_baseline("hifill"))
register("lama", "fast-Fourier-convolution ResNet (Suvorov et al. 2022), retrained here",
         model="file")(_learned_baseline("lama"))
