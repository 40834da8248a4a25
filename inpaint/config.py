"""Parameters: one frozen dataclass per `params.yaml` section, validated when a stage starts.

Each field may carry validation metadata made by `spec()`: a numeric range, a set of allowed
values, or a free-form check. `load_section` rejects unknown keys, wrong types and out-of-range
values with an error that names the key (`section.key`) and what is allowed, so a typo in
`params.yaml` or in `dvc exp run -S` stops the stage before it writes anything.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Callable

import yaml

PARAMS_FILE = "params.yaml"
PIPELINE_FILE = "dvc.yaml"
RESOLUTIONS = (32, 64, 128, 256, 512, 1024)


class ParamsError(ValueError):
    """A parameter is unknown, of the wrong type or out of range."""


def spec(default: Any, *, low: float | None = None, high: float | None = None,
         choices: tuple | None = None, check: Callable[[Any], str | None] | None = None,
         doc: str = "") -> Any:
    """A dataclass field with validation metadata; `check` returns an error text or None."""
    meta = {"low": low, "high": high, "choices": choices, "check": check, "doc": doc}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check `value` against annotation `tp`; ints are accepted where floats are expected."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, key)
            except ParamsError as err:
                errors.append(str(err))
        raise ParamsError(errors[0] if len(errors) == 1 else
                          f"{key} = {value!r}: expected {_type_name(tp)}")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ParamsError(f"{key} = {value!r}: expected a list")
        (item_tp, *_) = typing.get_args(tp) or (Any,)
        return [_coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float) and isinstance(value, bool):
        raise ParamsError(f"{key} = {value!r}: expected {tp.__name__}, got a boolean")
    if not isinstance(value, tp):
        raise ParamsError(f"{key} = {value!r}: expected {tp.__name__}, "
                          f"got {type(value).__name__}")
    return value


def _check_field(value: Any, meta: typing.Mapping, key: str) -> None:
    if value is None:
        return
    items = value if isinstance(value, list) else [value]
    for item in items:
        if meta.get("choices") is not None and item not in meta["choices"]:
            allowed = ", ".join(repr(c) for c in meta["choices"])
            raise ParamsError(f"{key} = {item!r}: allowed values are {allowed}")
        low, high = meta.get("low"), meta.get("high")
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            if (low is not None and item < low) or (high is not None and item > high):
                raise ParamsError(f"{key} = {item!r}: must be in [{low}, {high}]")
    if meta.get("check") is not None:
        problem = meta["check"](value)
        if problem:
            raise ParamsError(f"{key} = {value!r}: {problem}")


def from_dict(cls: type, section: str, raw: dict | None) -> Any:
    """Build and validate dataclass `cls` from the mapping of `params.yaml` section `section`."""
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{section}: expected a mapping of keys, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ParamsError(f"unknown key {section}.{unknown[0]}; "
                          f"{section} takes: {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in raw.items():
        key = f"{section}.{name}"
        values[name] = _coerce(value, hints[name], key)
        _check_field(values[name], fields[name].metadata, key)
    return cls(**values)


def load_section(cls: type, section: str, path: str | Path = PARAMS_FILE) -> Any:
    """Read `section` of the params file and return it as a validated `cls`."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found")
    with path.open() as fh:
        params = yaml.safe_load(fh) or {}
    if section not in params:
        raise ParamsError(f"{path}: section '{section}' is missing")
    return from_dict(cls, section, params[section])


def increasing(values: list) -> str | None:
    """A `check` for bucket edges and the like."""
    if len(values) < 2 or any(b <= a for a, b in zip(values, values[1:])):
        return "must be at least two strictly increasing numbers"
    return None


def two_betas(values: list) -> str | None:
    if len(values) != 2 or not all(0.0 <= b < 1.0 for b in values):
        return "must be two numbers in [0, 1) (Adam's beta1, beta2)"
    return None


def _source_check(keyword: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        if value != keyword and not Path(value).is_dir():
            return f"must be '{keyword}' or an existing folder (not found: {value})"
        return None
    return check


@dataclasses.dataclass(frozen=True)
class DataParams:
    """`data`: where the images come from and how they are split."""
    source: str = spec("synthetic", check=_source_check("synthetic"),
                       doc="'synthetic' or a folder of images (searched recursively)")
    synthetic_count: int = spec(400, low=16, high=1_000_000)
    resolution: int = spec(64, choices=RESOLUTIONS)
    test_fraction: float = spec(0.1, low=0.0, high=0.9)
    test_count: int | None = spec(None, low=1, doc="overrides test_fraction when set")
    val_fraction: float = spec(0.1, low=0.01, high=0.5,
                               doc="of the non-test images, held out of training to choose "
                                   "epochs and settings (never the test images)")
    max_images: int | None = spec(None, low=2, doc="use only the first N files of a folder")
    min_images: int = spec(16, low=2)
    seed: int = spec(0, low=0)


@dataclasses.dataclass(frozen=True)
class MaskParams:
    """`masks`: where the masks come from, the hole-ratio buckets, and the train/eval pools."""
    source: str = spec("generated", check=_source_check("generated"),
                       doc="'generated' or a folder of mask images (white = hole)")
    generated_count: int = spec(3000, low=10, high=1_000_000)
    buckets: list[float] = spec([0.01, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6], low=0.0, high=1.0,
                                check=increasing)
    eval_fraction: float = spec(0.5, low=0.05, high=0.95)
    seed: int = spec(0, low=0)


@dataclasses.dataclass(frozen=True)
class TrainParams:
    """What every training stage takes: Adam (lr, betas), batch size, epochs, seed. Each
    section below sets its own defaults (`epochs`, `lr`, `betas`) with these ranges."""
    epochs: int = spec(10, low=1, high=100_000)
    batch_size: int = spec(32, low=2, high=65_536)
    lr: float = spec(1e-4, low=1e-7, high=1.0)
    betas: list[float] = spec([0.5, 0.999], check=two_betas)
    seed: int = spec(0, low=0)


def _epochs(default: int) -> int:
    return spec(default, low=1, high=100_000)


def _lr(default: float) -> float:
    return spec(default, low=1e-7, high=1.0)


def _betas(default: list[float]) -> list[float]:
    return spec(default, check=two_betas)


@dataclasses.dataclass(frozen=True)
class AutoencoderParams(TrainParams):
    """`ae`: the autoencoder E_R, Dec (loss L1)."""
    epochs: int = _epochs(8)
    lr: float = _lr(1e-3)
    betas: list[float] = _betas([0.9, 0.999])


@dataclasses.dataclass(frozen=True)
class GanParams(TrainParams):
    """`gan`: the DCGAN in feature-map space; the pixel-space ablation uses the same budget."""
    epochs: int = _epochs(20)
    lr: float = _lr(2e-4)
    z_dim: int = spec(100, low=2, high=4096)
    width: int = spec(32, low=4, high=1024,
                      doc="filters of G's and D's widest-resolution layer (the paper: 64)")
    pixel_width: int = spec(16, low=4, high=1024, doc="the same for the pixel-space ablation")
    flip: bool = spec(True, doc="real maps also from horizontally flipped images (E_R(flip(I)))")
    fid_every: int = spec(5, low=1, doc="epochs between sample FIDs against the validation set")
    fid_samples: int = spec(100, low=2, doc="decoded samples per FID (and validation images)")
    patience: int | None = spec(4, low=1, doc="stop after this many FIDs without a new best "
                                              "(null: train all epochs); the best G is kept")


@dataclasses.dataclass(frozen=True)
class InversionParams(TrainParams):
    """`inversion`: the encoder E_z trained through the frozen G, D and Dec."""
    lr: float = _lr(3e-4)
    betas: list[float] = _betas([0.9, 0.999])
    width: float = spec(0.25, low=0.05, high=4.0, doc="E_z filter multiplier; 1.0 = Table 1")
    lambda_r: float = spec(20.0, low=0.0, high=1e6, doc="weight of the L1 reconstruction loss")
    realism_loss: str = spec("nonsaturating", choices=("nonsaturating", "none"),
                             doc="L_p as -log D(G(z)) (bounded below), or no L_p at all")
    hole_fill: float = spec(0.0, low=-1.0, high=1.0,
                            doc="value of hole pixels in E_z's input, in [-1, 1] units")
    mask_input: bool = spec(False, doc="give E_z the known-mask as a 4th input channel (the "
                                       "paper gives it I_M alone)")
    perceptual_weight: float = spec(0.0, low=0.0, high=1e6,
                                    doc="weight of an L1 loss on LPIPS AlexNet features (relu1-"
                                        "relu3) of the output against I; 0 = the paper's loss")
    generator_lr: float = spec(0.0, low=0.0, high=1.0,
                               doc="> 0: tune G with E_z at this learning rate; 0 = the paper's "
                                   "frozen G")
    decoder_lr: float = spec(0.0, low=0.0, high=1.0,
                             doc="> 0: tune Dec with E_z at this learning rate; 0 = the paper's "
                                 "frozen Dec")
    patience: int | None = spec(3, low=1, doc="stop after this many epochs without a new best "
                                              "validation L1 (null: train all epochs)")
    lr_decay: float = spec(1.0, low=0.01, high=1.0,
                           doc="after each epoch without a new best validation L1, multiply "
                               "every learning rate of the stage (E_z, G, Dec) by this; "
                               "1 = constant, as the paper")


@dataclasses.dataclass(frozen=True)
class ExtendedParams(InversionParams):
    """`extended`: E_z with the extended code (`ours_extended`, beyond the paper), trained like
    `inversion` through the same frozen G, D and Dec, and mask-aware by default."""
    mask_input: bool = spec(True, doc="give E_z the known-mask as a 4th input channel")
    feature_weight: float = spec(1.0, low=0.0, high=1e6,
                                 doc="weight of the mean squared offset of G's hidden features "
                                     "(`feature_regulariser`): keeps the code near what z alone "
                                     "gives")


@dataclasses.dataclass(frozen=True)
class BenchmarkParams:
    """`benchmark`: methods scored on the fixed (image, mask) evaluation pairs."""
    methods: list[str] = spec(["ours", "ours_raw", "ours_hybrid", "ours_extended", "optim",
                               "telea", "ns", "biharmonic", "pconv", "gatedconv", "comodgan",
                               "hifill", "lama"],
                              check=lambda v: None if v else "must not be empty")
    pairs_per_bucket: int | None = spec(10, low=2, doc="evaluation pairs per bucket (null: all)")
    optimisation_pairs_per_bucket: int = spec(4, low=2,
                                              doc="pairs per bucket for per-image optimisation")
    refine_steps: int = spec(20, low=0, high=100_000)
    optim_steps: int = spec(100, low=1, high=100_000)
    batch_size: int = spec(50, low=1, high=4096)
    allow_missing_metrics: bool = spec(False)
    blends: list[str] = spec(["paste", "poisson"], choices=("paste", "poisson"),
                             check=lambda v: None if v else "must not be empty",
                             doc="compositing modes each pasting method is scored with")
    seed: int = spec(0, low=0)


@dataclasses.dataclass(frozen=True)
class DiagnosisParams:
    """`diagnosis`: where the method loses quality, stage by stage, on the validation split."""
    images: int = spec(16, low=2, doc="undamaged validation images for the whole-image rows")
    pairs_per_bucket: int = spec(10, low=2, doc="validation (image, mask) pairs per bucket")
    range_steps: int = spec(150, low=1, high=100_000, doc="Adam steps of the best-code search")
    range_restarts: int = spec(2, low=1, high=100, doc="random starts of the best-code search "
                                                       "(the best of them, per image, counts)")
    range_lr: float = spec(0.05, low=1e-5, high=10.0)
    seam_width: int = spec(3, low=1, high=64, doc="pixels of the hole's ring at its border")
    batch_size: int = spec(60, low=1, high=4096)
    seed: int = spec(0, low=0)


@dataclasses.dataclass(frozen=True)
class ReportParams:
    """`report`: the tables, and the paired intervals of `reference` against every method."""
    reference: str = spec("ours+poisson", doc="the method every other one is compared with")
    bootstrap_resamples: int = spec(300, low=10, high=1_000_000,
                                    doc="resamples of each bucket's pairs")
    confidence: float = spec(0.95, low=0.5, high=0.999, doc="of the percentile intervals")
    seed: int = spec(0, low=0)


@dataclasses.dataclass(frozen=True)
class PConvParams(TrainParams):
    """`pconv`: the partial-convolution U-Net of Liu et al. 2018, retrained as a baseline."""
    epochs: int = _epochs(13)
    lr: float = _lr(1e-3)
    betas: list[float] = _betas([0.9, 0.999])
    width: int = spec(16, low=2, high=1024, doc="filters of the first layer; 64 = Liu et al.")


@dataclasses.dataclass(frozen=True)
class GatedConvParams(TrainParams):
    """`gatedconv`: the gated-convolution generator and SN-PatchGAN of Yu et al. 2019."""
    epochs: int = _epochs(7)
    lr: float = _lr(1e-3)
    width: int = spec(8, low=2, high=1024, doc="generator's cnum; 48 = Yu et al. (v2)")
    disc_width: int = spec(16, low=1, high=1024, doc="SN-PatchGAN's first-layer filters; 64 = Yu")
    gan_weight: float = spec(1.0, low=0.0, high=1e6, doc="weight of the hinge generator loss")


@dataclasses.dataclass(frozen=True)
class CoModGanParams(TrainParams):
    """`comodgan`: the co-modulated StyleGAN2 generator of Zhao et al. 2021, retrained."""
    epochs: int = _epochs(2)
    lr: float = _lr(2e-3)
    betas: list[float] = _betas([0.0, 0.99])
    width: int = spec(16, low=2, high=1024,
                      doc="generator's channels at full resolution, x2 per halving up to 8 x")
    disc_width: int = spec(8, low=2, high=1024,
                           doc="discriminator's channels at full resolution, likewise")
    z_dim: int = spec(64, low=2, high=4096, doc="dimensions of z and w (CoModGAN: 512)")
    mapping_layers: int = spec(2, low=1, high=16, doc="mapping network's layers (CoModGAN: 8)")
    r1_gamma: float = spec(1.0, low=0.0, high=1e6, doc="R1 weight gamma (the penalty x gamma/2)")
    reconstruction_weight: float = spec(0.0, low=0.0, high=1e6,
                                        doc="L1(output, image) in G's loss; 0 = CoModGAN's")


@dataclasses.dataclass(frozen=True)
class HiFillParams(TrainParams):
    """`hifill`: the coarse-to-fine generator with attention transfer of Yi et al. 2020."""
    epochs: int = _epochs(2)
    lr: float = _lr(1e-3)
    betas: list[float] = _betas([0.5, 0.999])
    width: int = spec(12, low=2, high=1024, doc="generator's base filters (HiFillConfig.width)")
    disc_width: int = spec(16, low=1, high=1024, doc="SN-PatchGAN's first-layer filters")
    gan_weight: float = spec(0.1, low=0.0, high=1e6, doc="weight of the hinge generator loss")


@dataclasses.dataclass(frozen=True)
class LamaParams(TrainParams):
    """`lama`: the FFC ResNet generator of Suvorov et al. 2022, retrained."""
    epochs: int = _epochs(2)
    lr: float = _lr(1e-3)
    betas: list[float] = _betas([0.9, 0.999])
    width: int = spec(16, low=2, high=1024, doc="generator's first-layer filters; 64 = LaMa")
    blocks: int = spec(9, low=1, high=64, doc="FFC ResNet blocks; 9 = LaMa-Fourier")
    disc_width: int = spec(16, low=1, high=1024, doc="PatchGAN's first-layer filters; 64 = LaMa")
    known_l1_weight: float = spec(10.0, low=0.0, high=1e6, doc="L1 on known pixels; 10 = LaMa")
    adversarial_weight: float = spec(10.0, low=0.0, high=1e6, doc="G's logistic loss; 10 = LaMa")
    feature_matching_weight: float = spec(100.0, low=0.0, high=1e6,
                                          doc="D feature matching (MSE); 100 = LaMa")
    perceptual_weight: float = spec(30.0, low=0.0, high=1e6,
                                    doc="AlexNet perceptual MSE (LaMa's ResNet-PL: 30)")
    r1_gamma: float = spec(0.001, low=0.0, high=1e6, doc="R1 weight on real images; LaMa's gp_coef")


SECTIONS = {"data": DataParams, "masks": MaskParams, "ae": AutoencoderParams, "gan": GanParams,
            "inversion": InversionParams, "extended": ExtendedParams,
            "benchmark": BenchmarkParams,
            "diagnosis": DiagnosisParams, "report": ReportParams, "pconv": PConvParams,
            "gatedconv": GatedConvParams, "comodgan": CoModGanParams, "hifill": HiFillParams,
            "lama": LamaParams}  # params.yaml's sections, in its order


def training_sections(pipeline_file: str | Path = PIPELINE_FILE) -> list[str]:
    """The params sections of the training stages (those named `train_*` in dvc.yaml): what
    the replicate seed of `inpaint.recipe --seed` sets."""
    stages = yaml.safe_load(Path(pipeline_file).read_text())["stages"]
    sections = [p for name, stage in stages.items() if name.startswith("train_")
                for p in stage.get("params", []) if isinstance(p, str) and "." not in p]
    return list(dict.fromkeys(sections))
