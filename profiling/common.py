"""What the training probes share: synthetic data at a chosen resolution, and the timing
of a training stage's step. The steps themselves are the library's trainers
(`inpaint.training.trainers.untrained`), built from the repository's params.yaml."""
from __future__ import annotations

import dataclasses
import itertools
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from inpaint.data.images import load_npy
from inpaint.data.masks import generate_masks
from inpaint.training.loop import batches, epoch_generator
from inpaint.training.trainers import Trainer, TrainingData

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params.yaml"


def make_data(folder: Path, resolution: int, count: int, seed: int = 0) -> TrainingData:
    """Random images and generated free-form masks (10-50% holes), written to `folder` and
    memory-mapped back (content does not change the cost of a step, the read path does); the
    same images serve as the validation set."""
    rng = np.random.default_rng(seed)
    np.save(folder / "images.npy", rng.integers(0, 256, (count, resolution, resolution, 3),
                                                dtype=np.uint8))
    np.save(folder / "masks.npy", generate_masks(seed, count, resolution, 0.1, 0.5))
    images, masks = load_npy(folder / "images.npy"), load_npy(folder / "masks.npy")
    return TrainingData(images, images, masks, masks)


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


def first_batch(trainer: Trainer) -> tuple[torch.Tensor, ...]:
    rng = epoch_generator(0, 0)
    return trainer.draw(next(batches(trainer.batch_count, trainer.params.batch_size, rng)), rng)


def time_step(trainer: Trainer, device: torch.device, runs: int, steps_per_run: int) -> Timing:
    """Images per second of `runs` runs of `steps_per_run` steps each (after one warm-up
    step), and the share of the time spent drawing batches. Batches follow the stages'
    global shuffled order (`batches` with per-epoch generators)."""
    batch_size = trainer.params.batch_size
    source = global_batches(trainer.batch_count, batch_size)
    trainer.step(*trainer.draw(*next(source)))  # warm-up: allocator, kernel selection
    synchronise(device)
    rates, assembling, total = [], 0.0, 0.0
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(steps_per_run):
            t0 = time.perf_counter()
            batch = trainer.draw(*next(source))
            synchronise(device)
            assembling += time.perf_counter() - t0
            trainer.step(*batch)
        synchronise(device)
        elapsed = time.perf_counter() - start
        total += elapsed
        rates.append(steps_per_run * batch_size / elapsed)
    return Timing(rates, assembling / total)
