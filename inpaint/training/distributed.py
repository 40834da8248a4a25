"""Scaling a training stage out: torchrun processes, DistributedDataParallel, GPU speed switches.

A training stage runs unchanged as one process (`python stages/x.py`, the DVC cmd) or under
`torchrun --nproc_per_node N stages/x.py` (torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; the
same holds for multi-node torchrun). Under torchrun:

- the process group uses gloo on the CPU and nccl on CUDA (each rank on cuda:LOCAL_RANK);
- `training.batches` still yields each epoch's *global* batch order, and every rank keeps its
  slice of each global batch (`shard`), also of the per-batch noise and masks drawn for the
  global batch. That is DistributedSampler's job, but the global batch stays the params'
  `batch_size`, every random draw is the one a single process makes, and resume stays exact;
- trained modules are wrapped in DDP (gradients averaged over ranks) and their BatchNorm layers
  are synchronised over ranks, so that N processes compute what one process computes on the
  same global batch, up to float summation order (tests/test_distributed.py);
- rank 0 alone prints, logs, evaluates, checkpoints and writes the outputs; every rank resumes
  from the checkpoint, and the others wait at a barrier while rank 0 finishes.

`INPAINT_TORCHRUN="--nproc_per_node 4"` makes `python stages/x.py` re-execute itself under
torchrun with those arguments, so `dvc repro` switches launcher without editing dvc.yaml; an
environment variable (like INPAINT_DEVICE) is not a tracked parameter, so switching re-runs no
stage.

GPU-only speed switches for the training steps (ignored, with a warning, on the CPU):
INPAINT_AMP=bf16 (autocast), INPAINT_CHANNELS_LAST=1, INPAINT_COMPILE=1 (torch.compile).
"""
from __future__ import annotations

import contextlib
import dataclasses
import inspect
import os
import shlex
import sys
import warnings
from collections.abc import Iterable, Iterator
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.parallel import DistributedDataParallel

from inpaint.device import get_device

TORCHRUN_ENV = "INPAINT_TORCHRUN"
Batch = TypeVar("Batch")


# ---------------------------------------------------------------- processes

def under_torchrun() -> bool:
    """True in a process started by torchrun (or any launcher setting its variables)."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    """Rank 0, the only process that prints, logs, checkpoints and writes outputs."""
    return rank() == 0


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def local_device() -> torch.device:
    """`get_device()`, on the GPU of this node-local rank when CUDA is chosen without index."""
    device = get_device()
    if device.type == "cuda" and device.index is None and under_torchrun():
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def relaunch_under_torchrun() -> None:
    """With INPAINT_TORCHRUN set (and not already under torchrun), replace this process by
    `torchrun <its arguments> <this script and its arguments>`; DVC waits on the same process."""
    arguments = os.environ.get(TORCHRUN_ENV, "").strip()
    if not arguments or under_torchrun():
        return
    command = [sys.executable, "-m", "torch.distributed.run", *shlex.split(arguments),
               sys.argv[0], *sys.argv[1:]]
    print(f"{TORCHRUN_ENV}: {shlex.join(command)}", flush=True)
    sys.stderr.flush()
    os.execv(sys.executable, command)


@contextlib.contextmanager
def launch() -> Iterator[None]:
    """Around a stage's `main()`: relaunch under torchrun if asked, then, under torchrun, join
    the process group (gloo on CPU, nccl on CUDA), silence the other ranks' prints, and on
    success keep every rank until rank 0 has written the outputs. A single process is left
    as it is."""
    relaunch_under_torchrun()
    if not under_torchrun():
        yield
        return
    # nccl on this rank's GPU (`local_device` made it the current one), gloo on the CPU
    dist.init_process_group("nccl" if local_device().type == "cuda" else "gloo")
    if not is_main():
        # every print of a stage is a log line, rank 0's; open for the process's lifetime
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    try:
        yield
        barrier()  # not on error: the others may be inside a collective that never completes
    finally:
        dist.destroy_process_group()


def _collective_device() -> torch.device:
    """nccl reduces only CUDA tensors, gloo CPU ones."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def check_same_on_all_ranks(value: int, what: str) -> None:
    """Stop if ranks disagree, e.g. on the epoch to resume from (a checkpoint folder that is
    not shared between nodes): they would otherwise wait for each other forever."""
    if world_size() == 1:
        return
    low = torch.tensor([value], device=_collective_device())
    high = low.clone()
    dist.all_reduce(low, dist.ReduceOp.MIN)
    dist.all_reduce(high, dist.ReduceOp.MAX)
    if low.item() != high.item():
        raise RuntimeError(f"{what} differs between ranks ({low.item()} to {high.item()}): "
                           f"every rank must see the same checkpoints/ folder")


def main_says(flag: bool) -> bool:
    """Rank 0's `flag` on every rank (e.g. its decision to stop early, taken from an
    evaluation that only rank 0 runs)."""
    if world_size() == 1:
        return flag
    value = torch.tensor([int(flag) if is_main() else 0], device=_collective_device())
    dist.all_reduce(value, dist.ReduceOp.MAX)
    return bool(value.item())


def average(values: dict[str, float]) -> dict[str, float]:
    """The mean over ranks of per-rank values with equal weights (an epoch's mean losses, each
    over equally many per-rank batches): the mean a single process would log."""
    if world_size() == 1 or not values:
        return values
    total = torch.tensor(list(values.values()), dtype=torch.float64, device=_collective_device())
    dist.all_reduce(total)
    return dict(zip(values, (total / world_size()).tolist()))


# ---------------------------------------------------------------- batches

def per_rank(batch_size: int, world: int) -> int:
    """Each rank's share of a global batch; the global batch must split evenly."""
    if batch_size % world:
        raise ValueError(f"batch_size {batch_size} does not split over {world} processes: "
                         f"the global batch is batch_size, each process takes batch_size / "
                         f"{world}; set it to a multiple of {world}")
    return batch_size // world


def shard(batch: Batch) -> Batch:
    """This rank's contiguous slice (along the first axis) of a global batch: indices, noise,
    masks. The whole batch on a single process."""
    size = per_rank(len(batch), world_size())
    return batch[rank() * size:(rank() + 1) * size]


# ---------------------------------------------------------------- synchronised BatchNorm

class _SumOverRanks(torch.autograd.Function):
    """all_reduce(SUM) whose backward is the same sum: each rank's input reaches every rank's
    loss through the shared statistics, and DDP then averages the parameter gradients."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        tensor = tensor.clone()
        dist.all_reduce(tensor)
        return tensor

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlooSyncBatchNorm(_BatchNorm):
    """BatchNorm over the global batch on the CPU (torch's SyncBatchNorm runs on GPUs only).

    Training mode: mean and biased variance over all ranks' inputs (two all-reduces: the
    two-pass variance, as accurate as BatchNorm's), running statistics updated with the
    unbiased global variance. Ranks must hold equally many samples (`shard` ensures it).
    Evaluation mode, or one process: plain BatchNorm, no communication.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or world_size() == 1:
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = x.numel() // x.shape[1] * world_size()
        mean = _SumOverRanks.apply(x.sum(dims)) / count
        centred = x - mean.view(shape)
        var = _SumOverRanks.apply(centred.pow(2).sum(dims)) / count
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = (self.momentum if self.momentum is not None
                            else 1.0 / self.num_batches_tracked.item())
                self.running_mean.lerp_(mean, momentum)
                self.running_var.lerp_(var * count / (count - 1), momentum)
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out


def synchronise_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Every BatchNorm layer of `module` made to normalise over the global batch, in place.
    The layers keep their Parameter and buffer objects: optimisers built before still hold
    them, and state_dict keys are unchanged (checkpoints and exports load into BatchNorm)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if isinstance(child, _BatchNorm) and not isinstance(child, GlooSyncBatchNorm):
            synced = GlooSyncBatchNorm(child.num_features, child.eps, child.momentum,
                                       child.affine, child.track_running_stats)
            synced.weight, synced.bias = child.weight, child.bias
            synced.running_mean, synced.running_var = child.running_mean, child.running_var
            synced.num_batches_tracked = child.num_batches_tracked
            synced.train(child.training)
            setattr(module, name, synced)
        else:
            synchronise_batchnorm(child, device)
    return module


# ---------------------------------------------------------------- GPU speed switches

def _flag(name: str) -> bool:
    value = os.environ.get(name, "0").strip().lower()
    if value not in ("0", "1", "", "false", "true"):
        raise ValueError(f"{name}={value!r}: use 1 (on) or 0 (off)")
    return value in ("1", "true")


@dataclasses.dataclass(frozen=True)
class Speed:
    """Training-step speed switches; each keeps results within a stated tolerance of fp32
    (docs/scaling.md). Environment variables, not params: switching re-runs no stage."""
    bf16: bool = False
    channels_last: bool = False
    compile: bool = False

    @classmethod
    def from_env(cls, device: torch.device) -> Speed:
        amp = os.environ.get("INPAINT_AMP", "").strip().lower()
        if amp not in ("", "fp32", "bf16"):
            raise ValueError(f"INPAINT_AMP={amp!r}: use bf16 (autocast) or fp32 (the default)")
        speed = cls(amp == "bf16", _flag("INPAINT_CHANNELS_LAST"), _flag("INPAINT_COMPILE"))
        if speed != cls() and device.type != "cuda":
            # they pay off only on GPUs (bf16 is emulated on most CPUs): ignore, do not fail
            warnings.warn(f"{speed} applies to CUDA devices only; ignored on {device}")
            return cls()
        return speed


class Accelerated(nn.Module):
    """`module` run under bf16 autocast and/or with channels_last image inputs; outputs are
    cast back to float32, so callers (losses, frozen networks) see what they saw before."""

    def __init__(self, module: nn.Module, device_type: str, speed: Speed):
        super().__init__()
        self.module, self.device_type, self.speed = module, device_type, speed

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        if self.speed.channels_last:
            inputs = tuple(x.contiguous(memory_format=torch.channels_last) if x.dim() == 4
                           else x for x in inputs)
        with torch.autocast(self.device_type, torch.bfloat16, enabled=self.speed.bf16):
            out = self.module(*inputs)
        if isinstance(out, tuple):
            return tuple(o.float() for o in out)
        return out.float()


# BatchNorm buffers are equal on every rank (global statistics): DDP need not broadcast them
# before every forward. torch 2.14 renamed the argument.
_DDP_ARGUMENTS = inspect.signature(DistributedDataParallel).parameters
_NO_BUFFER_BROADCAST = ({"forward_sync_buffers": False} if "forward_sync_buffers" in _DDP_ARGUMENTS
                        else {"broadcast_buffers": False})


def wrap(module: nn.Module, device: torch.device, speed: Speed | None = None) -> nn.Module:
    """The view of a trained module that its training step calls.

    Under torchrun: BatchNorm synchronised over ranks and a DDP wrapper. On CUDA, the switches
    of `Speed.from_env`. One CPU process with no switches: `module` itself. The view shares
    `module`'s parameters, so optimisers, checkpoints and exports keep using `module`.
    """
    speed = Speed.from_env(device) if speed is None else speed
    if speed.channels_last:
        module.to(memory_format=torch.channels_last)
    view = module
    if world_size() > 1:
        synchronise_batchnorm(module, device)
        view = DistributedDataParallel(module, device_ids=[device] if device.type == "cuda"
                                       else None, **_NO_BUFFER_BROADCAST)
    if speed.bf16 or speed.channels_last:
        view = Accelerated(view, device.type, speed)
    if speed.compile:
        view = torch.compile(view)
    return view


def average_gradients(modules: Iterable[nn.Module],
                      optimizers: Iterable[torch.optim.Optimizer]) -> None:
    """DDP's arithmetic for trainers whose step calls methods other than `forward` (DDP hooks
    only `forward`): BatchNorm synchronised, rank 0's weights broadcast, and gradients
    averaged over ranks just before each optimiser step. Unlike DDP, communication does not
    overlap the backward pass. Nothing to do on a single process."""
    if world_size() == 1:
        return
    device = _collective_device()
    for module in modules:
        synchronise_batchnorm(module, device)
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, 0)

    def average_before_step(optimizer: torch.optim.Optimizer, args, kwargs) -> None:
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    dist.all_reduce(p.grad)
                    p.grad.div_(world_size())

    for optimizer in optimizers:
        optimizer.register_step_pre_hook(average_before_step)
