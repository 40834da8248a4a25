"""The training step of every training stage, rebuilt for measurement by the benchmark scripts.

Each `Step` has the stage's networks, optimisers and loss, built from the repository's
params.yaml (widths, batch size, lr) at a chosen resolution, and reads random uint8 images
and generated masks from memory-mapped .npy files, as the stages read data/prepared/*.npy.
A step is split in two so that data loading can be timed on its own:
`assemble(index, rng)` builds the batch tensors from a global index batch, and
`compute(*batch)` runs the optimisation step. The step bodies mirror stages/train_*.py
(their loops are closures inside `main`); the stages' helper functions are imported.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import lpips
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from inpaint.baselines.losses import AlexFeatures
from inpaint.baselines.networks import GatedConfig, PatchGanConfig, PConvConfig, masked_input
from inpaint.baselines.learned import GatedConvTrainer, PConvTrainer
from inpaint.config import (AutoencoderParams, GanParams, GatedConvParams, InversionParams,
                            PConvParams, load_section)
from inpaint.data.images import load_npy
from inpaint.paper.inversion import GanInverter, InversionTrainer
from inpaint.data.masks import generate_masks
from inpaint.paper.networks import (AutoencoderConfig, Decoder, Discriminator, Encoder, GanConfig,
                                    Generator, InversionConfig, InversionEncoder)
from inpaint.training.loop import batches, epoch_generator, gan_step, random_masks, take, to_tensor

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params.yaml"
STAGES = ("train_ae", "train_gan", "train_pixel_gan", "train_inversion", "train_pconv",
          "train_gatedconv")


def stage_module(name: str) -> ModuleType:
    """A stage script imported as a module (its `main` is not run), for its helpers."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "stages" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclasses.dataclass
class Data:
    """Memory-mapped uint8 images (N x H x W x 3) and known-masks (N x H x W)."""
    images: np.ndarray
    masks: np.ndarray


def make_data(folder: Path, resolution: int, count: int, seed: int = 0) -> Data:
    """Random images and generated free-form masks (10-50% holes), written to `folder` and
    memory-mapped back: content does not change the cost of a step, the read path does."""
    rng = np.random.default_rng(seed)
    np.save(folder / "images.npy", rng.integers(0, 256, (count, resolution, resolution, 3),
                                                dtype=np.uint8))
    np.save(folder / "masks.npy", generate_masks(seed, count, resolution, 0.1, 0.5))
    return Data(load_npy(folder / "images.npy"), load_npy(folder / "masks.npy"))


@dataclasses.dataclass
class Step:
    """One stage's training step, in two timed halves."""
    stage: str
    batch_size: int
    assemble: Callable[[torch.Tensor, torch.Generator], tuple[torch.Tensor, ...]]
    compute: Callable[..., None]
    # network name -> (module, one example input) for `flops_per_image`
    networks: dict[str, tuple[nn.Module, torch.Tensor]]


def _adam(modules: list[nn.Module], params) -> torch.optim.Optimizer:
    weights = [p for m in modules for p in m.parameters()]
    return torch.optim.Adam(weights, lr=params.lr, betas=tuple(params.betas))


def _autoencoder_step(data: Data, device: torch.device) -> Step:
    params = load_section(AutoencoderParams, "ae", PARAMS)
    cfg = AutoencoderConfig(resolution=data.images.shape[1])
    encoder, decoder = Encoder(cfg).to(device), Decoder(cfg).to(device)
    optimizer = _adam([encoder, decoder], params)

    def assemble(index: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor]:
        return (to_tensor(take(data.images, index), device),)

    def compute(x: torch.Tensor) -> None:
        loss = F.l1_loss(decoder(encoder(x)), x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    x = to_tensor(data.images[:1], device)
    return Step("train_ae", params.batch_size, assemble, compute,
                {"E_R": (encoder, x), "Dec": (decoder, encoder(x).detach())})


def _gan_step(data: Data, device: torch.device, space: str) -> Step:
    """train_gan (`feature`: D sees E_R's maps, computed once) or train_pixel_gan."""
    params = load_section(GanParams, "gan", PARAMS)
    encoder = None
    if space == "feature":
        encoder = Encoder(AutoencoderConfig(resolution=data.images.shape[1])).to(device)
        encoder.requires_grad_(False)
    train_gan = stage_module("train_gan")
    reals = train_gan.real_inputs(space, data.images, encoder, device, params.flip)
    cfg = GanConfig(size=reals.shape[-1], channels=reals.shape[2], z_dim=params.z_dim,
                    width=params.width if space == "feature" else params.pixel_width)
    generator, discriminator = Generator(cfg).to(device), Discriminator(cfg).to(device)
    opt_g, opt_d = _adam([generator], params), _adam([discriminator], params)

    def assemble(index: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, ...]:
        z = torch.randn(len(index), cfg.z_dim, generator=rng).to(device)
        return train_gan.draw_reals(reals, index, rng), z

    def compute(real: torch.Tensor, z: torch.Tensor) -> None:
        gan_step(generator, discriminator, opt_g, opt_d, real, z)

    stage = "train_gan" if space == "feature" else "train_pixel_gan"
    return Step(stage, params.batch_size, assemble, compute,
                {"G": (generator, torch.zeros(1, cfg.z_dim, device=device)),
                 "D": (discriminator, reals[0, :1])})


def _inversion_step(data: Data, device: torch.device) -> Step:
    params = load_section(InversionParams, "inversion", PARAMS)
    gan = load_section(GanParams, "gan", PARAMS)
    resolution = data.images.shape[1]
    ae_cfg = AutoencoderConfig(resolution=resolution)
    gan_cfg = GanConfig(size=ae_cfg.map_size, z_dim=gan.z_dim, width=gan.width)
    cfg = InversionConfig(resolution=resolution, z_dim=gan.z_dim, width=params.width,
                          mask_input=params.mask_input)
    model = GanInverter(InversionEncoder(cfg), Generator(gan_cfg), Decoder(ae_cfg),
                        Discriminator(gan_cfg), params.hole_fill).to(device)
    # the optional perceptual and style terms, on an AlexNet of random weights (the same cost)
    features = (AlexFeatures(lpips.LPIPS(net="alex", pretrained=False, pnet_rand=True,
                                         verbose=False)).to(device)
                if params.uses_features else None)
    map_encoder = Encoder(ae_cfg).to(device) if params.discriminator_lr else None
    trainer = InversionTrainer.from_params(model, params, features, map_encoder=map_encoder)

    def assemble(index: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, ...]:
        x = to_tensor(take(data.images, index), device)
        return x, random_masks(data.masks, len(index), rng).to(device)

    x = to_tensor(data.images[:1], device)
    seen = model.encoder_input(x, torch.ones_like(x[:, :1]))
    z = torch.zeros(1, gan.z_dim, device=device)
    maps = model.generator(z)

    def state(lr: float) -> str:
        return " (tuned)" if lr else " (frozen)"

    patch_gan = ({"SN-PatchGAN": (trainer.trained["patch_discriminator"],
                                  torch.cat([x, torch.ones_like(x[:, :1])], 1))}
                 if params.patch_gan_weight else {})
    return Step("train_inversion", params.batch_size, assemble, trainer.step,
                {"E_z": (model.inversion_encoder, seen),
                 "G" + state(params.generator_lr): (model.generator, z),
                 "Dec" + state(params.decoder_lr): (model.decoder, maps),
                 "D" + state(params.discriminator_lr): (model.discriminator, maps),
                 **({"E_R (frozen)": (map_encoder, x)} if map_encoder else {}), **patch_gan})


def _baseline_step(data: Data, device: torch.device, method: str) -> Step:
    """train_pconv / train_gatedconv through the stage's trainer. PConv's loss network has
    random weights here (the stage loads LPIPS AlexNet's): the cost is the same."""
    resolution = data.images.shape[1]
    if method == "pconv":
        params = load_section(PConvParams, "pconv", PARAMS)
        alexnet = lpips.LPIPS(net="alex", pretrained=False, pnet_rand=True, verbose=False)
        trainer = PConvTrainer(PConvConfig(resolution, params.width), AlexFeatures(alexnet),
                               params.lr, tuple(params.betas), device)
    else:
        params = load_section(GatedConvParams, "gatedconv", PARAMS)
        trainer = GatedConvTrainer(GatedConfig(resolution, params.width),
                                   PatchGanConfig(resolution, params.disc_width), params.lr,
                                   tuple(params.betas), params.gan_weight, device)

    def assemble(index: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, ...]:
        x = to_tensor(take(data.images, index), device)
        return x, random_masks(data.masks, len(index), rng).to(device)

    def compute(x: torch.Tensor, known: torch.Tensor) -> None:
        trainer.step(x, known)

    example = masked_input(to_tensor(data.images[:1], device),
                           torch.from_numpy(data.masks[:1]).float()[:, None].to(device))
    networks = {name: (module, example) for name, module in trainer.modules.items()}
    return Step(f"train_{method}", params.batch_size, assemble, compute, networks)


def build_step(stage: str, data: Data, device: torch.device) -> Step:
    """The step of `stage` (one of STAGES) at the resolution of `data`."""
    torch.manual_seed(0)
    builders = {
        "train_ae": lambda: _autoencoder_step(data, device),
        "train_gan": lambda: _gan_step(data, device, "feature"),
        "train_pixel_gan": lambda: _gan_step(data, device, "pixel"),
        "train_inversion": lambda: _inversion_step(data, device),
        "train_pconv": lambda: _baseline_step(data, device, "pconv"),
        "train_gatedconv": lambda: _baseline_step(data, device, "gatedconv"),
    }
    return builders[stage]()


def synchronise(device: torch.device) -> None:
    """Wait for queued GPU work, so that wall-clock times are the work's."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclasses.dataclass
class Timing:
    images_per_s: list[float]  # one figure per run
    assembly_fraction: float  # of the step's wall time, over all timed steps

    @property
    def median(self) -> float:
        return statistics.median(self.images_per_s)


def global_batches(count: int, batch_size: int,
                   seed: int = 0) -> Iterator[tuple[torch.Tensor, torch.Generator]]:
    """A stage's global index batches, epoch after epoch, each with the generator that the
    stage draws that batch's masks and noise from."""
    for epoch in itertools.count():
        rng = epoch_generator(seed, epoch)
        for index in batches(count, batch_size, rng):
            yield index, rng


def time_step(step: Step, count: int, device: torch.device, runs: int,
              steps_per_run: int) -> Timing:
    """Images per second of `runs` runs of `steps_per_run` steps each (after one warm-up
    step), and the share of the time spent assembling batches. Batches follow the stages'
    global shuffled order (`batches` with per-epoch generators)."""
    source = global_batches(count, step.batch_size)
    step.compute(*step.assemble(*next(source)))  # warm-up: allocator, kernel selection
    synchronise(device)
    rates, assembling, total = [], 0.0, 0.0
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(steps_per_run):
            t0 = time.perf_counter()
            batch = step.assemble(*next(source))
            synchronise(device)
            assembling += time.perf_counter() - t0
            step.compute(*batch)
        synchronise(device)
        elapsed = time.perf_counter() - start
        total += elapsed
        rates.append(steps_per_run * step.batch_size / elapsed)
    return Timing(rates, assembling / total)
