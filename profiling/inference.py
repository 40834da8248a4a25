"""Inference speed of every method of inpaint/api/methods.py: images per second at batch 1 and
batched, the speed ratio ours / optim, and each method's peak memory.

Inputs are synthetic faces and generated free-form masks (10-50% holes) at the resolution of
the exported model given by --model; the learned baselines are read from --models-dir
(models/pconv.pt, models/gatedconv.pt) and skipped, with the reason, when absent. Steps of
ours_hybrid and optim come from params.yaml's `benchmark` section unless given.

Peak memory: the process's peak resident set while the method is built and run (Linux resets
the peak through /proc/self/clear_refs), and its growth over the resident set before; on CUDA
also torch.cuda.max_memory_allocated.

    OMP_NUM_THREADS=1 python profiling/inference.py --model models/inpainter
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from inpaint.config import BenchmarkParams, load_section
from inpaint.device import get_device, set_threads
from inpaint.data.masks import generate_masks
from inpaint.api.methods import METHODS, InpaintFn, MethodSettings, build_method
from inpaint.pretrained import read_inpainter_config
from inpaint.data.synthetic import synthetic_faces

ROOT = Path(__file__).resolve().parents[1]
CLEAR_REFS, STATUS = Path("/proc/self/clear_refs"), Path("/proc/self/status")


def _status_mib(field: str) -> float:
    """VmRSS / VmHWM of this process, in MiB."""
    for line in STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{STATUS} has no {field}")


def reset_peak_memory(device: torch.device) -> float:
    """Start a new peak-memory window; returns the resident MiB now."""
    CLEAR_REFS.write_text("5")  # Linux >= 4.0: VmHWM := VmRSS
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    return _status_mib("VmRSS")


def batch_one(inpaint: InpaintFn, images: np.ndarray, known: np.ndarray) -> float:
    """Images per second of single-image calls: 1 / the median call time (after a warm-up)."""
    inpaint(images[:1], known[:1])
    times = []
    for i in range(len(images)):
        start = time.perf_counter()
        inpaint(images[i:i + 1], known[i:i + 1])
        times.append(time.perf_counter() - start)
    return 1 / statistics.median(times)


def batched(inpaint: InpaintFn, images: np.ndarray, known: np.ndarray, runs: int) -> float:
    """Images per second of one call on the whole batch: the median over `runs` calls."""
    inpaint(images, known)
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        inpaint(images, known)
        rates.append(len(images) / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="an exported model folder")
    parser.add_argument("--models-dir", type=Path, default=None,
                        help="folder of pconv.pt / gatedconv.pt (default: --model's parent)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--batch", type=int, default=16, help="images of the batched call")
    parser.add_argument("--single", type=int, default=8, help="batch-1 calls timed")
    parser.add_argument("--runs", type=int, default=3, help="batched calls timed")
    parser.add_argument("--refine-steps", type=int, default=None)
    parser.add_argument("--optim-steps", type=int, default=None)
    args = parser.parse_args()
    set_threads()
    device = get_device()
    defaults = load_section(BenchmarkParams, "benchmark", ROOT / "params.yaml")
    settings = MethodSettings(
        models_dir=args.models_dir or args.model.parent, device=device,
        refine_steps=args.refine_steps if args.refine_steps is not None
        else defaults.refine_steps,
        optim_steps=args.optim_steps if args.optim_steps is not None else defaults.optim_steps)
    resolution = int(read_inpainter_config(args.model)["resolution"])
    count = max(args.batch, args.single)
    images = synthetic_faces(0, count, resolution)
    known = generate_masks(0, count, resolution, 0.1, 0.5)
    print(f"device {device}, {torch.get_num_threads()} thread(s), {resolution} px, "
          f"refine_steps {settings.refine_steps}, optim_steps {settings.optim_steps}")
    print(f"{'method':<13}{'batch 1 img/s':>14}{f'batch {args.batch} img/s':>16}"
          f"{'peak RSS MiB':>14}{'(+growth)':>11}" + ("  cuda peak MiB" if device.type == "cuda"
                                                      else ""))
    rates = {}
    for name in args.methods:
        start_rss = reset_peak_memory(device)
        try:
            inpaint = build_method(name, settings).fill
        except (OSError, ValueError) as err:  # a learned baseline not trained here
            print(f"{name:<13}skipped: {err}")
            continue
        one = batch_one(inpaint, images[:args.single], known[:args.single])
        many = batched(inpaint, images[:args.batch], known[:args.batch], args.runs)
        rates[name] = (one, many)
        peak = _status_mib("VmHWM")
        cuda = (f"{torch.cuda.max_memory_allocated(device) / 2**20:>16.0f}"
                if device.type == "cuda" else "")
        print(f"{name:<13}{one:>14.2f}{many:>16.2f}{peak:>14.0f}{f'({peak - start_rss:+.0f})':>11}"
              + cuda, flush=True)
    if "ours" in rates and "optim" in rates:
        print(f"speed ratio ours / optim: {rates['ours'][0] / rates['optim'][0]:.0f}x at batch 1, "
              f"{rates['ours'][1] / rates['optim'][1]:.0f}x at batch {args.batch}")
    if "ours" in rates and "ours_extended" in rates:
        print(f"time ratio ours_extended / ours: {rates['ours'][0] / rates['ours_extended'][0]:.2f}"
              f" at batch 1, {rates['ours'][1] / rates['ours_extended'][1]:.2f} at batch "
              f"{args.batch}")


if __name__ == "__main__":
    main()
