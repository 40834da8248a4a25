"""What every trained model's recipe provides, and the one driver that trains any of them.

A `Trainer` (one module per trained model, beside this one) holds its networks (`modules`,
saved in checkpoints), its optimisers, how a global batch is drawn (`draw`), one optimisation
step (`step`) and its validation (`validate`). `train` runs it epoch by epoch with exact
resume (`checkpoints/<stage>.pt`), the per-epoch log for `dvc plots` and early stopping. The
stage scripts only read params, build a trainer, call `train` and write the outputs; the
profiling scripts build the same trainers to time their steps.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from inpaint.data.images import load_npy
from inpaint.data.writers import write_tsv
from inpaint.evaluation.scoring import score_pairs
from inpaint.nn.flops import describe as describe_network
from inpaint.registry import Model
from inpaint.tensors import known_tensor, to_tensor, to_uint8
from inpaint.training import distributed
from inpaint.training.loop import (Checkpoint, EarlyStop, Mean, batches, epoch_generator,
                                   fingerprint, fit, random_masks, scale_learning_rates, take)

TRAIN, VAL = "data/prepared/train.npy", "data/prepared/val.npy"
TRAIN_MASKS, EVAL_MASKS = "data/masks/train.npy", "data/masks/eval.npy"
VAL_PAIRS = "data/masks/val_pairs.csv"


@dataclass
class TrainingData:
    """What the training stages read: uint8 images (N x H x W x 3, memory-mapped) and, for the
    inpainting models, known-masks (N x H x W, 1 = known) and the validation pairing."""
    train: np.ndarray
    val: np.ndarray
    train_masks: np.ndarray | None = None
    eval_masks: np.ndarray | None = None
    val_pairs: pd.DataFrame | None = None

    @classmethod
    def load(cls, masks: bool = False) -> TrainingData:
        """The prepared splits (and, with `masks`, the mask pools) of the DVC pipeline."""
        if not masks:
            return cls(load_npy(TRAIN), load_npy(VAL))
        return cls(load_npy(TRAIN), load_npy(VAL), load_npy(TRAIN_MASKS), load_npy(EVAL_MASKS),
                   pd.read_csv(VAL_PAIRS))

    @property
    def resolution(self) -> int:
        return self.train.shape[1]


class Trainer(ABC):
    """One trained model's recipe. Subclasses set `stage`, `modules`, `optimizers`, `params`
    (a `config.TrainParams`) and `batch_count` (images an epoch draws from)."""
    stage: str
    params: object
    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    batch_count: int
    early_stop_metric: str | None = None  # validation column (lower is better), if any

    @abstractmethod
    def draw(self, index: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, ...]:
        """This process's share of the global batch `index`, with its random draws from
        `rng` made in the stage's fixed order (so that resume and torchrun stay exact)."""

    @abstractmethod
    def step(self, *batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimisation step; returns the losses to log."""

    def validate(self, epoch: int) -> dict[str, float]:
        """Validation scores after epoch `epoch` (0-based); {} when there is nothing to score."""
        return {}

    def epoch_log(self) -> dict[str, float]:
        """Extra columns of an epoch's log row (e.g. the learning rate)."""
        return {}

    def examples(self) -> dict[str, tuple[nn.Module, torch.Tensor]]:
        """Each network's display name, module and one example input (for sizes and FLOPs)."""
        return {}

    def networks(self) -> dict[str, tuple[object, nn.Module]]:
        """{name: (config, module)} of the trained networks, as `pretrained.save_networks`
        takes them."""
        return {name: (module.cfg, module) for name, module in self.modules.items()}

    def train_epoch(self, epoch: int, progress) -> dict[str, float]:
        rng, mean = epoch_generator(self.params.seed, epoch), Mean()
        for index in batches(self.batch_count, self.params.batch_size, rng):
            losses = self.step(*self.draw(index, rng))
            progress(losses)
            mean.add(losses)
        return {**mean.result(), **self.epoch_log()}


class InpaintingTrainer(Trainer):
    """A trainer of a model that fills holes: batches of training images with masks drawn from
    the training pool (randomly flipped), validated on the validation pairs."""
    data: TrainingData
    device: torch.device

    @abstractmethod
    def fill(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """The model's raw output for images in [-1, 1] with known-masks (N x 1 x H x W)."""

    @property
    @abstractmethod
    def fill_module(self) -> nn.Module:
        """The module whose train/eval mode `fill` depends on."""

    def damaged(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """The damaged image as the model sees it (for the sample grid)."""
        return image * known

    def draw(self, index: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, ...]:
        x = to_tensor(take(self.data.train, distributed.shard(index)), self.device)
        known = distributed.shard(random_masks(self.data.train_masks, len(index), rng))
        return x, known.to(self.device)

    def scores(self) -> pd.DataFrame:
        """L1 and PSNR of every validation pair (raw output and composite), by bucket."""
        return score_pairs(self.fill, self.fill_module, self.data.val, self.data.eval_masks,
                           self.data.val_pairs, self.device)

    def validate(self, epoch: int) -> dict[str, float]:
        scores = self.scores()
        return {"val_l1": float(scores.l1.mean()), "val_psnr": float(scores.psnr.mean())}

    def summary(self) -> dict:
        """metrics/<stage>.json: validation L1 and PSNR, over all pairs and per bucket."""
        scores = self.scores()
        by_bucket = scores.groupby("bucket", sort=False).mean()
        return {"val": {"l1": round(float(scores.l1.mean()), 5),
                        "psnr": round(float(scores.psnr.mean()), 3)},
                "buckets": {b: {k: round(float(v), 4) for k, v in row.items()}
                            for b, row in by_bucket.iterrows()}}

    @torch.no_grad()
    def inpainted(self) -> tuple[np.ndarray, int]:
        """A grid of two validation pairs per bucket (at most 12): damaged, output, composite
        and truth rows; and its column count."""
        was_training = self.fill_module.training
        self.fill_module.eval()
        show = self.data.val_pairs.groupby("bucket", sort=False).head(2)[:12]
        truth = self.data.val[show.image_index.values]
        x = to_tensor(truth, self.device)
        known = known_tensor(self.data.eval_masks[show.eval_mask_index.values], self.device)
        out = self.fill(x, known).clamp(-1, 1)
        rows = [to_uint8(self.damaged(x, known)), to_uint8(out),
                to_uint8(known * x + (1 - known) * out), truth]
        self.fill_module.train(was_training)
        return np.concatenate(rows), len(show)


def trainer_class(model: Model) -> type[Trainer]:
    """The `Trainer` class `model`'s record names ('module:Class'), imported only now, so that
    a stage loads the code of its own model alone."""
    module, _, name = model.trainer.partition(":")
    return getattr(importlib.import_module(module), name)


def baseline_trainer(model: Model, params, data: TrainingData, device: torch.device,
                     features: nn.Module | None = None) -> Trainer:
    """The trainer of a retrained baseline (a model with an `inpainter`): built from its params
    section, the data and, for a perceptual one, LPIPS's AlexNet `features`."""
    cls = trainer_class(model)
    return cls(params, data, features, device) if model.perceptual else cls(params, data, device)


def describe(trainer: Trainer) -> str:
    """One line of the trainer's network sizes, printed when a stage starts."""
    return " | ".join(describe_network(name, module, example)
                      for name, (module, example) in trainer.examples().items())


def train(trainer: Trainer, inputs: list[str | Path], lr_decay: float = 1.0,
          patience: int | None = None) -> tuple[list[dict], EarlyStop | None]:
    """Train for `params.epochs` with resume from checkpoints/<stage>.pt (made with the same
    params and `inputs` files), the log plots/<name>/losses.tsv after each epoch, early
    stopping on `trainer.early_stop_metric` after `patience` evaluations without a new best
    (its best weights restored at the end) and every learning rate times `lr_decay` after an
    evaluation without one. Returns the history and the early stop (None without a metric)."""
    params = trainer.params
    name = trainer.stage.removeprefix("train_")
    checkpoint = Checkpoint(f"checkpoints/{trainer.stage}.pt", trainer.modules,
                            trainer.optimizers, fingerprint(vars(params), inputs))
    early_stop = None
    if trainer.early_stop_metric is not None:
        early_stop = EarlyStop(trainer.early_stop_metric, patience,
                               Path(f"checkpoints/{trainer.stage}.best.pt"), trainer.modules)

    def decay() -> None:
        scale_learning_rates(trainer.optimizers.values(), lr_decay)

    history = fit(params.epochs, trainer.train_epoch, checkpoint,
                  lambda h: write_tsv(h, f"plots/{name}/losses.tsv"), trainer.validate,
                  early_stop, decay if lr_decay < 1 else None)
    if distributed.is_main():
        if early_stop is not None:
            early_stop.restore_best()
            early_stop.remove()
        checkpoint.remove()
    return history, early_stop
