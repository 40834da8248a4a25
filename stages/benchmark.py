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
"""
from __future__ import annotations

import json
import shutil
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
    scores, fids = [], {}
    for name in params.methods:
        method = get_method(name)
        pairs = method_pairs(method, all_pairs, params)
        images = np.asarray(test)[pairs.image_index.values]
        known = np.asarray(eval_masks)[pairs.eval_mask_index.values]
        inpaint = build_method(name, settings).fill
        print(f"benchmark: {name} on {len(pairs)} pairs ({method.description})")
        outputs = np.concatenate([inpaint(images[i:i + params.batch_size],
                                          known[i:i + params.batch_size])
                                  for i in range(0, len(images), params.batch_size)])
        for mode in blend_modes(method, params.blends):
            entry = scored_name(name, mode)
            composited = composite(images, known, outputs, mode)
            save_npy(composited, OUT / f"{entry}.npy")
            frame, entry_fids, features = score(entry, pairs, images, known, composited, ctx,
                                                real_features)
            scores.append(frame)
            fids.update(entry_fids)
            if features is not None:
                save_npy(features, FEATURES / f"{entry}.npy")
    scores = pd.concat(scores, ignore_index=True)
    with atomic_path(OUT / "scores.csv") as tmp:
        scores.to_csv(tmp, index=False)
    table = summarise(scores, fids, missing)
    write_json(table, "metrics/benchmark.json")
    print(json.dumps(table[ALL_MASKS], indent=1))


if __name__ == "__main__":
    pin_process()
    main()
