"""The compute limit: how close each training stage comes to the machine's matmul rate.

Prints, at one resolution (params.yaml's widths and batch sizes):
- the forward FLOPs per image of every network (`inpaint.nn.flops.flops_per_image`);
- the FLOPs per image of a whole training step (forward, backward, every network the loss
  passes through), counted by torch.utils.flop_counter on one real step;
- the machine's measured fp32 matmul rate (median of several n x n products), the stage's
  images/s and the share of that rate it reaches;
- where the time of one training step goes: a torch.profiler profile of the step's compute,
  its self time grouped by kind of operation, and the top operations of one stage.

    OMP_NUM_THREADS=1 python profiling/compute_limit.py --resolution 64
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from inpaint.device import get_device, set_threads
from inpaint.nn.flops import flops_per_image
from common import PARAMS, first_batch, make_data, synchronise, time_step
from inpaint.training.trainers import STAGES, Trainer, untrained

COUNT = 256  # images in the memory-mapped benchmark set
# (label, test on the lower-cased operation name); the first match wins. Operations run
# inside the optimiser's step count as "optimiser" whatever their name.
KINDS = (
    ("conv backward", lambda n: "conv" in n and "backward" in n),
    ("conv forward", lambda n: "conv" in n),
    ("matmul", lambda n: any(k in n for k in ("addmm", "aten::mm", "bmm", "matmul", "linear"))),
    ("batch norm", lambda n: "batch_norm" in n),
)


def matmul_gflops(device: torch.device, size: int, runs: int = 10) -> float:
    """Median fp32 GFLOP/s of size x size matrix products (2 size^3 FLOPs each)."""
    a, b = (torch.randn(size, size, device=device) for _ in range(2))
    a @ b  # warm-up
    rates = []
    for _ in range(runs):
        synchronise(device)
        start = time.perf_counter()
        a @ b
        synchronise(device)
        rates.append(2 * size ** 3 / (time.perf_counter() - start) / 1e9)
    return statistics.median(rates)


def step_flops_per_image(trainer: Trainer) -> float:
    """FLOPs of one whole training step (all matmuls and convolutions, forward and backward),
    per image of the batch."""
    batch = first_batch(trainer)
    with FlopCounterMode(display=False) as counter:
        trainer.step(*batch)
    return counter.get_total_flops() / trainer.params.batch_size


def profile_step(trainer: Trainer, device: torch.device) -> profile:
    """A profile of one step's compute (after the warm-up done by the timing)."""
    batch = first_batch(trainer)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda"
                                           else [])
    with profile(activities=activities) as prof:
        trainer.step(*batch)
        synchronise(device)
    return prof


def _in_optimiser(event) -> bool:
    while event is not None:
        if event.name.startswith("Optimizer.step"):
            return True
        event = event.cpu_parent
    return False


def time_by_kind(prof: profile) -> dict[str, float]:
    """Shares of the profile's CPU self time by kind of operation."""
    shares = {label: 0.0 for label, _ in KINDS} | {"optimiser": 0.0, "other": 0.0}
    for event in prof.events():
        name = event.name.lower()
        label = "optimiser" if _in_optimiser(event) else next(
            (label for label, test in KINDS if test(name)), "other")
        shares[label] += event.self_cpu_time_total
    total = sum(shares.values()) or 1.0
    return {label: value / total for label, value in shares.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--runs", type=int, default=3, help="timed runs (the median is used)")
    parser.add_argument("--steps", type=int, default=2, help="steps per timed run")
    parser.add_argument("--matmul-size", type=int, default=1024)
    parser.add_argument("--profile-stage", choices=STAGES, default="train_inversion",
                        help="the stage whose top operations are listed")
    args = parser.parse_args()
    set_threads()
    device = get_device()
    peak = matmul_gflops(device, args.matmul_size)
    print(f"device {device}, {torch.get_num_threads()} thread(s): fp32 matmul "
          f"{args.matmul_size}x{args.matmul_size}: {peak:.1f} GFLOP/s (median of 10)")
    with tempfile.TemporaryDirectory() as folder:
        data = make_data(Path(folder), args.resolution, COUNT)
        profiles = {}
        print(f"\nforward MFLOPs per image at {args.resolution} px")
        rows = []
        for stage in args.stages:
            trainer = untrained(stage, data, device, PARAMS)
            networks = ", ".join(f"{name} {flops_per_image(module, example) / 1e6:.1f}"
                                 for name, (module, example) in trainer.examples().items())
            print(f"  {stage:<17}{networks}")
            flops = step_flops_per_image(trainer)
            timing = time_step(trainer, device, args.runs, args.steps)
            rows.append((stage, flops, timing.median, timing.assembly_fraction))
            profiles[stage] = profile_step(trainer, device)

    print(f"\ntraining step at {args.resolution} px (median images/s of {args.runs} runs x "
          f"{args.steps} steps)")
    print(f"  {'stage':<17}{'MFLOPs/image':>13}{'images/s':>10}{'GFLOP/s':>9}"
          f"{'of matmul':>11}{'assembly':>10}")
    for stage, flops, rate, assembly in rows:
        achieved = flops * rate / 1e9
        print(f"  {stage:<17}{flops / 1e6:>13.0f}{rate:>10.1f}{achieved:>9.1f}"
              f"{achieved / peak:>11.0%}{assembly:>10.1%}")

    print("\nwhere a step's compute time goes (profiler, share of CPU self time)")
    for stage, prof in profiles.items():
        shares = time_by_kind(prof)
        print(f"  {stage:<17}" + " | ".join(f"{k} {v:.0%}" for k, v in shares.items()))
    if args.profile_stage in profiles:
        sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
        print(f"\ntop operations of one {args.profile_stage} step")
        print(profiles[args.profile_stage].key_averages().table(sort_by=sort, row_limit=12))


if __name__ == "__main__":
    main()
