"""Does the `inpaint` command give what the benchmark scores? Runs the installed command in
folder mode on the benchmark's own test pairs of one method and compares, per hole-ratio
bucket, its scores (PSNR, SSIM, LPIPS, FID, as the benchmark computes them) with the
benchmark's row of the same entry, and the outputs pixel for pixel.

Run it from a repository whose `benchmark` stage has scored `--method` (models/, data/ and
models/metric_weights beside it):

    OMP_NUM_THREADS=1 python profiling/cli_matches_benchmark.py --method ours --blend poisson
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from inpaint.api.methods import scored_name
from inpaint.data.images import load_npy
from inpaint.evaluation.benchmark import score, summarise
from inpaint.evaluation.metrics import ALL_MASKS, MetricContext, cached_inception_features

BENCHMARK = Path("data/benchmark")


def run_command(images: np.ndarray, known: np.ndarray, method: str, blend: str,
                folder: Path) -> np.ndarray:
    """The command's outputs for the pairs, through PNG files as a user would give them."""
    for name in ("images", "masks"):
        (folder / name).mkdir()
    for i, (image, mask) in enumerate(zip(images, known)):
        Image.fromarray(image).save(folder / "images" / f"{i:05d}.png")
        Image.fromarray(np.where(mask == 0, 255, 0).astype(np.uint8)).save(
            folder / "masks" / f"{i:05d}.png")  # white = hole
    subprocess.run([shutil.which("inpaint"), "--images", str(folder / "images"), "--masks",
                    str(folder / "masks"), "-o", str(folder / "out"), "--method", method,
                    "--blend", blend], check=True)
    return np.stack([np.asarray(Image.open(folder / "out" / f"{i:05d}.png"))
                     for i in range(len(images))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="ours")
    parser.add_argument("--blend", choices=("paste", "poisson"), default="poisson")
    args = parser.parse_args()
    entry = scored_name(args.method, args.blend)
    scores = pd.read_csv(BENCHMARK / "scores.csv").query("method == @entry")
    pairs = scores[["image_index", "bucket", "eval_mask_index"]].reset_index(drop=True)
    images = np.asarray(load_npy("data/prepared/test.npy"))[pairs.image_index.values]
    known = np.asarray(load_npy("data/masks/eval.npy"))[pairs.eval_mask_index.values]
    with tempfile.TemporaryDirectory() as folder:
        outputs = run_command(images, known, args.method, args.blend, Path(folder))
    scored = np.load(BENCHMARK / f"{entry}.npy")
    ctx = MetricContext()
    real_features = cached_inception_features(np.asarray(load_npy("data/prepared/test.npy")),
                                              ctx, BENCHMARK / "cache")
    frame, fids, _ = score(f"{entry} (command)", pairs, images, known, outputs, ctx,
                           real_features)
    command = summarise(frame, fids, None)
    benchmark = json.loads(Path("metrics/benchmark.json").read_text())
    differing = int((outputs != scored).any(axis=(1, 2, 3)).sum())
    print(f"{len(pairs)} test pairs; outputs differing from data/benchmark/{entry}.npy: "
          f"{differing} (largest pixel difference "
          f"{int(np.abs(outputs.astype(int) - scored).max())})\n")
    print("| bucket | benchmark PSNR / SSIM / FID / LPIPS | command PSNR / SSIM / FID / LPIPS |")
    print("|---|---|---|")
    for bucket in [*pairs.bucket.unique(), ALL_MASKS]:
        cells = []
        for row in (benchmark[bucket][entry], command[bucket][f"{entry} (command)"]):
            cells.append(f"{row['psnr']:.3f} / {row['ssim']:.3f} / {row['fid']:.2f} / "
                         f"{row['lpips_alex']:.3f}")
        print(f"| {bucket} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
