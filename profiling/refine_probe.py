"""Hybrid refinement on the validation pairs: does refining E_z's code help the blended fill?

For each `--steps` value, refines E_z's code by that many Adam steps on the known pixels
(`inpaint.paper.inversion.hybrid_inversion`, as `ours_hybrid` does; 0 = `ours`), blends the
fill into the known pixels (Poisson) and prints one Markdown row: hole PSNR / LPIPS per
hole-ratio bucket on the first `diagnosis.pairs_per_bucket` validation pairs of each
bucket, scored as `stages/diagnose.py` scores them (with its `seam_width`). Validation
images only, never the test images: it is for choosing settings. Run it from a repository
whose `train_inversion` and `metric_weights` stages have run.

    OMP_NUM_THREADS=1 python profiling/refine_probe.py --steps 0 20 100
"""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import torch

from inpaint.api.blending import blend
from inpaint.config import DiagnosisParams, load_section
from inpaint.data.images import load_npy
from inpaint.evaluation.metrics import MetricContext
from inpaint.paper.inversion import GanInverter, hybrid_inversion
from inpaint.tensors import known_tensor, to_tensor, to_uint8
from inpaint.device import set_threads
from inpaint.evaluation.diagnosis import hole_scores, seam_ring


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[0, 20])
    args = parser.parse_args()
    params = load_section(DiagnosisParams, "diagnosis")  # the params.yaml beside the data
    set_threads()
    ctx = MetricContext(weights_dir="models/metric_weights", device=torch.device("cpu"))
    val = np.asarray(load_npy("data/prepared/val.npy"))
    eval_masks = np.asarray(load_npy("data/masks/eval.npy"))
    model = GanInverter.from_folder("models/inpainter")
    pairs = pd.read_csv("data/masks/val_pairs.csv").groupby("bucket", sort=False).head(
        params.pairs_per_bucket)
    groups = list(pairs.groupby("bucket", sort=False))
    print("| refine steps | " + " | ".join(bucket for bucket, _ in groups) + " |")
    for steps in args.steps:
        cells = []
        for _, group in groups:
            images = val[group.image_index.values]
            known = eval_masks[group.eval_mask_index.values]
            fill = to_uint8(hybrid_inversion(model, to_tensor(images, "cpu"),
                                             known_tensor(known, "cpu"), steps))
            scores = hole_scores(images, blend(images, known, fill, "poisson"), known,
                                 seam_ring(known, params.seam_width), ctx)
            cells.append(f"{scores['psnr_hole']:.2f} / {scores['lpips']:.4f}")
        print(f"| {steps} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
