"""How much of the `benchmark` stage is scoring: the cost of each metric per image, and what
it comes to for the entries and pairs that params.yaml's `benchmark` section scores.

Times, on the first `--images` evaluation pairs of the test split (the hole filled with
another test image, so that every metric has work to do), the per-image metrics the stage
computes (PSNR, hole PSNR, SSIM, LPIPS) and the Inception features behind FID (pytorch-fid's
InceptionV3 at 299 px), the median of `--runs` passes each. Then it counts the scored entries
as the stage does (a learned method twice, pasted and blended; a classical or raw method
once; per-image optimisation on its smaller subset of pairs) and prints the scoring time
these costs imply, beside nothing of the methods' own inference (`metrics/timing.json` has
that). Run it from a repository whose `prepare`, `masks` and `metric_weights` stages have
run, with the threads the stage gets:

    OMP_NUM_THREADS=2 python profiling/metric_cost.py --images 200 --runs 3
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from inpaint.api.methods import get_method, scored_name
from inpaint.config import BenchmarkParams, load_section
from inpaint.data.images import load_npy
from inpaint.evaluation.metrics import MetricContext, calc_metric, inception_features
from inpaint.device import set_threads
from inpaint.evaluation import benchmark
from common import PARAMS


def median_seconds(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def scored_pairs(params: BenchmarkParams, pairs: pd.DataFrame) -> list[tuple[str, int]]:
    """(entry, pairs) for every entry the stage scores from all evaluation `pairs`, in its
    order."""
    entries = []
    all_pairs = benchmark.select_pairs(pairs, params.pairs_per_bucket)
    for name in params.methods:
        method = get_method(name)
        count = len(benchmark.method_pairs(method, all_pairs, params))
        entries += [(scored_name(name, mode), count)
                    for mode in benchmark.blend_modes(method, params.blends)]
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    params = load_section(BenchmarkParams, "benchmark", PARAMS)
    set_threads()
    test = np.asarray(load_npy("data/prepared/test.npy"))
    eval_masks = np.asarray(load_npy("data/masks/eval.npy"))
    all_pairs = pd.read_csv("data/masks/eval_pairs.csv")
    timed = all_pairs.head(args.images)
    images = test[timed.image_index.values]
    known = eval_masks[timed.eval_mask_index.values]
    fill = np.roll(images, 1, axis=0)
    fake = np.where(known[..., None] > 0, images, fill).astype(np.uint8)
    ctx = MetricContext(device=torch.device("cpu"))
    inception_features(fake[:2], ctx)  # load the networks before timing
    calc_metric("lpips_alex", images[:2], fake[:2], known[:2], ctx)
    costs = {metric: median_seconds(lambda: calc_metric(metric, images, fake, known, ctx),
                                    args.runs) / len(images)
             for metric in benchmark.PER_IMAGE_METRICS}
    costs["inception (FID)"] = median_seconds(lambda: inception_features(fake, ctx),
                                              args.runs) / len(images)
    per_image = sum(costs.values())
    print(f"{len(images)} images of {images.shape[1]} px, {torch.get_num_threads()} threads, "
          f"median of {args.runs}\n")
    print("| metric | ms / image | share |\n|---|---|---|")
    for metric, seconds in costs.items():
        print(f"| {metric} | {seconds * 1e3:.2f} | {seconds / per_image:.0%} |")
    entries = scored_pairs(params, all_pairs)
    total = sum(count for _, count in entries)
    print(f"\n{len(entries)} scored entries, {total} scored images in all "
          f"(`benchmark` in {PARAMS}): scoring takes about {total * per_image / 60:.1f} min, "
          f"of which Inception {total * costs['inception (FID)'] / 60:.1f} min")


if __name__ == "__main__":
    main()
