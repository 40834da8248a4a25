"""Stage `prepare`: images -> data/prepared/{train,val,test}.npy, manifest.csv, skipped.csv.

`val` is carved from the non-test images and never trained on: the stages choose their epochs
on it (GAN sample FID, E_z's L1) and `diagnose` measures on it, so the test images are only
ever scored by the benchmark."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from inpaint.arithmetic import pin_process
from inpaint.config import DataParams, load_section
from inpaint.data.images import ImageError, atomic_path, list_images, square_resized
from inpaint.data.synthetic import synthetic_faces

OUT = Path("data/prepared")


def load_folder(params: DataParams, target: Path) -> tuple[np.ndarray, list[str], list]:
    """Decode every image of the folder into a memory-mapped array at `target` (so that large
    sets at high resolution never sit in memory); also the names kept and (file, reason) for
    those skipped."""
    paths = list_images(params.source)
    if params.max_images is not None:
        paths = paths[:params.max_images]
    if not paths:
        raise SystemExit(f"data.source: no images (jpg, png, webp, bmp) in {params.source}")
    res = params.resolution
    target.parent.mkdir(parents=True, exist_ok=True)
    images = np.lib.format.open_memmap(target, mode="w+", dtype=np.uint8,
                                       shape=(len(paths), res, res, 3))
    names, skipped = [], []
    for path in tqdm(paths, desc="decoding", unit="img"):
        try:
            images[len(names)] = square_resized(path, res)
            names.append(str(path))
        except ImageError as err:
            skipped.append((str(path), str(err)))
    return images[:len(names)], names, skipped


def save_split(images: np.ndarray, members: np.ndarray, target: Path, chunk: int = 1024) -> None:
    """Rows `members` of `images` as a new .npy, copied in chunks, renamed into place."""
    with atomic_path(target) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8,
                                        shape=(len(members), *images.shape[1:]))
        for start in range(0, len(members), chunk):
            out[start:start + chunk] = images[members[start:start + chunk]]
        out.flush()
        del out


def main() -> None:
    params = load_section(DataParams, "data")
    decoded = OUT / ".decoded.npy"  # scratch: every decoded image, before the split
    try:
        prepare(params, decoded)
    finally:  # nothing half-written stays behind
        decoded.unlink(missing_ok=True)
        if OUT.is_dir() and not any(OUT.iterdir()):
            OUT.rmdir()


def prepare(params: DataParams, decoded: Path) -> None:
    if params.source == "synthetic":
        images = synthetic_faces(params.seed, params.synthetic_count, params.resolution)
        names, skipped = [f"synthetic:{params.seed}:{i}" for i in range(len(images))], []
    else:
        images, names, skipped = load_folder(params, decoded)
    if len(names) < params.min_images:
        raise SystemExit(f"data.source: only {len(names)} usable images in {params.source} "
                         f"(data.min_images = {params.min_images}); skipped: {len(skipped)}")
    test_count = params.test_count or max(1, int(round(len(names) * params.test_fraction)))
    if test_count >= len(names):
        raise SystemExit(f"data.test_count = {test_count}: must be below the "
                         f"{len(names)} usable images")
    val_count = max(2, int(round((len(names) - test_count) * params.val_fraction)))
    if test_count + val_count + 2 > len(names):
        raise SystemExit(f"data: {len(names)} usable images leave too few for training after "
                         f"{test_count} test and {val_count} validation images "
                         f"(data.test_count / data.test_fraction, data.val_fraction)")
    order = np.random.default_rng(params.seed).permutation(len(names))
    splits = {"test": np.sort(order[:test_count]),
              "val": np.sort(order[test_count:test_count + val_count]),
              "train": np.sort(order[test_count + val_count:])}

    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for split, members in splits.items():
        save_split(images, members, OUT / f"{split}.npy")
        rows += [{"source": names[m], "split": split, "index": i} for i, m in enumerate(members)]
    with atomic_path(OUT / "manifest.csv") as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    with atomic_path(OUT / "skipped.csv") as tmp:
        pd.DataFrame(skipped, columns=["source", "reason"]).to_csv(tmp, index=False)
    summary = {"train": len(splits["train"]), "val": val_count, "test": test_count,
               "skipped": len(skipped),
               "resolution": params.resolution}
    with atomic_path("metrics/prepare.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"prepare: {summary}")


if __name__ == "__main__":
    pin_process()
    main()
