"""How long `inpaint serve` takes to show every method's result for one photo: a 512 x 512
synthetic face with a free-form hole (generated strokes and blobs, about 15% of the image)
sent to the app's `POST /api/inpaint` once per method, one after another, as the page does.

Each request is timed whole (multipart upload, decoding, inference, PNG encoding), in process
through FastAPI's test client, so the figure leaves out only the browser's own work. Prints
the median over --runs rounds per method (request time, the inference time the server
reports, and the request's CPU time, which other jobs on a shared machine do not inflate)
and of a whole round. Methods whose model is missing are listed and left out.

    OMP_NUM_THREADS=1 python profiling/serve_latency.py --models-dir models
"""
from __future__ import annotations

import argparse
import io
import statistics
import time
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from inpaint.data.masks import generate_mask
from inpaint.api.serve import create_app
from inpaint.data.synthetic import synthetic_face


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=Path("models"),
                        help="inpainter/, pconv.pt, gatedconv.pt (default: %(default)s)")
    parser.add_argument("--size", type=int, default=512, help="photo side in pixels")
    parser.add_argument("--runs", type=int, default=5, help="rounds timed")
    parser.add_argument("--skip", nargs="*", default=["optim"], help="methods left out")
    args = parser.parse_args()

    client = TestClient(create_app(models_dir=args.models_dir))
    methods = []
    for method in client.get("/api/methods").json()["methods"]:
        if not method["available"]:
            print(f"{method['name']}: unavailable ({method['reason']})")
        elif method["name"] not in args.skip:
            methods.append(method["name"])
    photo = synthetic_face(0, 0, args.size)
    hole = generate_mask(np.random.default_rng(0), args.size, 0.15) == 0
    files = {"image": ("face.png", png(photo), "image/png"),
             "mask": ("face_mask.png", png(np.where(hole, 255, 0).astype(np.uint8)),
                      "image/png")}
    print(f"photo {args.size} x {args.size}, hole {hole.mean():.1%}, methods: "
          f"{', '.join(methods)}; {args.runs} rounds after one warm-up round")

    request_s: dict[str, list[float]] = {m: [] for m in methods}
    inference_s: dict[str, list[float]] = {m: [] for m in methods}
    cpu_s: dict[str, list[float]] = {m: [] for m in methods}
    rounds, round_cpu = [], []
    for run in range(args.runs + 1):  # the first round warms caches and is not counted
        round_start, round_cpu_start = time.perf_counter(), time.process_time()
        for method in methods:
            start, cpu_start = time.perf_counter(), time.process_time()
            answer = client.post("/api/inpaint", files=files, data={"method": method})
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            answer.raise_for_status()
            if run:
                request_s[method].append(elapsed)
                inference_s[method].append(float(answer.headers["x-inpaint-seconds"]))
                cpu_s[method].append(cpu)
        if run:
            rounds.append(time.perf_counter() - round_start)
            round_cpu.append(time.process_time() - round_cpu_start)

    print(f"{'method':<12}{'request s':>11}{'inference s':>13}{'CPU s':>8}")
    for method in methods:
        print(f"{method:<12}{statistics.median(request_s[method]):>11.3f}"
              f"{statistics.median(inference_s[method]):>13.3f}"
              f"{statistics.median(cpu_s[method]):>8.3f}")
    print(f"all {len(methods)} methods, one after another: median {statistics.median(rounds):.2f} s"
          f" (min {min(rounds):.2f}, max {max(rounds):.2f}); CPU "
          f"{statistics.median(round_cpu):.2f} s")


if __name__ == "__main__":
    main()
