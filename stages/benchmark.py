"""Stage `benchmark`: every method on the fixed (image, mask) evaluation pairs, scored per
hole-ratio bucket (PSNR, hole PSNR, SSIM, LPIPS, FID; `inpaint.evaluation.benchmark`).

A learned method is scored once per compositing mode of `benchmark.blends`: `<method>` pasted,
`<method>+poisson` Poisson-blended (`inpaint.api.blending.composite`, the step the `inpaint`
command and the API take), from the same raw output. Speed is not measured here (it would
change with every run): `profiling/inference.py` prints it.

Prediction is kept apart from scoring: predictions go to data/benchmark/<entry>.npy, the
per-pair scores to data/benchmark/scores.csv, the Inception features behind FID to
data/benchmark/features/ (<method>.npy row for row, real.npy for the test set, for the
report's paired intervals) and the table to metrics/benchmark.json (bucket -> method ->
metric, with N).

`INPAINT_WORKERS=N` (the parallel runner sets it to the cores free when the stage starts)
scores the methods in N one-thread processes, each taking the next method when it is done.
Every method draws from its own seeded generators, so the files are the same bits as one
process at one thread writes; like `OMP_NUM_THREADS`, it re-runs no stage.
"""
from __future__ import annotations

import functools
import json
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from inpaint.arithmetic import pin_process
from inpaint.api.blending import composite
from inpaint.api.methods import MethodSettings, build_method, get_method, scored_name
from inpaint.config import BenchmarkParams, load_section
from inpaint.data.images import atomic_path, load_npy, save_npy
from inpaint.data.writers import write_json
from inpaint.evaluation.benchmark import (blend_modes, method_pairs, metric_context, score,
                                          select_pairs, summarise)
from inpaint.evaluation.metrics import ALL_MASKS, cached_inception_features
from inpaint.device import set_threads

OUT = Path("data/benchmark")
FEATURES = OUT / "features"
WORKERS = "INPAINT_WORKERS"


@functools.cache
def inputs(allow_missing_metrics: bool, pairs_per_bucket: int | None) -> tuple:
    """The metric networks (or None, and why), the test images, the evaluation masks, the
    pairs and the test images' Inception features: loaded once per process."""
    ctx, missing = metric_context(allow_missing_metrics)
    test, eval_masks = load_npy("data/prepared/test.npy"), load_npy("data/masks/eval.npy")
    all_pairs = select_pairs(pd.read_csv("data/masks/eval_pairs.csv"), pairs_per_bucket)
    real_features = (cached_inception_features(np.asarray(test), ctx, OUT / "cache")
                     if ctx else None)
    return ctx, missing, np.asarray(test), np.asarray(eval_masks), all_pairs, real_features


def score_method(name: str, params: BenchmarkParams) -> tuple[list[pd.DataFrame], dict]:
    """Run method `name` on its pairs and score each of its compositing modes: the outputs
    and Inception features go to data/benchmark, the per-pair scores and FIDs are returned."""
    ctx, _, test, eval_masks, all_pairs, real_features = inputs(
        params.allow_missing_metrics, params.pairs_per_bucket)
    method = get_method(name)
    pairs = method_pairs(method, all_pairs, params)
    images = test[pairs.image_index.values]
    known = eval_masks[pairs.eval_mask_index.values]
    settings = MethodSettings(refine_steps=params.refine_steps, optim_steps=params.optim_steps,
                              seed=params.seed)
    inpaint = build_method(name, settings).fill
    print(f"benchmark: {name} on {len(pairs)} pairs ({method.description})", flush=True)
    outputs = np.concatenate([inpaint(images[i:i + params.batch_size],
                                      known[i:i + params.batch_size])
                              for i in range(0, len(images), params.batch_size)])
    frames, fids = [], {}
    for mode in blend_modes(method, params.blends):
        entry = scored_name(name, mode)
        composited = composite(images, known, outputs, mode)
        save_npy(composited, OUT / f"{entry}.npy")
        frame, entry_fids, features = score(entry, pairs, images, known, composited, ctx,
                                            real_features)
        frames.append(frame)
        fids.update(entry_fids)
        if features is not None:
            save_npy(features, FEATURES / f"{entry}.npy")
    return frames, fids


def score_methods(params: BenchmarkParams, workers: int) -> list[tuple[list, dict]]:
    """`score_method` of every method, in `params.methods`' order, in this process or in
    `workers` one-thread processes."""
    if workers <= 1:
        return [score_method(name, params) for name in params.methods]
    os.environ["OMP_NUM_THREADS"] = "1"  # the workers' (they inherit the pinned kernels too)
    with ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"),
                             initializer=set_threads) as pool:
        return list(pool.map(score_method, params.methods, [params] * len(params.methods)))


def main() -> None:
    params = load_section(BenchmarkParams, "benchmark")
    set_threads()
    try:
        workers = int(os.environ.get(WORKERS, "1"))
    except ValueError:
        raise SystemExit(f"{WORKERS}={os.environ[WORKERS]!r}: not a number of processes")
    shutil.rmtree(FEATURES, ignore_errors=True)  # no stale features beside new scores
    FEATURES.mkdir(parents=True, exist_ok=True)
    # the test set's features, computed here once: the workers read them from the cache
    ctx, missing, *_, real_features = inputs(params.allow_missing_metrics,
                                             params.pairs_per_bucket)
    if ctx is not None:
        save_npy(real_features, FEATURES / "real.npy")
    results = score_methods(params, min(workers, len(params.methods)))
    scores = pd.concat([frame for frames, _ in results for frame in frames], ignore_index=True)
    fids = {key: value for _, entry_fids in results for key, value in entry_fids.items()}
    with atomic_path(OUT / "scores.csv") as tmp:
        scores.to_csv(tmp, index=False)
    table = summarise(scores, fids, missing)
    write_json(table, "metrics/benchmark.json")
    print(json.dumps(table[ALL_MASKS], indent=1))


if __name__ == "__main__":
    pin_process()
    main()
