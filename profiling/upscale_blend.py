"""Poisson blending on photos larger than the model: where to correct the fill's colour.

A learned method fills the hole at its model's resolution R; a photo of side S > R needs the
fill upscaled. The Poisson correction (`inpaint.api.blending`) needs the raw fill against the
known pixels, so it can be taken at two places:

- `lowres`: blend the raw fill at R (what the benchmark scores at R), upscale the blended
  result, then blend once more at S, which only takes up the upscaling residual at the seam
  (`Inpainter`'s path);
- `fullres`: upscale the raw fill and blend it once at S;
- `paste`: paste at R, upscale, paste at S (no correction; `--blend paste`).

Scores each on validation faces (never the test faces: this chooses a setting) at `--size`
px with the validation pairs' NVIDIA masks at the same size: hole PSNR and LPIPS of the whole
image against the truth, means over the pairs and the paired 95% bootstrap interval of
`fullres - lowres`. Run it from a repository whose `masks`, `metric_weights` and
`train_inversion` stages ran on a folder of real images:

    OMP_NUM_THREADS=1 python profiling/upscale_blend.py --size 256 --pairs-per-bucket 20
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from inpaint.api.blending import blend
from inpaint.api.inpainter import Inpainter, _downscale, _SquareGeometry
from inpaint.api.upsampling import upsample
from inpaint.evaluation.metrics import MetricContext, calc_metric
from upsample import interval, pairs_at  # profiling/ is on the path: scripts run by path


def fullres(inpainter: Inpainter, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The raw fill upscaled to the photo, then one Poisson blend at the photo's size."""
    geometry = _SquareGeometry(*hole.shape)
    small, known = _downscale(image, ~hole, geometry, inpainter.resolution)
    raw = inpainter.fill(small[None], known[None].astype(np.uint8))[0]
    fill = geometry.from_square(upsample(raw, geometry.to_square(image),
                                         geometry.to_square(~hole), "bicubic"))
    return blend(image[None], (~hole)[None], fill[None], "poisson")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--pairs-per-bucket", type=int, default=20)
    parser.add_argument("--model", default="models/inpainter")
    args = parser.parse_args()
    images, holes, buckets = pairs_at("val", args.pairs_per_bucket, args.size)
    paths = {mode: Inpainter.from_pretrained(args.model, blend=mode, upsample="bicubic")
             for mode in ("paste", "poisson")}
    outputs, seconds = {}, {}
    for name, run in (("paste", lambda i, h: paths["paste"].inpaint(i, h)),
                      ("lowres", lambda i, h: paths["poisson"].inpaint(i, h)),
                      ("fullres", lambda i, h: fullres(paths["poisson"], i, h))):
        start = time.perf_counter()
        outputs[name] = np.stack([run(i, h) for i, h in zip(images, holes)])
        seconds[name] = (time.perf_counter() - start) / len(images)
    ctx, known = MetricContext(), (~holes).astype(np.uint8)
    scores = {name: {"psnr_hole": calc_metric("psnr_hole", images, out, known, ctx),
                     "lpips_alex": calc_metric("lpips_alex", images, out, known, ctx)}
              for name, out in outputs.items()}
    print(f"{len(images)} validation pairs at {args.size} px, model at "
          f"{paths['poisson'].resolution} px")
    print("| path | hole PSNR | LPIPS | s per image |\n|---|---|---|---|")
    for name, row in scores.items():
        print(f"| {name} | {row['psnr_hole'].mean():.3f} | {row['lpips_alex'].mean():.4f} | "
              f"{seconds[name]:.3f} |")
    for metric in ("psnr_hole", "lpips_alex"):
        diff = scores["fullres"][metric] - scores["lowres"][metric]
        low, high = interval(diff)
        print(f"fullres - lowres, {metric}: {diff.mean():+.4f} [{low:+.4f}, {high:+.4f}]")
        for bucket in buckets.unique():
            rows = (buckets == bucket).values
            print(f"  {bucket}: {diff[rows].mean():+.4f}")


if __name__ == "__main__":
    main()
