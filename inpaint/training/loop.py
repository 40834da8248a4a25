"""The epoch loop every training stage shares: seeding, batches, checkpoints with exact resume,
early stopping, the NaN guard and running means of the losses.

Resume is exact: all randomness of epoch e comes from a generator seeded with (seed, e), and a
checkpoint holds the weights, optimiser states and history at an epoch boundary, so an
interrupted run that resumes ends at the same weights as one that never stopped.

Under torchrun (see `distributed`), `batches` gives the global batch order and the stages keep
each rank's slice; `fit` logs, evaluates and checkpoints on rank 0 only, and `Mean` averages
the epoch's losses over ranks.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from inpaint.training import distributed
from inpaint.data.images import atomic_path


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is left in place."""


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """All randomness of one epoch (order, masks, noise) comes from this generator."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def batches(count: int, batch_size: int, generator: torch.Generator,
            drop_last: bool = True) -> Iterator[torch.Tensor]:
    """Shuffled index batches; the last, smaller batch is dropped by default (BatchNorm).

    These are global batches: under torchrun each rank takes its `distributed.shard`, so
    `batch_size` must split evenly over the processes (checked here, before any step).
    """
    distributed.per_rank(batch_size, distributed.world_size())
    order = torch.randperm(count, generator=generator)
    stop = count - count % batch_size if drop_last else count
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]


def take(array: np.ndarray, index: torch.Tensor) -> np.ndarray:
    """Rows of a (memory-mapped) array; sorted reads are faster, order is restored after."""
    index = index.numpy()
    order = np.argsort(index)
    rows = array[index[order]]
    return rows[np.argsort(order)]


def random_masks(pool: np.ndarray, count: int, rng: torch.Generator) -> torch.Tensor:
    """`count` training masks (N x 1 x H x W, 1 = known) from `pool`, randomly flipped."""
    index = torch.randint(len(pool), (count,), generator=rng)
    masks = torch.from_numpy(take(pool, index)).float()[:, None]
    flips = torch.rand(count, 2, generator=rng) < 0.5
    masks[flips[:, 0]] = masks[flips[:, 0]].flip(-1)
    masks[flips[:, 1]] = masks[flips[:, 1]].flip(-2)
    return masks


def check_finite(losses: dict[str, float], epoch: int, step: int) -> None:
    for name, value in losses.items():
        if not math.isfinite(value):
            raise NonFiniteLossError(
                f"loss {name} is {value} at epoch {epoch}, step {step}; "
                f"stopped, the last good checkpoint is kept")


def fingerprint(params: dict, inputs: list[str | Path]) -> str:
    """A hash of a stage's params and input files: a checkpoint resumes only if it matches.

    `epochs` is left out, so that a run whose epoch count is raised (or lowered) resumes.
    """
    kept = {k: v for k, v in params.items() if k != "epochs"}
    digest = hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode())
    for path in inputs:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


class Checkpoint:
    """Weights, optimiser states and history at the end of each epoch, written atomically."""

    def __init__(self, path: str | Path, modules: dict[str, nn.Module],
                 optimizers: dict[str, torch.optim.Optimizer], key: str):
        self.path, self.modules, self.optimizers, self.key = Path(path), modules, optimizers, key

    def save(self, epoch: int, history: list[dict]) -> None:
        state = {"key": self.key, "epoch": epoch, "history": json.dumps(history),
                 "modules": {k: m.state_dict() for k, m in self.modules.items()},
                 "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()}}
        with atomic_path(self.path) as tmp:
            torch.save(state, tmp)

    def restore(self) -> tuple[int, list[dict]]:
        """(epochs done, history) from a matching checkpoint, or (0, []) to start afresh."""
        if not self.path.exists():
            return 0, []
        state = torch.load(self.path, map_location="cpu", weights_only=True)
        if state.get("key") != self.key:
            print(f"{self.path}: made with other params or inputs; starting afresh")
            return 0, []
        for k, m in self.modules.items():
            m.load_state_dict(state["modules"][k])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        print(f"{self.path}: resuming after epoch {state['epoch']}")
        return state["epoch"], json.loads(state["history"])

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclasses.dataclass
class EarlyStop:
    """Stop when evaluation column `metric` (lower is better) has not reached a new best for
    `patience` evaluations (None: never stop early); the weights of `modules` at the best
    evaluation so far are kept in `path`, for the stage to export instead of the last ones.

    Everything it decides is derived from the history, so a resumed run stops where an
    uninterrupted one would.
    """
    metric: str
    patience: int | None
    path: Path
    modules: dict[str, nn.Module]

    def best(self, history: list[dict]) -> tuple[int, float] | None:
        """(epoch, value) of the best evaluation so far, the earliest among ties."""
        rows = [(row["epoch"], row[self.metric]) for row in history if self.metric in row]
        return min(rows, key=lambda r: (r[1], r[0])) if rows else None

    def update(self, history: list[dict]) -> bool:
        """After an evaluated epoch: keep the weights if it is the best; True to stop."""
        best = self.best(history)
        if best is None:
            return False
        if best[0] == history[-1]["epoch"]:
            with atomic_path(self.path) as tmp:
                torch.save({k: m.state_dict() for k, m in self.modules.items()}, tmp)
        since = sum(1 for row in history if self.metric in row and row["epoch"] > best[0])
        return self.patience is not None and since >= self.patience

    def stalled(self, history: list[dict]) -> bool:
        """Whether the last epoch was evaluated and did not reach a new best."""
        best = self.best(history)
        return (best is not None and self.metric in history[-1]
                and best[0] != history[-1]["epoch"])

    def restore_best(self) -> None:
        """Load the best weights into `modules` (no-op when none were evaluated)."""
        if self.path.is_file():
            state = torch.load(self.path, map_location="cpu", weights_only=True)
            for k, m in self.modules.items():
                m.load_state_dict(state[k])

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def fit(epochs: int, train_epoch: Callable[[int, Callable], dict],
        checkpoint: Checkpoint, log: Callable[[list[dict]], None],
        evaluate: Callable[[int], dict] | None = None,
        early_stop: EarlyStop | None = None,
        on_stall: Callable[[], None] | None = None) -> list[dict]:
    """The epoch loop: resume, train, evaluate, log, checkpoint, stop early.

    `train_epoch(epoch, progress)` runs one epoch, calling `progress(losses)` after each step
    (which checks the losses are finite and updates the bar), and returns its mean losses.
    `evaluate(epoch)` may return {} on epochs it skips. `on_stall()` runs on every rank after
    an evaluated epoch that reached no new best of `early_stop`'s metric, before the checkpoint
    (e.g. to lower the learning rates, which the checkpointed optimisers then carry). Under
    torchrun every rank trains and resumes; rank 0 alone shows the bar, evaluates, logs,
    checkpoints and decides to stop early or to call `on_stall` (the history returned by other
    ranks has no evaluation columns), and all ranks meet at the end of each epoch.
    """
    start, history = checkpoint.restore()
    distributed.check_same_on_all_ranks(start, "the checkpointed epoch")
    main = distributed.is_main()
    stop = main and early_stop is not None and early_stop.update(history)  # a resumed stop
    for epoch in range(start, epochs):
        if distributed.main_says(stop):
            if main:
                print(f"stopped early after epoch {epoch}: no new best {early_stop.metric} "
                      f"in {early_stop.patience} evaluations")
            break
        bar = tqdm(desc=f"epoch {epoch + 1}/{epochs}", unit="step", leave=False,
                   disable=not main)
        step = 0

        def progress(losses: dict[str, torch.Tensor]) -> None:
            nonlocal step
            values = {k: float(v.detach()) for k, v in losses.items()}
            check_finite(values, epoch + 1, step)
            step += 1
            bar.update()
            bar.set_postfix({k: f"{v:.4f}" for k, v in values.items()}, refresh=False)

        row = {"epoch": epoch + 1, **train_epoch(epoch, progress)}
        bar.close()
        if main and evaluate is not None:
            row.update(evaluate(epoch))
        history.append(row)
        stalled = main and early_stop is not None and early_stop.stalled(history)
        if on_stall is not None and distributed.main_says(stalled):
            on_stall()
        if main:
            print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in row.items()))
            stop = early_stop is not None and early_stop.update(history)
            checkpoint.save(epoch + 1, history)
            log(history)
        distributed.barrier()
    return history


def scale_learning_rates(optimizers: Iterable[torch.optim.Optimizer], factor: float) -> None:
    """Multiply the learning rate of every parameter group of `optimizers` by `factor`."""
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            group["lr"] *= factor


class Mean:
    """Running means of named losses over an epoch (under torchrun: also over the ranks)."""

    def __init__(self):
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, losses: dict[str, torch.Tensor]) -> None:
        for k, v in losses.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v.detach())
        self.count += 1

    def result(self) -> dict[str, float]:
        """The means; a collective under torchrun, so every rank must call it."""
        return distributed.average({k: v / max(self.count, 1) for k, v in self.sums.items()})
