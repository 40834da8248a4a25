"""Paired comparisons on the benchmark's evaluation pairs: is a difference between two methods
larger than the luck of which pairs were drawn?

Every method is scored on the same (image, mask) pairs, so two methods' scores are paired.
The pairs of a bucket are resampled with replacement (the same draw for both methods) and
each metric is recomputed on the draw; the percentile interval of the difference says how
sure the table can be. Per-image metrics (PSNR, SSIM, LPIPS) are means over pairs. FID is a
property of a set, so it is recomputed from the stored Inception features of each draw, with
its reals drawn alongside: its interval includes the noise of FID at small N, which the
point estimates of Table 2 hide.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from inpaint.evaluation.metrics import ALL_MASKS, fid_from_features

PAIR_KEYS = ["bucket", "image_index", "eval_mask_index"]
HIGHER_IS_BETTER = {"psnr": True, "psnr_hole": True, "ssim": True, "lpips_alex": False,
                    "fid": False}
BETTER, WORSE, UNCLEAR = "better", "worse", "unclear"


def verdict(low: float, high: float, higher_is_better: bool) -> str:
    """Whether the reference is better, worse, or neither, from the interval of
    (reference - other)."""
    if not higher_is_better:
        low, high = -high, -low
    return BETTER if low > 0 else WORSE if high < 0 else UNCLEAR


def _mean_difference(reference: np.ndarray, other: np.ndarray,
                     draws: np.ndarray) -> tuple[float, np.ndarray]:
    difference = reference - other
    return float(difference.mean()), difference[draws].mean(axis=1)


def _fids(real: np.ndarray, fake: np.ndarray, draws: np.ndarray) -> tuple[float, np.ndarray]:
    """FID of the pairs themselves, and of every draw of them.

    A draw repeats pairs. With c the counts of its u distinct rows, the centred cross products
    of the draw are P A P^T (P repeats rows, A = X~c Y~c^T over the distinct rows), whose
    singular values are those of diag(sqrt(c)) A diag(sqrt(c)): a u x u matrix, u about 0.63 n.
    A comes from the Gram matrix real @ fake.T, formed once, so a draw costs one small SVD
    instead of the n x 2048 x n product and n x n SVD of `fid_from_features`; the result is
    the same number (to rounding).
    """
    real, fake = real.astype(np.float64), fake.astype(np.float64)
    gram = real @ fake.T
    real_sq, fake_sq = (real ** 2).sum(axis=1), (fake ** 2).sum(axis=1)

    def fid_of_draw(rows: np.ndarray) -> float:
        distinct, counts = np.unique(rows, return_counts=True)
        r, f, n = real[distinct], fake[distinct], len(rows)
        mean_r, mean_f = counts @ r / n, counts @ f / n
        centred = (gram[np.ix_(distinct, distinct)] - (r @ mean_f)[:, None]
                   - (f @ mean_r)[None, :] + mean_r @ mean_f)
        weight = np.sqrt(counts)
        nuclear = np.linalg.svd(weight[:, None] * centred * weight[None, :],
                                compute_uv=False).sum()
        trace_r = counts @ real_sq[distinct] - n * mean_r @ mean_r
        trace_f = counts @ fake_sq[distinct] - n * mean_f @ mean_f
        mean_term = ((mean_r - mean_f) ** 2).sum()
        return float(mean_term + (trace_r + trace_f - 2 * nuclear) / (n - 1))

    return fid_from_features(real, fake), np.array([fid_of_draw(rows) for rows in draws])


def paired_differences(scores: pd.DataFrame, features: dict[str, np.ndarray] | None,
                       real_features: np.ndarray | None, reference: str, metrics: list[str],
                       resamples: int = 1000, confidence: float = 0.95,
                       seed: int = 0) -> pd.DataFrame:
    """(reference - method) per bucket, method and metric, with its bootstrap interval.

    `scores`: the benchmark's per-pair table (bucket, image_index, eval_mask_index, method,
    one column per metric), each method's rows in the order of its predictions.
    `features[method]`: Inception features of that method's predictions, row for row;
    `real_features`: those of the test set, indexed by image_index. Without them FID is
    skipped. A method scored on a subset of pairs (per-image optimisation) is compared on
    that subset. Returns one row per (bucket, method, metric): n, the difference on the pairs
    themselves, the interval and the verdict for the reference.
    """
    if reference not in set(scores.method):
        raise ValueError(f"reference method {reference!r} is not in the scores "
                         f"(methods: {', '.join(scores.method.unique())})")
    rng = np.random.default_rng(seed)
    tail = (1.0 - confidence) / 2
    scores = scores.assign(row=scores.groupby("method", sort=False).cumcount())
    ours = scores[scores.method == reference]
    rows = []
    # One draw of a set of pairs serves every method compared on that set, and the
    # reference's FIDs on it are computed once: the costly part, an SVD per draw.
    draws_of, reference_fids = {}, {}
    for method in scores.method.unique():
        if method == reference:
            continue
        paired = ours.merge(scores[scores.method == method], on=PAIR_KEYS,
                            suffixes=("_ref", "_other"))
        for bucket, group in [*paired.groupby("bucket", sort=False), (ALL_MASKS, paired)]:
            key = (bucket, group.row_ref.values.tobytes())
            if key not in draws_of:
                draws_of[key] = rng.integers(0, len(group), size=(resamples, len(group)))
            draws = draws_of[key]
            for metric in metrics:
                if metric == "fid":
                    if features is None or real_features is None:
                        continue
                    real = real_features[group.image_index.values]
                    if key not in reference_fids:
                        reference_fids[key] = _fids(
                            real, features[reference][group.row_ref.values], draws)
                    other = _fids(real, features[method][group.row_other.values], draws)
                    point = reference_fids[key][0] - other[0]
                    boot = reference_fids[key][1] - other[1]
                else:
                    ref, other = group[f"{metric}_ref"].values, group[f"{metric}_other"].values
                    if np.isnan(ref).all() or np.isnan(other).all():
                        continue  # metric not scored (missing weights)
                    point, boot = _mean_difference(ref, other, draws)
                low, high = np.quantile(boot, [tail, 1.0 - tail])
                rows.append({"bucket": bucket, "method": method, "metric": metric,
                             "n": len(group), "difference": point, "low": float(low),
                             "high": float(high),
                             "verdict": verdict(low, high, HIGHER_IS_BETTER[metric])})
    return pd.DataFrame(rows, columns=["bucket", "method", "metric", "n", "difference",
                                       "low", "high", "verdict"])
