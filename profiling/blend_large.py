"""Poisson blending (inpaint/api/blending.py) on large photos: wall time, peak memory, what was
solved, and exactness on the known pixels.

Each case is a synthetic photo-like image (smooth colour gradients plus noise), a free-form
hole mask (the strokes and ellipses of inpaint/data/masks.py, sized to the image's short side,
added until the hole ratio is within +-1% of the target) and a fill
= image + a colour offset + noise. Default cases: 6000 x 4000 (24 MP) with 10% and 50% holes,
and 512 x 512 and 64 x 64 with the same ratios for reference.

Time is the median of --repeats blends, as wall time and as the process's CPU time: on a
shared machine the CPU time is the better figure (one thread, so it is the wall time the
blend would take on an idle core). Every case runs in its own subprocess, so memory freed by
one case cannot hide another's peak. Peak memory is the child's peak resident set (VmHWM,
which includes SuperLU's C allocations that tracemalloc cannot see) while blending, after
the inputs are made: the peak is reset through /proc/self/clear_refs (Linux >= 4.0) just
before the first blend, and the growth over the resident set at that moment is printed too.
The last column is the mean absolute error over the hole against the image, blended and (in
brackets) pasted: the blend removes the colour offset, what is left is the fill's noise.

    OMP_NUM_THREADS=1 python profiling/blend_large.py
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from inpaint.api.blending import DEFAULT_MAX_UNKNOWNS, poisson_blend
from inpaint.data.masks import draw_shape

CLEAR_REFS, STATUS = Path("/proc/self/clear_refs"), Path("/proc/self/status")
OFFSET = (12.0, -8.0, 20.0)  # colour shift of the fill, per channel
FILL_NOISE = 4.0  # std of the fill's noise, grey levels


def _status_mib(field: str) -> float:
    """VmRSS / VmHWM of this process, in MiB."""
    for line in STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{STATUS} has no {field}")


def photo(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Smooth colour gradients (an upsampled random field plus a tilted ramp) and noise."""
    channels = []
    yy = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    xx = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    for _ in range(3):
        field = cv2.resize(rng.uniform(40, 215, (6, 9)).astype(np.float32), (width, height),
                           interpolation=cv2.INTER_CUBIC)
        field += rng.uniform(-25, 25) * xx + rng.uniform(-25, 25) * yy
        field += rng.normal(0, 3, (height, width)).astype(np.float32)
        channels.append(np.clip(field, 0, 255).round().astype(np.uint8))
    return np.stack(channels, -1)


def free_form_mask(rng: np.random.Generator, height: int, width: int, ratio: float,
                   tolerance: float = 0.01) -> np.ndarray:
    """A known-mask (1 = known) whose hole ratio is within `tolerance` of `ratio`: shapes
    are added until the ratio is reached, and one that would overshoot is drawn again."""
    hole = np.zeros((height, width), np.uint8)
    count = 0
    while count < (ratio - tolerance) * hole.size:
        trial = hole.copy()
        draw_shape(trial, rng)
        trial_count = int(np.count_nonzero(trial))
        if trial_count <= (ratio + tolerance) * hole.size:
            hole, count = trial, trial_count
    return 1 - hole


def run_case(height: int, width: int, ratio: float, repeats: int, max_unknowns: int,
             seed: int) -> dict:
    """Make the inputs, blend `repeats` times, and measure (in this process)."""
    rng = np.random.default_rng([seed, height, width, int(ratio * 1000)])
    image = photo(rng, height, width)
    known = free_form_mask(rng, height, width, ratio)
    fill = image.astype(np.float32)
    fill += np.asarray(OFFSET, np.float32)
    fill += rng.normal(0, FILL_NOISE, image.shape).astype(np.float32)
    fill = np.clip(fill, 0, 255).round().astype(np.uint8)
    hole = known == 0
    CLEAR_REFS.write_text("5")  # VmHWM := VmRSS
    start_rss = _status_mib("VmRSS")
    times, cpu_times, stats, out = [], [], {}, None
    for _ in range(repeats):
        out = None  # the previous output must not add to the next blend's peak
        start, start_cpu = time.perf_counter(), time.process_time()
        out = poisson_blend(image, known, fill, max_unknowns=max_unknowns, stats=stats)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - start_cpu)
    peak = _status_mib("VmHWM")
    known_error = int(np.abs(out[~hole].astype(np.int16) - image[~hole]).max())
    hole_error = float(np.abs(out[hole].astype(np.float32) - image[hole]).mean())
    fill_error = float(np.abs(fill[hole].astype(np.float32) - image[hole]).mean())
    return dict(size=f"{width} x {height}", ratio=float(hole.mean()), unknowns=int(hole.sum()),
                seconds=statistics.median(times), cpu_seconds=statistics.median(cpu_times),
                peak_mib=peak, growth_mib=peak - start_rss,
                known_error=known_error, hole_error=hole_error, fill_error=fill_error, **stats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["6000x4000", "512x512", "64x64"],
                        help="W x H of each image")
    parser.add_argument("--ratios", nargs="+", type=float, default=[0.1, 0.5])
    parser.add_argument("--repeats", type=int, default=3, help="blends timed per case")
    parser.add_argument("--max-unknowns", type=int, default=DEFAULT_MAX_UNKNOWNS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--case", nargs=3, metavar=("W", "H", "RATIO"),
                        help=argparse.SUPPRESS)  # internal: run one case, print JSON
    args = parser.parse_args()
    if args.case:
        width, height, ratio = int(args.case[0]), int(args.case[1]), float(args.case[2])
        print(json.dumps(run_case(height, width, ratio, args.repeats, args.max_unknowns,
                                  args.seed)))
        return
    print(f"{os.environ.get('OMP_NUM_THREADS', 'all')} thread(s), max_unknowns "
          f"{args.max_unknowns}, repeats {args.repeats}; fill = image + {OFFSET} + "
          f"noise {FILL_NOISE}")
    header = ("| image | hole ratio | hole px | factor | coarse unknowns | band unknowns "
              "| band solver | wall s | CPU s | peak RSS MiB (growth) | max error known "
              "| hole MAE (fill's) |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for size in args.sizes:
        width, height = (int(v) for v in size.lower().split("x"))
        for ratio in args.ratios:
            command = [sys.executable, __file__, "--case", str(width), str(height), str(ratio),
                       "--repeats", str(args.repeats), "--max-unknowns",
                       str(args.max_unknowns), "--seed", str(args.seed)]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"| {size} | {ratio:.0%} | failed: {done.stderr.strip()[-300:]} |")
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"| {r['size']} | {r['ratio']:.1%} | {r['unknowns']:,} | {r['factor']} "
                  f"| {r['coarse_unknowns']:,} | {r['band_unknowns']:,} | {r['band_solver']} "
                  f"| {r['seconds']:.3g} | {r['cpu_seconds']:.3g} "
                  f"| {r['peak_mib']:,.0f} ({r['growth_mib']:+,.0f}) "
                  f"| {r['known_error']} | {r['hole_error']:.2f} ({r['fill_error']:.2f}) |",
                  flush=True)


if __name__ == "__main__":
    main()
