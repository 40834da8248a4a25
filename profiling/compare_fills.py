"""Whether two checkouts fill the upsampling check's photos alike: the validation pairs of
`profiling/upsample.py` (faces at 256 px, the NVIDIA masks, 64 px models, every upsampler,
Poisson blend) filled by the `inpaint` package on PYTHONPATH, saved, then compared pixel by
pixel. Run from a workspace whose training stages ran on real faces:

    PYTHONPATH=. python profiling/compare_fills.py fill now.npz ours pconv
    git worktree add /tmp/base b000089
    PYTHONPATH=/tmp/base python profiling/compare_fills.py fill base.npz ours pconv
    python profiling/compare_fills.py compare now.npz base.npz
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from upsample import pairs_at  # noqa: E402 (the check's own pairs, from this checkout)


def fill(target: str, methods: list[str], per_bucket: int, size: int) -> None:
    from inpaint.api.inpainter import Inpainter
    from inpaint.api.upsampling import UPSAMPLERS
    images, holes, _ = pairs_at("val", per_bucket, size)
    out = {}
    for method in methods:
        for mode in UPSAMPLERS:
            inpainter = Inpainter.from_pretrained(method=method, upsample=mode)
            out[f"{method}/{mode}"] = np.stack([inpainter.inpaint(i, h)
                                                for i, h in zip(images, holes)])
    np.savez_compressed(target, images=images, holes=holes, **out)


def compare(first: str, second: str) -> None:
    a, b = np.load(first), np.load(second)
    if not ((a["images"] == b["images"]).all() and (a["holes"] == b["holes"]).all()):
        raise SystemExit("the two files hold different photos or holes")
    holes, photos = a["holes"], a["images"].astype(int)
    print(f"{len(holes)} pairs, {int(holes.sum()):,} hole pixels")
    for key in sorted(set(a.files) & set(b.files) - {"images", "holes"}):
        x, y = a[key].astype(int), b[key].astype(int)
        diff = np.abs(x - y).max(axis=-1)
        kept = all((z[~holes] == photos[~holes]).all() for z in (x, y))
        print(f"{key}: in the holes max {diff[holes].max()} grey levels, "
              f"{int((diff[holes] > 0).sum())} pixels differ; known pixels differ "
              f"{int((diff[~holes] > 0).sum())}, both equal to the photo there: {kept}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("fill", help="fill the pairs with the package on PYTHONPATH")
    run.add_argument("target")
    run.add_argument("methods", nargs="+")
    run.add_argument("--pairs-per-bucket", type=int, default=20)
    run.add_argument("--size", type=int, default=256)
    check = sub.add_parser("compare", help="compare two files of fills")
    check.add_argument("first")
    check.add_argument("second")
    args = parser.parse_args()
    if args.command == "fill":
        fill(args.target, args.methods, args.pairs_per_bucket, args.size)
    else:
        compare(args.first, args.second)


if __name__ == "__main__":
    main()
