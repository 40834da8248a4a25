"""Training throughput: images per second of each training stage's step, at 64 and 128 px.

Medians over several runs of a few steps each, with the batch size and widths of params.yaml,
on the device of INPAINT_DEVICE (default: CUDA when available). Also the share of the step's
wall time spent assembling the batch from the memory-mapped uint8 arrays (reading rows,
uint8 -> float, masks): if small, data loading is not the bottleneck.

    OMP_NUM_THREADS=1 python profiling/train_throughput.py --resolutions 64 128
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from inpaint.device import get_device, set_threads
from common import PARAMS, make_data, time_step
from inpaint.training.trainers import STAGES, untrained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--runs", type=int, default=5, help="timed runs (the median is shown)")
    parser.add_argument("--steps", type=int, default=2, help="steps per timed run")
    args = parser.parse_args()
    set_threads()
    device = get_device()
    print(f"device {device}, {torch.get_num_threads()} thread(s), torch {torch.__version__}; "
          f"median of {args.runs} runs x {args.steps} steps")
    print(f"{'stage':<17}{'px':>5}{'batch':>7}{'images/s':>10}{'(min-max)':>16}"
          f"{'ms/step':>9}{'assembly':>10}")
    for resolution in args.resolutions:
        with tempfile.TemporaryDirectory() as folder:
            count = 256
            data = make_data(Path(folder), resolution, count)
            for stage in args.stages:
                trainer = untrained(stage, data, device, PARAMS)
                timing = time_step(trainer, device, args.runs, args.steps)
                batch_size = trainer.params.batch_size
                low, high = min(timing.images_per_s), max(timing.images_per_s)
                print(f"{stage:<17}{resolution:>5}{batch_size:>7}{timing.median:>10.1f}"
                      f"{f'({low:.1f}-{high:.1f})':>16}"
                      f"{1000 * batch_size / timing.median:>9.0f}"
                      f"{timing.assembly_fraction:>9.1%}", flush=True)


if __name__ == "__main__":
    main()
