"""One record per trained model, and the methods built on them: what the stages, the
benchmark, the `inpaint` command, the page and the report all read.

A `Model` names its code by module path (strings), so that reading the records imports no
network and no trainer: the report lists the methods without loading any, and each stage
depends only on the code its own model runs (tests/test_dvc_yaml.py follows these paths, and
checks every record's stage in dvc.yaml). Adding a method is its network module (with a
`NETWORKS` table), its trainer module, its record here and its params section (docs/layout.md).
"""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Model:
    """A trained model: the stage `train_<name>` writes it to models/<path>."""
    name: str
    networks: str  # the module whose `NETWORKS` table rebuilds the model's file
    trainer: str  # 'module:Class' of its `inpaint.training.trainers.base.Trainer`
    path: str  # under the models folder: '<name>.pt' (a stage file) or a folder (exported)
    params: str = ""  # its params.yaml section; default its name
    inpainter: str | None = None  # the network of a stage file that fills holes
    perceptual: bool = False  # its trainer takes LPIPS's AlexNet (models/metric_weights)

    @property
    def stage(self) -> str:
        return f"train_{self.name}"

    @property
    def section(self) -> str:
        return self.params or self.name


@dataclasses.dataclass(frozen=True)
class Method:
    """An inpainting method: how it runs, on which model, and what its inference supports."""
    name: str
    description: str
    runs: str  # 'baseline' (a stage file's `inpainter`), 'inversion.<fn>' or 'classical.<fn>'
    model: str | None = None  # the `Model` it loads; None: it loads nothing
    composite: bool = True  # score M * I + (1 - M) * output, as LaMa, MAT and CoModGAN do
    per_image_optimisation: bool = False  # slow: the benchmark scores it on a subset
    cli: bool = True  # offered by the `inpaint` command (False: a scoring variant of another)
    refined_by: str | None = None  # the method that runs it with `--refine-steps K`
    seeded: bool = False  # draws a random code from `--seed`


MODELS: dict[str, Model] = {}
METHODS: dict[str, Method] = {}


def add_model(model: Model, *methods: Method) -> None:
    """Register `model` and the methods that run it (a retrained baseline: one, its name)."""
    MODELS[model.name] = model
    for method in methods:
        METHODS[method.name] = method


def model_of(method: str) -> Model | None:
    """The record of the model method `method` loads; None for one that loads nothing."""
    name = METHODS[method].model
    return MODELS[name] if name is not None else None


def baseline(name: str, description: str, networks: str, trainer: str, inpainter: str,
             perceptual: bool = False, seeded: bool = False) -> None:
    """A retrained baseline: its model models/<name>.pt, and the one method that runs it."""
    add_model(Model(name, networks, trainer, f"{name}.pt", inpainter=inpainter,
                    perceptual=perceptual),
              Method(name, description, "baseline", model=name, seeded=seeded))


_PAPER, _TRAINERS = "inpaint.paper.networks", "inpaint.training.trainers"
add_model(Model("ae", _PAPER, f"{_TRAINERS}.autoencoder:AutoencoderTrainer", "ae.pt"))
add_model(Model("gan", _PAPER, f"{_TRAINERS}.gan:GanTrainer", "gan.pt"))
add_model(Model("pixel_gan", _PAPER, f"{_TRAINERS}.gan:GanTrainer", "pixel_gan.pt",
                params="gan"))
add_model(
    Model("inversion", _PAPER, f"{_TRAINERS}.inversion:InversionTrainer", "inpainter",
          perceptual=True),
    Method("ours", "learned GAN inversion (the paper): Dec(G(E_z(I_M)))",
           "inversion.learned_inversion", model="inversion", refined_by="ours_hybrid"),
    Method("ours_raw", "the same, scored on the raw decoder output",
           "inversion.learned_inversion", model="inversion", composite=False, cli=False),
    Method("ours_hybrid", "E_z's code refined by gradient steps on z (Lahiri et al. 2019)",
           "inversion.hybrid_inversion", model="inversion", cli=False))
add_model(
    Model("extended", _PAPER, f"{_TRAINERS}.extended:ExtendedInversionTrainer",
          "inpainter_extended", perceptual=True),
    Method("ours_extended", "learned inversion to z and an offset of G's hidden features "
                            "(beyond the paper)", "inversion.learned_inversion",
           model="extended"))
METHODS["optim"] = Method("optim", "optimisation-based inversion from a random z "
                                   "(Yeh et al. 2017)", "inversion.optimisation_inversion",
                          model="inversion", per_image_optimisation=True, seeded=True)
METHODS["telea"] = Method("telea", "OpenCV fast marching (Telea 2004)", "classical.telea")
METHODS["ns"] = Method("ns", "OpenCV Navier-Stokes (Bertalmio et al. 2001)",
                       "classical.navier_stokes")
METHODS["biharmonic"] = Method("biharmonic", "scikit-image biharmonic inpainting",
                               "classical.biharmonic")
baseline("pconv", "partial-convolution U-Net (Liu et al. 2018), retrained here",
         "inpaint.baselines.networks", f"{_TRAINERS}.pconv:PConvTrainer", "pconv_unet",
         perceptual=True)
baseline("gatedconv", "gated-convolution coarse-to-fine generator (Yu et al. 2019), retrained "
                      "here", "inpaint.baselines.networks",
         f"{_TRAINERS}.gatedconv:GatedConvTrainer", "gated_generator")
baseline("comodgan", "co-modulated StyleGAN2 generator (Zhao et al. 2021), retrained here; "
                     "stochastic: --seed", "inpaint.baselines.comodgan",
         f"{_TRAINERS}.comodgan:CoModGanTrainer", "comodgan_generator", seeded=True)
baseline("hifill", "coarse-to-fine generator with attention transfer (Yi et al. 2020), "
                   "retrained here", "inpaint.baselines.hifill",
         f"{_TRAINERS}.hifill:HiFillTrainer", "hifill_generator")
baseline("lama", "fast-Fourier-convolution ResNet (Suvorov et al. 2022), retrained here",
         "inpaint.baselines.lama", f"{_TRAINERS}.lama:LamaTrainer", "lama_generator",
         perceptual=True)
