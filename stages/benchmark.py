"""Stage `benchmark`: every method on the fixed (image, mask) evaluation pairs, scored per
hole-ratio bucket (PSNR, hole PSNR, SSIM, LPIPS, FID) and timed.

A learned method that pastes the known pixels back is scored once per compositing mode of
`benchmark.blends`: `<method>` pasted, `<method>+poisson` Poisson-blended (`inpaint.api.blending`),
from the same raw output; its timings include the compositing.

Prediction is kept apart from scoring: predictions go to data/benchmark/<entry>.npy, the
per-pair scores to data/benchmark/scores.csv, the Inception features behind FID to
data/benchmark/features/ (<method>.npy row for row, real.npy for the test set, for the
report's paired intervals), the table to metrics/benchmark.json (bucket -> method -> metric,
with N) and the timings to metrics/timing.json.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from inpaint.config import BenchmarkParams, load_section
from inpaint.data.images import atomic_path, load_npy, save_npy
from inpaint.api.blending import composite
from inpaint.api.methods import MethodSettings, get_method, scored_name
from inpaint.evaluation.metrics import (ALL_MASKS, MetricContext, cached_inception_features,
                                        calc_metric, fid_from_features, inception_features)
from inpaint.training.loop import set_threads, write_json
from inpaint.evaluation.weights import MissingWeightsError

OUT = Path("data/benchmark")
PER_IMAGE_METRICS = ("psnr", "psnr_hole", "ssim", "lpips_alex")
NETWORK_METRICS = ("lpips_alex", "fid")
FEATURES = OUT / "features"


def select_pairs(pairs: pd.DataFrame, per_bucket: int | None) -> pd.DataFrame:
    """The first `per_bucket` pairs of every bucket (all when None), in a stable order."""
    if per_bucket is None:
        return pairs.reset_index(drop=True)
    return pairs.groupby("bucket", sort=False).head(per_bucket).reset_index(drop=True)


def method_pairs(method, all_pairs: pd.DataFrame, params: BenchmarkParams) -> pd.DataFrame:
    """The pairs `method` is scored on: a per-image optimisation only on the first
    `optimisation_pairs_per_bucket` of every bucket of `all_pairs`, every other method on all."""
    if method.per_image_optimisation:
        return select_pairs(all_pairs, params.optimisation_pairs_per_bucket)
    return all_pairs


def predict(inpaint, images: np.ndarray, known: np.ndarray, batch_size: int) -> tuple:
    """Outputs of all pairs, and the seconds per image of that batched pass."""
    start = time.perf_counter()
    outputs = np.concatenate([inpaint(images[i:i + batch_size], known[i:i + batch_size])
                              for i in range(0, len(images), batch_size)])
    return outputs, (time.perf_counter() - start) / len(images)


def batch_one_median(inpaint, images: np.ndarray, known: np.ndarray, count: int) -> float:
    """Median seconds of single-image calls (after one warm-up call)."""
    inpaint(images[:1], known[:1])
    times = []
    for i in range(min(count, len(images))):
        start = time.perf_counter()
        inpaint(images[i:i + 1], known[i:i + 1])
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def blend_modes(method, blends: list[str]) -> list[str | None]:
    """The compositing modes `method` is scored with: None (its raw output) for a method scored
    raw; only 'paste' for a classical method, whose raw output already equals the image on
    every known pixel, so that Poisson blending has nothing to correct and would only repeat
    it; every mode of `blends` for a learned method."""
    if not method.composite:
        return [None]
    return blends if method.model is not None else ["paste"]


def metric_context(allow_missing: bool) -> tuple[MetricContext | None, str | None]:
    """The metric networks, or (None, reason) when allowed to go without them."""
    ctx = MetricContext()
    try:
        ctx.lpips_model(), ctx.inception_model()
        return ctx, None
    except MissingWeightsError as err:
        if not allow_missing:
            raise SystemExit(f"benchmark: {err}\nFID and LPIPS need these weights; set "
                             f"benchmark.allow_missing_metrics: true to score without them")
        return None, str(err)


def summarise(scores: pd.DataFrame, fids: dict, missing: str | None) -> dict:
    """bucket (and 'all masks') -> method -> metric means, FID and N."""
    table = {}
    groups = [*scores.groupby(["bucket", "method"], sort=False),
              *(((ALL_MASKS, method), group)
                for method, group in scores.groupby("method", sort=False))]
    for (bucket, method), group in groups:
        row = {"n": len(group)}
        for metric in PER_IMAGE_METRICS:
            values = group[metric].replace([np.inf, -np.inf], np.nan)
            row[metric] = None if values.isna().all() else round(float(values.mean()), 4)
        row["fid"] = fids.get((bucket, method))
        if missing:
            row["missing_metrics"] = missing
        table.setdefault(bucket, {})[method] = row
    return table


def main() -> None:
    params = load_section(BenchmarkParams, "benchmark")
    set_threads()
    ctx, missing = metric_context(params.allow_missing_metrics)
    test, eval_masks = load_npy("data/prepared/test.npy"), load_npy("data/masks/eval.npy")
    all_pairs = select_pairs(pd.read_csv("data/masks/eval_pairs.csv"), params.pairs_per_bucket)
    settings = MethodSettings(refine_steps=params.refine_steps, optim_steps=params.optim_steps,
                              seed=params.seed)
    real_features = (cached_inception_features(np.asarray(test), ctx, OUT / "cache")
                     if ctx else None)
    shutil.rmtree(FEATURES, ignore_errors=True)  # no stale features beside new scores
    FEATURES.mkdir(parents=True, exist_ok=True)
    if ctx is not None:
        save_npy(real_features, FEATURES / "real.npy")
    scores, fids, timing = [], {}, {}

    def score(entry: str, pairs: pd.DataFrame, images: np.ndarray, known: np.ndarray,
              outputs: np.ndarray) -> None:
        """Save, score and collect the FIDs of one scored entry (a method and its compositing)."""
        save_npy(outputs, OUT / f"{entry}.npy")
        frame = pairs[["image_index", "bucket", "eval_mask_index"]].assign(method=entry)
        for metric in PER_IMAGE_METRICS:
            needs_network = metric in NETWORK_METRICS
            frame[metric] = (np.nan if needs_network and ctx is None else
                             calc_metric(metric, images, outputs, known, ctx))
        scores.append(frame)
        if ctx is not None:
            features = inception_features(outputs, ctx)
            save_npy(features, FEATURES / f"{entry}.npy")
            for bucket, rows in [*pairs.groupby("bucket", sort=False).indices.items(),
                                 (ALL_MASKS, np.arange(len(pairs)))]:
                reals = real_features[pairs.image_index.values[rows]]
                fids[(bucket, entry)] = round(fid_from_features(reals, features[rows]), 3)

    for name in params.methods:
        method = get_method(name)
        pairs = method_pairs(method, all_pairs, params)
        images = np.asarray(test)[pairs.image_index.values]
        known = np.asarray(eval_masks)[pairs.eval_mask_index.values]
        inpaint = method.build(settings)
        print(f"benchmark: {name} on {len(pairs)} pairs ({method.description})")
        outputs, batched = predict(inpaint, images, known, params.batch_size)
        batch1 = batch_one_median(inpaint, images, known, params.timing_images)
        for mode in blend_modes(method, params.blends):
            entry = scored_name(name, mode)
            start = time.perf_counter()
            composited = composite(images, known, outputs, mode)
            extra = (time.perf_counter() - start) / len(images)  # compositing, per image
            score(entry, pairs, images, known, composited)
            timing[entry] = {"batch1_median_s": round(batch1 + extra, 5),
                             "batched_s_per_image": round(batched + extra, 5),
                             "batched_images_per_s": round(1.0 / (batched + extra), 2),
                             "batch_size": params.batch_size}
            print(f"benchmark: {entry}: {timing[entry]}")

    scores = pd.concat(scores, ignore_index=True)
    with atomic_path(OUT / "scores.csv") as tmp:
        scores.to_csv(tmp, index=False)
    table = summarise(scores, fids, missing)
    write_json(table, "metrics/benchmark.json")
    write_json(timing, "metrics/timing.json")
    print(json.dumps(table[ALL_MASKS], indent=1))


if __name__ == "__main__":
    main()
