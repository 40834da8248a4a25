"""Building the methods of `inpaint.registry` for the benchmark and the `inpaint` command.

`build_method` builds a method once from `MethodSettings`: its `fill` maps a batch of uint8
images (N x H x W x 3) and known-masks (N x H x W, 1 = known) to its raw uint8 output, and it
carries the model file or folder it read, that model's resolution and its record (what its
inference supports). Whether the known pixels are put back before scoring (pasted, or
Poisson-blended: `inpaint.api.blending`) is the record's `composite` flag, so that the paper's
method can also be scored raw.

Importing this module is cheap: torch, OpenCV and scikit-image load inside the builders, when
a method is built, so that `inpaint --help` and argument errors answer at once.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from inpaint.device import get_device
from inpaint.registry import METHODS, Method, model_of

if TYPE_CHECKING:
    import torch

InpaintFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True)
class MethodSettings:
    model: Path | None = None  # the method's model file or folder elsewhere (the CLI's --model)
    models_dir: Path = Path("models")  # where each model's default path is (models/<path>)
    device: torch.device = dataclasses.field(default_factory=get_device)
    refine_steps: int = 20
    optim_steps: int = 200
    seed: int = 0


@dataclasses.dataclass(frozen=True)
class BuiltMethod:
    """A method built once: its fill, and what it read to make it."""
    method: Method  # the record: composite, refined_by, seeded, ...
    fill: InpaintFn
    model_path: Path | None  # None: it loads no model
    resolution: int | None  # the side of the square its model works at; None without a model


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known methods: {', '.join(METHODS)}")
    return METHODS[name]


def scored_name(method: str, blend_mode: str | None) -> str:
    """The benchmark's name for `method` composited with `blend_mode` ('paste' keeps the plain
    name; None: scored on its raw output)."""
    return method if blend_mode in (None, "paste") else f"{method}+{blend_mode}"


def default_model_path(name: str, models_dir: Path = Path("models")) -> Path | None:
    """Where method `name`'s model is unless another is given: <models_dir>/<its model's
    path>; None for a method that loads no model."""
    get_method(name)  # an unknown name is an error, not a method without a model
    model = model_of(name)
    return Path(models_dir) / model.path if model is not None else None


def build_method(name: str, settings: MethodSettings) -> BuiltMethod:
    """Method `name` with its model (`settings.model`, else its default path) read once."""
    method = get_method(name)
    model = model_of(name)
    path = None
    if model is not None:
        from inpaint.pretrained import ModelFormatError  # here: a classical method needs no torch
        path = Path(settings.model or default_model_path(name, settings.models_dir))
        folder = not model.path.endswith(".pt")
        if folder and not path.is_dir():
            raise ModelFormatError(f"{path}: model folder not found; train one with `dvc repro "
                                   f"{model.stage}` or give an exported model folder")
        if not folder and not path.is_file():
            what = "is a folder, not a model file" if path.is_dir() else "model file not found"
            raise ModelFormatError(f"{path}: {what}; `dvc repro {model.stage}` writes "
                                   f"models/{model.path}")
    family, _, function = method.runs.partition(".")
    fill, resolution = BUILDERS[family](method, function, path, settings)
    return BuiltMethod(method, fill, path, resolution)


def _on_tensors(run: Callable, device: torch.device) -> InpaintFn:
    """`run` (NCHW in [-1, 1], known N1HW) as a function of uint8 images and masks."""
    from inpaint.tensors import known_tensor, to_tensor, to_uint8

    def inpaint(images: np.ndarray, known: np.ndarray) -> np.ndarray:
        return to_uint8(run(to_tensor(images, device), known_tensor(known, device)))
    return inpaint


def _inversion(method: Method, function: str, folder: Path,
               settings: MethodSettings) -> tuple[InpaintFn, int]:
    """`inpaint.paper.inversion.<function>(model, images, known, ...)` on an exported model;
    hybrid inversion also takes `refine_steps`, optimisation `optim_steps` and its random start
    (one generator for the method's life, seeded once)."""
    import torch

    from inpaint.paper import inversion as inversions
    model = inversions.GanInverter.from_folder(folder, settings.device)
    run = getattr(inversions, function)
    extra = {"hybrid_inversion": lambda: (settings.refine_steps,),
             "optimisation_inversion": lambda: (settings.optim_steps,
                                                torch.Generator().manual_seed(settings.seed)),
             }.get(function, tuple)()
    return _on_tensors(lambda x, m: run(model, x, m, *extra), settings.device), model.resolution


def _baseline(method: Method, function: str, path: Path,
              settings: MethodSettings) -> tuple[InpaintFn, int]:
    """A retrained baseline's stage file (`train_<name>`)."""
    from inpaint.baselines.learned import Baseline
    run = Baseline(method.model, path, settings.device, settings.seed)
    return _on_tensors(run, settings.device), run.resolution


def _classical(method: Method, function: str, path: None,
               settings: MethodSettings) -> tuple[InpaintFn, None]:
    """`inpaint.baselines.classical.<function>` image by image; no model."""
    from inpaint.baselines import classical
    fn = getattr(classical, function)
    return (lambda images, known: np.stack([fn(i, k) for i, k in zip(images, known)])), None


BUILDERS = {"inversion": _inversion, "baseline": _baseline, "classical": _classical}
