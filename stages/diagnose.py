"""Stage `diagnose`: where the paper's method loses quality, stage by stage, on held-out
validation images (never the test images), in PSNR and LPIPS with N.

Whole undamaged images (the first `diagnosis.images` validation images):
- autoencoder ceiling: Dec(E_R(I)) through the autoencoder's own Dec (models/ae.pt), the
  best any code through that decoder can do (the inpainter's Dec differs from it when
  `inversion.decoder_lr` tuned it with E_z);
- generator range: Dec(G(z*)) for the best code z* found by Adam on L1 against the image
  (`range_restarts` random starts of `range_steps` steps, the best start per image counts):
  what the prior can represent at all;
- encoder: Dec(G(E_z(I))) with no hole, the learned inversion of the same image;
- the same two for `ours_extended` (models/inpainter_extended): the range of its extended
  code (z and G's hidden-feature offset, both optimised as above, the offset from zero) and
  its encoder.
Per hole-ratio bucket (the first `diagnosis.pairs_per_bucket` validation pairs: validation
images with evaluation masks, neither ever trained on), on the hole only:
- `ours` pasted and Poisson-blended (PSNR and LPIPS of the composite, hole PSNR),
  the seam (PSNR in the ring of `seam_width` hole pixels next to the known ones) against the
  hole's interior;
- the autoencoder oracle: the hole filled with Dec(E_R(I)) of the true image, pasted.
Over all those pairs: the FID of each fill's composites against the true images, so that
realism settings can be chosen on validation faces too (biased high at this N, but the same
N for every run compared).
Writes metrics/diagnosis.json; the report turns it into a table.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from inpaint.arithmetic import pin_process
from inpaint.config import DiagnosisParams, load_section
from inpaint.data.images import load_npy
from inpaint.data.writers import write_json
from inpaint.evaluation.diagnosis import bucket_rows, extended_rows, whole_image_rows
from inpaint.evaluation.metrics import MetricContext
from inpaint.paper.inversion import GanInverter
from inpaint.paper.networks import NETWORKS
from inpaint.pretrained import load_networks
from inpaint.device import set_threads

VAL, EVAL_MASKS, VAL_PAIRS = ("data/prepared/val.npy", "data/masks/eval.npy",
                              "data/masks/val_pairs.csv")
AUTOENCODER, INPAINTER = "models/ae.pt", "models/inpainter"
EXTENDED = "models/inpainter_extended"
WEIGHTS = "models/metric_weights"


def main() -> None:
    params = load_section(DiagnosisParams, "diagnosis")
    set_threads()
    torch.manual_seed(params.seed)
    ctx = MetricContext(weights_dir=WEIGHTS, device=torch.device("cpu"))
    val, eval_masks = np.asarray(load_npy(VAL)), load_npy(EVAL_MASKS)
    model = GanInverter.from_folder(INPAINTER)
    autoencoder = load_networks(AUTOENCODER, NETWORKS)
    rows, gaps = whole_image_rows(model, autoencoder, val[:params.images], params, ctx)
    more, more_gaps = extended_rows(GanInverter.from_folder(EXTENDED), val[:params.images],
                                    params, ctx)
    rows, gaps = {**rows, **more}, {**gaps, **more_gaps}
    print(f"diagnose: {rows} gaps {gaps}")
    pairs = pd.read_csv(VAL_PAIRS).groupby("bucket", sort=False).head(params.pairs_per_bucket)
    buckets, all_pairs = bucket_rows(model, autoencoder, val, eval_masks, pairs, params, ctx)
    print(f"diagnose: all pairs: {all_pairs}")
    write_json({"split": "val", "whole_image": rows, "gaps": gaps,
                "range_search": {"steps": params.range_steps,
                                 "restarts": params.range_restarts, "lr": params.range_lr,
                                 "loss": "L1"},
                "seam_width": params.seam_width, "buckets": buckets, "all_pairs": all_pairs},
               "metrics/diagnosis.json")


if __name__ == "__main__":
    pin_process()
    main()
