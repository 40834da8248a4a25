"""Upsampling a fill made at the model's resolution to a larger photo: bicubic against HiFill's
contextual residual aggregation (CRA, `inpaint.api.upsampling`).

Real faces at `--size` px (default 256) with the NVIDIA masks of the evaluation pairs at the
same size are inpainted through `Inpainter`, the path the `inpaint` command runs (the model
fills at its resolution, e.g. 64 px; the fill is upsampled; Poisson blend at the photo's size),
once per upsampler, for each `--methods`. Scored against the `--size` px truth: hole PSNR,
whole-image SSIM and LPIPS (AlexNet), and FID of whole images at `--size` px; means over the
pairs, per hole-ratio bucket, and the paired 95% bootstrap interval of `cra - bicubic`.
`--split val` chooses the default (validation faces, never the test faces); `--split test`
reports it on held-out faces. Run it from a repository whose `masks`, `metric_weights` and
training stages ran on a folder of real images (at least 256 px):

    OMP_NUM_THREADS=1 python profiling/upsample.py --split val --methods ours pconv
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from inpaint.api.inpainter import Inpainter
from inpaint.api.upsampling import UPSAMPLERS
from inpaint.data.images import square_resized
from inpaint.data.masks import load_mask
from inpaint.evaluation.metrics import MetricContext, calc_metric, fid_from_features, \
    inception_features

PER_IMAGE = ("psnr_hole", "ssim", "lpips_alex")


def pairs_at(split: str, per_bucket: int, size: int) -> tuple[np.ndarray, np.ndarray, pd.Series]:
    """Faces of `split` ('val' or 'test') at `size` px, their holes (True = hole), buckets."""
    faces = pd.read_csv("data/prepared/manifest.csv").query("split == @split")
    faces = faces.set_index("index").source
    masks = pd.read_csv("data/masks/manifest.csv").query("pool == 'eval'")
    masks = masks.set_index("pool_index").source
    table = "val_pairs" if split == "val" else "eval_pairs"
    pairs = pd.read_csv(f"data/masks/{table}.csv").groupby("bucket", sort=False)
    pairs = pairs.head(per_bucket).reset_index(drop=True)
    images = np.stack([square_resized(faces[i], size) for i in pairs.image_index])
    holes = np.stack([load_mask(masks[m], size) == 0 for m in pairs.eval_mask_index])
    return images, holes, pairs.bucket


def interval(diff: np.ndarray, seed: int = 0, resamples: int = 2000) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), (resamples, len(diff)))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--pairs-per-bucket", type=int, default=20)
    parser.add_argument("--split", choices=("val", "test"), default="val")
    parser.add_argument("--methods", nargs="+", default=["ours"])
    args = parser.parse_args()
    images, holes, buckets = pairs_at(args.split, args.pairs_per_bucket, args.size)
    ctx, known = MetricContext(), (~holes).astype(np.uint8)
    real_features = inception_features(images, ctx)
    print(f"{len(images)} {args.split} pairs at {args.size} px")
    print("| method | upsampler | hole PSNR | SSIM | LPIPS | FID | s per image |")
    print("|---|---|---|---|---|---|---|")
    for method in args.methods:
        scores = {}
        for mode in UPSAMPLERS:
            inpainter = Inpainter.from_pretrained(method=method, upsample=mode)
            start = time.perf_counter()
            out = np.stack([inpainter.inpaint(i, h) for i, h in zip(images, holes)])
            seconds = (time.perf_counter() - start) / len(images)
            scores[mode] = {m: calc_metric(m, images, out, known, ctx) for m in PER_IMAGE}
            fid = fid_from_features(real_features, inception_features(out, ctx))
            print(f"| {method} | {mode} | " + " | ".join(
                f"{scores[mode][m].mean():.4f}" for m in PER_IMAGE)
                + f" | {fid:.2f} | {seconds:.3f} |", flush=True)
        for metric in PER_IMAGE:
            diff = scores["cra"][metric] - scores["bicubic"][metric]
            low, high = interval(diff)
            by_bucket = ", ".join(f"{b} {diff[(buckets == b).values].mean():+.4f}"
                                  for b in buckets.unique())
            print(f"  {method} cra - bicubic, {metric}: {diff.mean():+.4f} "
                  f"[{low:+.4f}, {high:+.4f}] ({by_bucket})")


if __name__ == "__main__":
    main()
