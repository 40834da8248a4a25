"""Writing a large photo as PNG: `inpaint.data.png.write_png` (Up filter, ISA-L deflate) at
levels 0-3 against Pillow at zlib level 1 with run-length matches (the command's default
before) and at level 9 (issue 37). Wall and CPU seconds (medians of `--repeats`) and the
file's size, each file decoded back and checked equal to the photo:

    OMP_NUM_THREADS=1 python profiling/png_writer.py --photo /tmp/large_photos/photo_24mp.jpg

Without `--photo` (or when it is missing) a smooth synthetic 6000x4000 photo with noise is
used."""
from __future__ import annotations

import argparse
import io
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from inpaint.data.png import write_png


def synthetic(width: int, height: int, seed: int = 0) -> Image.Image:
    """Smooth colour gradients and waves plus a little sensor-like noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = [127 + 60 * np.sin(x / (300 + 70 * c)) * np.cos(y / (200 + 50 * c)) + 40 * x / width
                for c in range(3)]
    photo = np.stack(channels, axis=-1) + rng.normal(0, 3, (height, width, 3))
    return Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8))


def measure(write, repeats: int) -> tuple[float, float, bytes]:
    walls, cpus = [], []
    for _ in range(repeats):
        out = io.BytesIO()
        wall, cpu = time.perf_counter(), time.process_time()
        write(out)
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return statistics.median(walls), statistics.median(cpus), out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, default=Path("/tmp/large_photos/photo_24mp.jpg"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--levels", type=int, nargs="+", default=[1],
                        help="write_png levels to time (0-3)")
    args = parser.parse_args()
    if args.photo.is_file():
        image = Image.open(args.photo).convert("RGB")
        source = str(args.photo)
    else:
        image, source = synthetic(6000, 4000), "synthetic"
    image.load()
    pixels = np.asarray(image)
    cases = {f"write_png, ISA-L level {level}":
             (lambda out, level=level: write_png(out, image, level)) for level in args.levels}
    cases["Pillow, zlib level 1, run-length"] = lambda out: image.save(
        out, format="PNG", compress_level=1, compress_type=3)
    cases["Pillow, zlib level 9"] = lambda out: image.save(out, format="PNG", compress_level=9)
    print(f"{source}: {image.width}x{image.height} {image.mode}, medians of {args.repeats}")
    print("| writer | wall s | CPU s | MB |\n|---|---|---|---|")
    for name, write in cases.items():
        wall, cpu, data = measure(write, args.repeats)
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), pixels), name
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {len(data) / 1e6:.1f} |", flush=True)


if __name__ == "__main__":
    main()
