"""Where the paper's method loses quality, stage by stage (the `diagnose` stage), in PSNR and
LPIPS: the autoencoder ceiling, the generator's range, the encoder, and per hole-ratio bucket
the fill's hole, seam and interior against the autoencoder oracle. See stages/diagnose.py.
"""
from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import torch
from torch import nn

from inpaint.api.blending import blend
from inpaint.config import DiagnosisParams
from inpaint.evaluation.metrics import (MetricContext, calc_metric, fid_from_features,
                                        inception_features)
from inpaint.paper.inversion import ExtendedInverter, GanInverter
from inpaint.tensors import known_tensor, to_tensor, to_uint8

FILLS = ("ours_paste", "ours_poisson", "autoencoder_oracle")


def batched(fn, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([fn(chunk) for chunk in x.split(batch_size)])


def closest_codes(render, start, images: torch.Tensor,
                  params: DiagnosisParams) -> list[torch.Tensor]:
    """Per image, the codes of the restart whose `render(*codes)` ends closest to it (mean
    L1): `range_restarts` starts `start(generator)` (a list of tensors), each optimised by
    `range_steps` Adam steps on that L1."""
    generator = torch.Generator().manual_seed(params.seed)
    best, best_l1 = None, None
    for _ in range(params.range_restarts):
        codes = [code.requires_grad_(True) for code in start(generator)]
        optimizer = torch.optim.Adam(codes, lr=params.range_lr)
        for _ in range(params.range_steps):
            loss = (render(*codes) - images).abs().flatten(1).mean(1)
            optimizer.zero_grad(set_to_none=True)
            loss.sum().backward()
            optimizer.step()
        with torch.no_grad():
            l1 = (render(*codes) - images).abs().flatten(1).mean(1)
        if best is None:
            best, best_l1 = [code.detach().clone() for code in codes], l1
        else:
            better = l1 < best_l1
            for kept, code in zip(best, codes):
                kept[better] = code.detach()[better]
            best_l1 = torch.minimum(l1, best_l1)
    return best


def best_codes(model: GanInverter, images: torch.Tensor, params: DiagnosisParams) -> torch.Tensor:
    """The generator's range: per image, the best z (`closest_codes`) for Dec(G(z))."""
    return closest_codes(model.render, lambda generator: [torch.randn(
        len(images), model.z_dim, generator=generator)], images, params)[0]


def best_extended_codes(model: ExtendedInverter, images: torch.Tensor,
                        params: DiagnosisParams) -> list[torch.Tensor]:
    """The extended code's range: per image, the best (z, offset) (`closest_codes`) for
    Dec(G.output(G.hidden(z) + offset)), the offset free (no gate: the image is undamaged)
    and starting at zero."""
    cfg = model.inversion_encoder.cfg

    def start(generator: torch.Generator) -> list[torch.Tensor]:
        return [torch.randn(len(images), model.z_dim, generator=generator),
                torch.zeros(len(images), cfg.feature_channels, cfg.feature_size,
                            cfg.feature_size)]

    return closest_codes(model.render_extended, start, images, params)


def extended_rows(model: ExtendedInverter, real: np.ndarray, params: DiagnosisParams,
                  ctx: MetricContext) -> tuple[dict, dict]:
    """Undamaged images through the best extended code (its range) and through the extended
    E_z; and the encoder gap in dB."""
    size = params.batch_size
    x = to_tensor(real, "cpu")
    codes = [best_extended_codes(model, chunk, params) for chunk in x.split(size)]
    with torch.no_grad():
        ranged = torch.cat([model.render_extended(z, offset) for z, offset in codes])
    rows = {"extended_range": whole_image(real, to_uint8(ranged), ctx),
            "extended_encoder": whole_image(real, to_uint8(batched(
                lambda c: model(c, torch.ones_like(c[:, :1])), x, size)), ctx)}
    gaps = {"extended_encoder_db": round(rows["extended_range"]["psnr"]
                                         - rows["extended_encoder"]["psnr"], 3)}
    return rows, gaps


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


def whole_image_rows(model: GanInverter, autoencoder: dict[str, nn.Module], real: np.ndarray,
                     params: DiagnosisParams, ctx: MetricContext) -> tuple[dict, dict]:
    """Undamaged images through the autoencoder, the best code of G (the range) and E_z;
    and the gaps between them in dB."""
    size = params.batch_size
    x = to_tensor(real, "cpu")
    z_star = torch.cat([best_codes(model, chunk, params) for chunk in x.split(size)])
    rows = {"autoencoder": whole_image(real, to_uint8(batched(_autoencode(autoencoder), x,
                                                              size)), ctx),
            "generator_range": whole_image(real, to_uint8(batched(model.render, z_star, size)),
                                           ctx),
            "encoder": whole_image(real, to_uint8(batched(
                lambda c: model(c, torch.ones_like(c[:, :1])), x, size)), ctx)}
    gaps = {"prior_db": round(rows["autoencoder"]["psnr"] - rows["generator_range"]["psnr"], 3),
            "encoder_db": round(rows["generator_range"]["psnr"] - rows["encoder"]["psnr"], 3)}
    return rows, gaps


def bucket_rows(model: GanInverter, autoencoder: dict[str, nn.Module], val: np.ndarray,
                eval_masks: np.ndarray, pairs: pd.DataFrame, params: DiagnosisParams,
                ctx: MetricContext) -> tuple[dict, dict]:
    """Per bucket of `pairs`, the hole scores of each fill of FILLS; and over all pairs, each
    fill's FID against the true images."""
    size = params.batch_size
    buckets, composites = {}, {"truth": [], **{name: [] for name in FILLS}}
    for bucket, group in pairs.groupby("bucket", sort=False):
        images = val[group.image_index.values]
        known = np.asarray(eval_masks)[group.eval_mask_index.values]
        xb, kb = to_tensor(images, "cpu"), known_tensor(known, "cpu")
        with torch.no_grad():
            fill = to_uint8(torch.cat([model(xc, kc)
                                       for xc, kc in zip(xb.split(size), kb.split(size))]))
        oracle = to_uint8(batched(_autoencode(autoencoder), xb, size))
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
    return buckets, all_pairs


def _autoencode(autoencoder: dict[str, nn.Module]):
    return lambda x: autoencoder["decoder"](autoencoder["encoder"](x))
