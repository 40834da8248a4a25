"""Stage `diagnose`: where the paper's method loses quality, stage by stage, on held-out
validation images (never the test images), in PSNR and LPIPS with N.

Whole undamaged images (the first `diagnosis.images` validation images):
- autoencoder ceiling: Dec(E_R(I)) through the autoencoder's own Dec (models/ae.pt), the
  best any code through that decoder can do (the inpainter's Dec differs from it when
  `inversion.decoder_lr` tuned it with E_z);
- generator range: Dec(G(z*)) for the best code z* found by Adam on L1 against the image
  (`range_restarts` random starts of `range_steps` steps, the best start per image counts):
  what the prior can represent at all;
- encoder: Dec(G(E_z(I))) with no hole, the learned inversion of the same image.
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

import cv2
import numpy as np
import pandas as pd
import torch

from inpaint.api.blending import blend
from inpaint.config import DiagnosisParams, load_section
from inpaint.data.images import load_npy
from inpaint.paper.inversion import GanInverter
from inpaint.evaluation.metrics import (MetricContext, calc_metric, fid_from_features,
                                        inception_features)
from inpaint.pretrained import load_networks
from inpaint.training.loop import set_threads, to_tensor, to_uint8, write_json

VAL, EVAL_MASKS, VAL_PAIRS = ("data/prepared/val.npy", "data/masks/eval.npy",
                              "data/masks/val_pairs.csv")
AUTOENCODER, INPAINTER = "models/ae.pt", "models/inpainter"
WEIGHTS = "models/metric_weights"
FILLS = ("ours_paste", "ours_poisson", "autoencoder_oracle")


def batched(fn, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([fn(chunk) for chunk in x.split(batch_size)])


def best_codes(model: GanInverter, images: torch.Tensor, params: DiagnosisParams) -> torch.Tensor:
    """Per image, the code of the restart whose Dec(G(z)) ends closest to it (mean L1)."""
    generator = torch.Generator().manual_seed(params.seed)
    best_z, best_l1 = None, None
    for _ in range(params.range_restarts):
        z = torch.randn(len(images), model.z_dim, generator=generator).requires_grad_(True)
        optimizer = torch.optim.Adam([z], lr=params.range_lr)
        for _ in range(params.range_steps):
            loss = (model.render(z) - images).abs().flatten(1).mean(1)
            optimizer.zero_grad(set_to_none=True)
            loss.sum().backward()
            optimizer.step()
        with torch.no_grad():
            l1 = (model.render(z) - images).abs().flatten(1).mean(1)
        if best_z is None:
            best_z, best_l1 = z.detach().clone(), l1
        else:
            better = l1 < best_l1
            best_z[better], best_l1 = z.detach()[better], torch.minimum(l1, best_l1)
    return best_z


def whole_image(real: np.ndarray, fake: np.ndarray, ctx: MetricContext) -> dict:
    return {"psnr": round(float(np.mean(calc_metric("psnr", real, fake))), 3),
            "lpips": round(float(np.mean(calc_metric("lpips_alex", real, fake, ctx=ctx))), 4),
            "n": len(real)}


def seam_ring(known: np.ndarray, width: int) -> np.ndarray:
    """Hole pixels within `width` pixels (Euclidean) of a known pixel, per mask."""
    hole = (known == 0).astype(np.uint8)
    return np.stack([(h > 0) & (cv2.distanceTransform(h, cv2.DIST_L2, 3) <= width)
                     for h in hole])


def region_psnr(real: np.ndarray, fake: np.ndarray, region: np.ndarray) -> float:
    """Mean over images of the PSNR over `region` pixels (images without any are left out)."""
    values = calc_metric("psnr_hole", real, fake, (~region).astype(np.uint8))
    values = values[np.isfinite(values)]
    return round(float(values.mean()), 3) if len(values) else None


def hole_scores(real: np.ndarray, composite: np.ndarray, known: np.ndarray, ring: np.ndarray,
                ctx: MetricContext) -> dict:
    hole = known == 0
    return {"psnr": round(float(np.mean(calc_metric("psnr", real, composite))), 3),
            "psnr_hole": region_psnr(real, composite, hole),
            "lpips": round(float(np.mean(calc_metric("lpips_alex", real, composite,
                                                     ctx=ctx))), 4),
            "psnr_seam": region_psnr(real, composite, ring),
            "psnr_interior": region_psnr(real, composite, hole & ~ring)}


def main() -> None:
    params = load_section(DiagnosisParams, "diagnosis")
    set_threads()
    torch.manual_seed(params.seed)
    ctx = MetricContext(weights_dir=WEIGHTS, device=torch.device("cpu"))
    val, eval_masks = np.asarray(load_npy(VAL)), load_npy(EVAL_MASKS)
    model = GanInverter.from_folder(INPAINTER)
    ae = load_networks(AUTOENCODER)
    autoencode = lambda x: ae["decoder"](ae["encoder"](x))  # noqa: E731
    size = params.batch_size

    real = val[:params.images]
    x = to_tensor(real, "cpu")
    z_star = torch.cat([best_codes(model, chunk, params) for chunk in x.split(size)])
    rows = {"autoencoder": whole_image(real, to_uint8(batched(autoencode, x, size)), ctx),
            "generator_range": whole_image(real, to_uint8(batched(model.render, z_star, size)),
                                           ctx),
            "encoder": whole_image(real, to_uint8(batched(
                lambda c: model(c, torch.ones_like(c[:, :1])), x, size)), ctx)}
    gaps = {"prior_db": round(rows["autoencoder"]["psnr"] - rows["generator_range"]["psnr"], 3),
            "encoder_db": round(rows["generator_range"]["psnr"] - rows["encoder"]["psnr"], 3)}
    print(f"diagnose: {rows} gaps {gaps}")

    pairs = pd.read_csv(VAL_PAIRS).groupby("bucket", sort=False).head(params.pairs_per_bucket)
    buckets, composites = {}, {"truth": [], **{name: [] for name in FILLS}}
    for bucket, group in pairs.groupby("bucket", sort=False):
        images = val[group.image_index.values]
        known = np.asarray(eval_masks)[group.eval_mask_index.values]
        xb = to_tensor(images, "cpu")
        kb = torch.from_numpy(known).float()[:, None]
        with torch.no_grad():
            fill = to_uint8(torch.cat([model(xc, kc)
                                       for xc, kc in zip(xb.split(size), kb.split(size))]))
        oracle = to_uint8(batched(autoencode, xb, size))
        ring = seam_ring(known, params.seam_width)
        filled = {"ours_paste": blend(images, known, fill, "paste"),
                  "ours_poisson": blend(images, known, fill, "poisson"),
                  "autoencoder_oracle": blend(images, known, oracle, "paste")}
        scores = {name: hole_scores(images, composite, known, ring, ctx)
                  for name, composite in filled.items()}
        buckets[bucket] = {"n": len(group), **scores}
        for name, composite in {"truth": images, **filled}.items():
            composites[name].append(composite)
        print(f"diagnose: {bucket}: {buckets[bucket]}")
    features = {name: inception_features(np.concatenate(parts), ctx)
                for name, parts in composites.items()}
    all_pairs = {"n": len(pairs), "fid": {name: round(fid_from_features(features["truth"],
                                                                        features[name]), 2)
                                          for name in FILLS}}
    print(f"diagnose: all pairs: {all_pairs}")
    write_json({"split": "val", "whole_image": rows, "gaps": gaps,
                "range_search": {"steps": params.range_steps,
                                 "restarts": params.range_restarts, "lr": params.range_lr,
                                 "loss": "L1"},
                "seam_width": params.seam_width, "buckets": buckets, "all_pairs": all_pairs},
               "metrics/diagnosis.json")


if __name__ == "__main__":
    main()
