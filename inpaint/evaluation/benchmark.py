"""Scoring every method of the registry on the fixed (image, mask) evaluation pairs, per
hole-ratio bucket (the `benchmark` stage): which pairs and compositing modes each method is
scored on, its per-pair scores and per-bucket FIDs, and the table of means.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from inpaint.config import BenchmarkParams
from inpaint.evaluation.metrics import (ALL_MASKS, MetricContext, calc_metric,
                                        fid_from_features, inception_features)
from inpaint.evaluation.weights import MissingWeightsError

PER_IMAGE_METRICS = ("psnr", "psnr_hole", "ssim", "lpips_alex")
NETWORK_METRICS = ("lpips_alex", "fid")


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


def score(entry: str, pairs: pd.DataFrame, images: np.ndarray, known: np.ndarray,
          outputs: np.ndarray, ctx: MetricContext | None, real_features: np.ndarray | None
          ) -> tuple[pd.DataFrame, dict, np.ndarray | None]:
    """Per-pair scores of one scored entry (a method and its compositing), its FID per bucket
    and over all masks ({} without metric networks), and its Inception features."""
    frame = pairs[["image_index", "bucket", "eval_mask_index"]].assign(method=entry)
    for metric in PER_IMAGE_METRICS:
        needs_network = metric in NETWORK_METRICS
        frame[metric] = (np.nan if needs_network and ctx is None else
                         calc_metric(metric, images, outputs, known, ctx))
    if ctx is None:
        return frame, {}, None
    features = inception_features(outputs, ctx)
    fids = {}
    for bucket, rows in [*pairs.groupby("bucket", sort=False).indices.items(),
                         (ALL_MASKS, np.arange(len(pairs)))]:
        reals = real_features[pairs.image_index.values[rows]]
        fids[(bucket, entry)] = round(fid_from_features(reals, features[rows]), 3)
    return frame, fids, features


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
