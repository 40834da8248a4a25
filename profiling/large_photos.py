"""Large photos through the `inpaint` command with the defaults (`--method ours`, `--upsample
cra`, Poisson, PNG): wall time, peak memory and where the time goes, for 1, 6, 24 and 100 MP
photos with one hole and with several; and the folder mode's throughput on many small photos.

Each case is a fresh process running the `inpaint` command's `main` on a JPEG photo and a PNG
mask (the photos are synthetic, made once under --work): wall time from the parent (start-up
included), its CPU time (user + system) and peak memory (peak resident set), both from
`os.wait4`. On a busy machine the wall time mostly measures waiting: the CPU time is the work.
The split is wall time inside the child, measured by wrapping the command's steps: load
(decoding the photo and mask), fill (the mask, the holes' regions, the downscale, waiting
for the model and running it: the model and torch load in a second thread from the start,
beside load and fill), upsample (`upsample_regions`), blend (`blend_regions`) and encode
(writing the file). Medians of
--repeats runs. Holes: 'one' is an ellipse of 2.75% of the photo (0.66 MP at 24 MP);
'two' adds one of 2% (0.48 MP: the issue's two holes); 'several' adds four small ones to those
two, one at the border.

--model defaults to models/inpainter; where that does not exist, a model of the default
architecture (params.yaml: 64 px, z_dim 100) with untrained weights is exported under --work,
which costs the same time. --code runs another checkout's `inpaint` (e.g. a git worktree of an
older commit) for a before/after ratio in the same conditions:

    OMP_NUM_THREADS=1 python profiling/large_photos.py --sizes 1 6 24 100 --repeats 5
    git worktree add /tmp/base b000089
    OMP_NUM_THREADS=1 python profiling/large_photos.py --sizes 24 --code /tmp/base
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

STEPS = ("load", "fill", "upsample", "blend", "encode")
HOLES = {  # share of the photo, centre (y, x) and aspect of each elliptic hole
    "one": [(0.0275, (0.45, 0.40), 1.3)],
    "two": [(0.0275, (0.45, 0.40), 1.3), (0.02, (0.30, 0.75), 0.8)],  # the case
    "several": [(0.0275, (0.45, 0.40), 1.3), (0.02, (0.30, 0.75), 0.8),
                (0.0025, (0.80, 0.15), 1.0), (0.0025, (0.85, 0.80), 2.0),
                (0.0025, (0.10, 0.20), 1.0), (0.0025, (0.98, 0.50), 3.0)],  # last: at the border
}
THREE_TO_TWO = 1.5  # width / height of the photos, as a camera's


def photo_size(megapixels: float) -> tuple[int, int]:
    """(width, height) of a 3:2 photo of about `megapixels`."""
    height = int(round((megapixels * 1e6 / THREE_TO_TWO) ** 0.5))
    return int(round(height * THREE_TO_TWO)), height


def make_photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Shading, texture and sensor noise, built in strips of rows to keep 100 MP light."""
    rng = np.random.default_rng(seed)
    out = np.empty((height, width, 3), np.uint8)
    xx = np.arange(width, dtype=np.float32)
    for top in range(0, height, 512):
        yy = np.arange(top, min(top + 512, height), dtype=np.float32)[:, None]
        base = (120 + 50 * np.sin(xx / 37.0) * np.cos(yy / 53.0) + 30 * np.sin(xx / 5.0)
                * np.sin(yy / 7.0) + 40 * (xx / width - yy / height))
        noise = rng.normal(0, 4, base.shape + (3,)).astype(np.float32)
        rgb = np.stack([base, 0.7 * base + 30, 250 - base], -1) + noise
        out[top:top + len(yy)] = rgb.clip(0, 255)
    return out


def make_mask(width: int, height: int, kind: str) -> np.ndarray:
    """White-hole mask of elliptic holes (`HOLES`)."""
    import cv2
    mask = np.zeros((height, width), np.uint8)
    for share, (cy, cx), aspect in HOLES[kind]:
        area = share * width * height
        ry = (area / (np.pi * aspect)) ** 0.5
        cv2.ellipse(mask, (int(cx * width), int(cy * height)), (int(ry * aspect), int(ry)),
                    20, 0, 360, 255, -1)
    return mask


def inputs(work: Path, megapixels: float, kind: str) -> tuple[Path, Path]:
    """The JPEG photo and PNG mask of a case, made once under `work`."""
    from PIL import Image
    width, height = photo_size(megapixels)
    image, mask = work / f"photo_{megapixels:g}mp.jpg", work / f"mask_{megapixels:g}mp_{kind}.png"
    if not image.exists():
        Image.fromarray(make_photo(width, height)).save(image, quality=92)
    if not mask.exists():
        Image.fromarray(make_mask(width, height, kind)).save(mask)
    return image, mask


def default_model(work: Path) -> Path:
    """models/inpainter, or an untrained model of the default architecture under `work`."""
    if Path("models/inpainter/config.json").is_file():
        return Path("models/inpainter")
    folder = work / "untrained_inpainter"
    if not (folder / "config.json").is_file():
        import torch
        from inpaint.paper.networks import (AutoencoderConfig, Decoder, Discriminator,
                                            GanConfig, Generator, InversionConfig,
                                            InversionEncoder)
        from inpaint.pretrained import export_inpainter
        torch.manual_seed(0)
        ae, gan = AutoencoderConfig(resolution=64), GanConfig(z_dim=100, width=32)
        inversion = InversionConfig(resolution=64, z_dim=100, width=0.25)
        export_inpainter(folder, {"inversion_encoder": (inversion, InversionEncoder(inversion)),
                                  "generator": (gan, Generator(gan)),
                                  "discriminator": (gan, Discriminator(gan)),
                                  "decoder": (ae, Decoder(ae))}, hole_fill=0.0)
    return folder


def child(argv: list[str], timings: Path) -> None:
    """Run the `inpaint` command's main on `argv` with its steps timed; write the times."""
    import inpaint.api.cli as cli
    import inpaint.api.inpainter as inpainter
    import inpaint.api.upsampling as upsampling
    spent = dict.fromkeys(STEPS, 0.0)

    def timed(owner, name: str, step: str) -> None:
        original = getattr(owner, name, None)
        if original is None:  # an older checkout (--code) names the step otherwise
            return

        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[step] += time.perf_counter() - start
        setattr(owner, name, wrapper)

    timed(cli.Pair, "read", "load")
    timed(inpainter.Inpainter, "inpaint", "fill")
    for owner, name in ((inpainter, "upsample_regions"), (upsampling, "upsample")):
        timed(owner, name, "upsample")
    for owner, name in ((inpainter, "blend_regions"), (inpainter, "blend")):
        timed(owner, name, "blend")
    timed(cli, "save", "encode")
    status = cli.main(argv)
    spent["fill"] -= spent["upsample"] + spent["blend"]  # inside Inpainter.inpaint
    timings.write_text(json.dumps({"status": status, **spent}))
    sys.stdout.flush()
    os._exit(status)  # as the command ends (`cli.run`): without the interpreter's teardown


def run_case(argv: list[str], code: Path | None, work: Path) -> dict:
    """One fresh process: wall seconds, peak resident MiB and the step times."""
    timings = work / "timings.json"
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = f"{code}{os.pathsep}{env.get('PYTHONPATH', '')}"
    command = [sys.executable, __file__, "--child", str(timings), "--", *argv]
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"inpaint {' '.join(argv)} failed (status {status})")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "peak_mib": usage.ru_maxrss / 1024, **json.loads(timings.read_text())}


def medians(runs: list[dict]) -> dict:
    return {key: statistics.median(run[key] for run in runs)
            for key in ("wall", "cpu", "peak_mib", *STEPS)}


def folder_throughput(work: Path, model: Path, code: Path | None, count: int,
                      repeats: int) -> float:
    """Photos per second of `inpaint --images --masks` on `count` 0.3 MP photos (median)."""
    from PIL import Image
    images, masks = work / "small" / "images", work / "small" / "masks"
    if not images.is_dir():
        images.mkdir(parents=True)
        masks.mkdir(parents=True)
        for i in range(count):
            Image.fromarray(make_photo(672, 448, seed=i)).save(images / f"{i:04d}.jpg",
                                                               quality=92)
            Image.fromarray(make_mask(672, 448, "several")).save(masks / f"{i:04d}.png")
    argv = ["--images", str(images), "--masks", str(masks), "-o", str(work / "small" / "out"),
            "--model", str(model)]
    return statistics.median(count / run_case(argv, code, work)["wall"]
                             for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 6, 24, 100],
                        metavar="MP", help="photo sizes in megapixels (default: 1 6 24 100)")
    parser.add_argument("--holes", nargs="+", choices=sorted(HOLES), default=sorted(HOLES))
    parser.add_argument("--repeats", type=int, default=5, help="runs per case (default 5)")
    parser.add_argument("--small-photos", type=int, default=100,
                        help="photos of the folder-mode run (0: skip it; default 100)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/large_photos"),
                        help="where the photos, masks and outputs go")
    parser.add_argument("--model", type=Path, default=None, help="exported model folder")
    parser.add_argument("--code", type=Path, default=None,
                        help="run the `inpaint` package of this checkout instead")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("argv", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        return child(args.argv, args.child)
    args.work.mkdir(parents=True, exist_ok=True)
    model = args.model or default_model(args.work)
    print(f"model {model}; code {args.code or 'this checkout'}; medians of {args.repeats}; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print("| photo | holes | wall s | CPU s | peak MiB | " + " | ".join(STEPS) + " (wall s) |")
    print("|---|---|---|---|---|" + "---|" * len(STEPS))
    for megapixels in args.sizes:
        for kind in args.holes:
            image, mask = inputs(args.work, megapixels, kind)
            argv = [str(image), str(mask), "-o", str(args.work / "out.png"), "--model",
                    str(model)]
            m = medians([run_case(argv, args.code, args.work) for _ in range(args.repeats)])
            width, height = photo_size(megapixels)
            steps = " | ".join(f"{m[step]:.2f}" for step in STEPS)
            print(f"| {megapixels:g} MP ({width}x{height}) | {kind} | {m['wall']:.2f} | "
                  f"{m['cpu']:.2f} | {m['peak_mib']:,.0f} | {steps} |", flush=True)
    if args.small_photos:
        rate = folder_throughput(args.work, model, args.code, args.small_photos,
                                 max(1, min(args.repeats, 3)))
        print(f"folder mode, {args.small_photos} photos of 0.3 MP with several holes: "
              f"{rate:.1f} photos/s (median of {max(1, min(args.repeats, 3))} runs)")


if __name__ == "__main__":
    main()
