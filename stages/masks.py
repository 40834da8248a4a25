"""Stage `masks`: mask pools, hole-ratio buckets and the fixed evaluation pairing.

Outputs data/masks/{train,eval}.npy (known-masks: 1 = known, 0 = hole), manifest.csv,
eval_pairs.csv (test image, bucket, eval mask), val_pairs.csv (the same for the validation
images, dealt separately) and metrics/masks.json (counts per bucket). Neither pairing's masks
are ever trained on.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from inpaint.arithmetic import pin_process
from inpaint.config import DataParams, MaskParams, load_section
from inpaint.data.images import atomic_path, list_images, load_npy, save_npy
from inpaint.data.masks import (assign_buckets, bucket_labels, evaluation_pairs, generate_masks,
                                load_mask_folder, split_pools)

OUT = Path("data/masks")


def write_csv(frame: pd.DataFrame, target: Path) -> None:
    with atomic_path(target) as tmp:
        frame.to_csv(tmp, index=False)


def main() -> None:
    params = load_section(MaskParams, "masks")
    resolution = load_section(DataParams, "data").resolution
    edges = params.buckets
    if params.source == "generated":
        masks = generate_masks(params.seed, params.generated_count, resolution,
                               edges[0], edges[-1])
        sources, skipped = [f"generated:{params.seed}:{i}" for i in range(len(masks))], []
    else:
        masks, paths, skipped = load_mask_folder(list_images(params.source), resolution)
        sources = [str(p) for p in paths]
        if not sources:
            raise SystemExit(f"masks.source: no readable mask images in {params.source}")
    ratios = 1.0 - masks.reshape(len(masks), -1).mean(axis=1)
    buckets = assign_buckets(ratios, edges)
    inside = buckets >= 0
    print(f"masks: {len(masks)} read, {len(skipped)} unreadable, "
          f"{int((~inside).sum())} outside buckets [{edges[0]}, {edges[-1]}] dropped")
    masks, sources, ratios, buckets = (masks[inside], np.array(sources)[inside],
                                       ratios[inside], buckets[inside])
    is_eval = split_pools(len(masks), params.eval_fraction, params.seed)
    num_test = len(load_npy("data/prepared/test.npy"))
    num_val = len(load_npy("data/prepared/val.npy"))
    labels = bucket_labels(edges)
    eval_ids = np.flatnonzero(is_eval)
    pairs = evaluation_pairs(num_test, buckets[eval_ids], len(labels), params.seed)
    val_pairs = evaluation_pairs(num_val, buckets[eval_ids], len(labels), params.seed, stream=3)

    OUT.mkdir(parents=True, exist_ok=True)
    save_npy(masks[~is_eval], OUT / "train.npy")
    save_npy(masks[is_eval], OUT / "eval.npy")
    pool_index = np.where(is_eval, np.cumsum(is_eval) - 1, np.cumsum(~is_eval) - 1)
    write_csv(pd.DataFrame({"mask_id": np.arange(len(masks)), "source": sources,
                            "hole_ratio": ratios.round(5), "bucket": [labels[b] for b in buckets],
                            "pool": np.where(is_eval, "eval", "train"),
                            "pool_index": pool_index}), OUT / "manifest.csv")
    for name, rows in (("eval_pairs", pairs), ("val_pairs", val_pairs)):
        write_csv(pd.DataFrame([(i, labels[b], m) for i, b, m in rows],
                               columns=["image_index", "bucket", "eval_mask_index"]),
                  OUT / f"{name}.csv")
    summary = {
        "resolution": resolution,
        "dropped_outside_buckets": int((~inside).sum()),
        "unreadable": len(skipped),
        "train_pool": int((~is_eval).sum()),
        "eval_pool": int(is_eval.sum()),
        "eval_pairs": len(pairs),
        "val_pairs": len(val_pairs),
        "buckets": {label: {"train": int(((buckets == b) & ~is_eval).sum()),
                            "eval": int(((buckets == b) & is_eval).sum())}
                    for b, label in enumerate(labels)},
    }
    with atomic_path("metrics/masks.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    for path, reason in skipped:
        print(f"masks: skipped {path}: {reason}")
    print(json.dumps(summary["buckets"]))


if __name__ == "__main__":
    pin_process()
    main()
