"""Paired bootstrap comparisons of benchmarked methods (inpaint/evaluation/compare.py)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from inpaint.evaluation.compare import BETTER, UNCLEAR, WORSE, paired_differences, verdict
from inpaint.evaluation.metrics import ALL_MASKS, fid_from_features

BUCKETS = ["1-10%", "50-60%"]


def _scores(per_method: dict[str, dict[str, np.ndarray]], pairs: int = 40) -> pd.DataFrame:
    """Per-pair scores of each method on the same pairs: `pairs` per bucket."""
    keys = pd.DataFrame({"bucket": np.repeat(BUCKETS, pairs),
                         "image_index": np.arange(2 * pairs),
                         "eval_mask_index": np.arange(2 * pairs)[::-1]})
    return pd.concat([keys.assign(method=name, **columns)
                      for name, columns in per_method.items()], ignore_index=True)


def test_verdict_follows_the_direction_of_the_metric():
    assert verdict(0.5, 1.5, higher_is_better=True) == BETTER
    assert verdict(0.5, 1.5, higher_is_better=False) == WORSE
    assert verdict(-1.5, -0.5, higher_is_better=False) == BETTER
    assert verdict(-0.5, 0.5, higher_is_better=True) == UNCLEAR


def test_a_clear_gap_is_found_and_equal_methods_are_unclear():
    rng = np.random.default_rng(0)
    psnr = rng.normal(25, 3, 80)  # pair-to-pair spread much larger than the gap
    lpips = rng.uniform(0.05, 0.2, 80)
    scores = _scores({"ours": {"psnr": psnr + 1.0, "lpips_alex": lpips},
                      "same": {"psnr": psnr + 1.0, "lpips_alex": lpips},
                      "worse": {"psnr": psnr + rng.normal(0, 0.3, 80),
                                "lpips_alex": lpips + 0.02}})
    diffs = paired_differences(scores, None, None, "ours", ["psnr", "lpips_alex"],
                               resamples=500)
    assert set(diffs.bucket) == {*BUCKETS, ALL_MASKS} and set(diffs.method) == {"same", "worse"}
    same = diffs[diffs.method == "same"]
    assert (same.difference == 0).all() and (same.low == 0).all() and (same.high == 0).all()
    assert (same.verdict == UNCLEAR).all()
    worse = diffs[diffs.method == "worse"].set_index(["bucket", "metric"])
    assert worse.loc[(ALL_MASKS, "psnr"), "verdict"] == BETTER  # ours has the higher PSNR
    assert worse.loc[(ALL_MASKS, "lpips_alex"), "verdict"] == BETTER  # and the lower LPIPS
    assert worse.loc[(ALL_MASKS, "psnr"), "n"] == 80
    row = worse.loc[(ALL_MASKS, "psnr")]
    assert row.low < row.difference < row.high


def test_fid_is_recomputed_per_draw_from_the_features():
    rng = np.random.default_rng(1)
    pairs = 30
    real = rng.normal(size=(2 * pairs, 8))
    close, far = real + rng.normal(0, 0.1, real.shape), real + rng.normal(2, 1, real.shape)
    scores = _scores({"ours": {"psnr": np.zeros(2 * pairs)},
                      "far": {"psnr": np.zeros(2 * pairs)}}, pairs)
    diffs = paired_differences(scores, {"ours": close, "far": far}, real, "ours",
                               ["fid"], resamples=200)
    everything = diffs[diffs.bucket == ALL_MASKS].iloc[0]
    expected = fid_from_features(real, close) - fid_from_features(real, far)
    assert everything.difference == pytest.approx(expected)
    assert everything.verdict == BETTER and everything.high < 0


def test_a_method_scored_on_a_subset_is_compared_on_that_subset():
    rng = np.random.default_rng(2)
    full = _scores({"ours": {"psnr": rng.normal(20, 2, 80)}})
    subset = full.groupby("bucket").head(5).assign(method="optim", psnr=30.0)
    diffs = paired_differences(pd.concat([full, subset], ignore_index=True), None, None,
                               "ours", ["psnr"], resamples=100)
    assert dict(zip(diffs.bucket, diffs.n, strict=True)) == {
        "1-10%": 5, "50-60%": 5, ALL_MASKS: 10}


def test_missing_metrics_are_skipped_and_an_unknown_reference_is_named():
    scores = _scores({"ours": {"psnr": np.ones(80), "lpips_alex": np.full(80, np.nan)},
                      "telea": {"psnr": np.zeros(80), "lpips_alex": np.full(80, np.nan)}})
    diffs = paired_differences(scores, None, None, "ours", ["psnr", "lpips_alex", "fid"],
                               resamples=50)
    assert set(diffs.metric) == {"psnr"}
    with pytest.raises(ValueError, match="'pconv'"):
        paired_differences(scores, None, None, "pconv", ["psnr"])


def test_a_draw_fid_equals_the_fid_of_the_drawn_rows():
    """The per-draw shortcut (distinct rows weighted by their counts, from one Gram matrix)
    gives what `fid_from_features` gives on the draw's rows, repeats and all."""
    from inpaint.evaluation.compare import _fids
    rng = np.random.default_rng(2)
    real = rng.normal(size=(50, 64))
    fake = 0.8 * real + rng.normal(0.3, 0.5, real.shape)
    draws = rng.integers(0, 50, size=(5, 50))
    point, per_draw = _fids(real, fake, draws)
    assert point == pytest.approx(fid_from_features(real, fake), rel=1e-12)
    expected = [fid_from_features(real[rows], fake[rows]) for rows in draws]
    assert per_draw == pytest.approx(expected, rel=1e-9)
