"""`inpaint serve`: a local web page to paint a hole on your own photo and compare the methods.

The page (`inpaint/api/static/index.html`, no build step, nothing from the network) sends the
photo and its mask (white = hole) once per chosen method to `POST /api/inpaint`, which runs
the same `Inpainter` as the `inpaint` command and answers with the result as a PNG. Bad input
gets a 4xx answer whose JSON `detail` is one line for the page to show.

Endpoints: `GET /` the page; `GET /api/methods` every method of the registry the command
offers, with `available` and, when its model cannot be loaded, the `reason`;
`POST /api/inpaint` (multipart: `image`, `mask` files; `method`; `refine_steps`, 'ours' only;
`upsample`, one of `inpaint.api.upsampling.UPSAMPLERS`)
the result as image/png, its run time in seconds in `X-Inpaint-Seconds` and any warnings as a
JSON list in `X-Inpaint-Warnings`.

Inference runs one request at a time; at most `max_requests` requests are admitted (running
or waiting, their uploads in memory) and the rest get 429, so several tabs cannot exhaust
memory. Uploads are held in memory only: nothing is written to disk.
"""
from __future__ import annotations

import argparse
import copy
import io
import json
import socket
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from PIL import Image, ImageOps, UnidentifiedImageError
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartParser

from inpaint.api.inpainter import (Inpainter, InpaintWarning, InputError, cli_methods,
                                   refiners_phrase)
from inpaint.api.methods import METHODS, default_model_path
from inpaint.api.upsampling import DEFAULT_UPSAMPLER, UPSAMPLERS

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 7860
DEFAULT_MAX_PIXELS = 4096 * 4096  # a 16-megapixel photo; a phone's 12 MP fits
DEFAULT_MAX_REQUESTS = 4
MAX_REFINE_STEPS = 1000
# the largest upload that can hold an image within the pixel limit: a 16-bit RGBA PNG stored
# without compression (8 bytes a pixel) and an RGBA mask (4), plus room for metadata
BYTES_PER_PIXEL, HEADROOM_BYTES = 12, 1 << 20


@dataclass
class Job:
    """One checked request: the uploaded photo and mask, still encoded, and the method."""
    image: bytes
    mask: bytes
    image_name: str
    mask_name: str
    method: str
    refine_steps: int
    upsample: str = DEFAULT_UPSAMPLER


def model_path(method: str, model: Path | None, models_dir: Path) -> Path | None:
    """What `method` loads: `model` for the methods of the paper's exported model (`--model`,
    default <models_dir>/inpainter), else its model's default path under `models_dir`
    (models/inpainter_extended, models/<method>.pt); None for one that loads nothing."""
    default = default_model_path(method, models_dir)
    paper = default_model_path("ours", models_dir)
    return model if model is not None and default == paper else default


def decode(data: bytes, name: str, max_pixels: int) -> Image.Image:
    """An uploaded image, decoded with its EXIF orientation as `images.open_image` does; the
    pixel count is checked before decoding, so an oversized image never takes the memory."""
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > max_pixels:
            raise HTTPException(413, f"{name}: {image.width}x{image.height} is "
                                     f"{image.width * image.height:,} pixels; this server "
                                     f"takes at most {max_pixels:,} (--max-pixels)")
        image.load()  # decode now: a truncated file fails here
        return ImageOps.exif_transpose(image)
    except Image.DecompressionBombError as err:  # Pillow's own limit, under a larger --max-pixels
        raise HTTPException(413, f"{name}: {err}") from None
    except UnidentifiedImageError:  # its message names the in-memory buffer, not the file
        raise HTTPException(400, f"{name}: cannot decode image (not an image format that "
                                 "Pillow reads)") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise HTTPException(400, f"{name}: cannot decode image ({err})") from None


def png_bytes(result: Image.Image, source: Image.Image) -> bytes:
    """The result as PNG, keeping the source's colour profile as the command does."""
    buffer = io.BytesIO()
    same_mode = result.mode == source.mode
    result.save(buffer, format="PNG",
                icc_profile=source.info.get("icc_profile") if same_mode else None)
    return buffer.getvalue()


class Runner:
    """The registry's methods, loaded once, and the lock that runs one request at a time."""

    def __init__(self, model: Path | None, models_dir: Path, max_pixels: int):
        self.model, self.models_dir, self.max_pixels = model, models_dir, max_pixels
        self.loaded: dict[str, Inpainter] = {}
        self.reasons: dict[str, str] = {}  # why a method cannot run: its model's load error
        for name in cli_methods():
            try:
                self.loaded[name] = self._load(name, 0)
            except ValueError as err:  # ModelFormatError: missing or damaged model
                self.reasons[name] = str(err)
        self._refined: tuple[int, Inpainter] | None = None  # the last 'ours' refine variant
        self.lock = threading.Lock()

    def _load(self, name: str, refine_steps: int) -> Inpainter:
        return Inpainter.from_pretrained(model_path(name, self.model, self.models_dir),
                                         refine_steps=refine_steps, method=name)

    def describe(self) -> list[dict]:
        """Every method the command offers, in the registry's order, for the page."""
        return [{"name": name, "description": METHODS[name].description,
                 "available": name in self.loaded, "reason": self.reasons.get(name),
                 "refines": METHODS[name].refined_by is not None}
                for name in cli_methods()]

    def get(self, name: str, refine_steps: int) -> Inpainter:
        """The inpainter for a request; call with the lock held (it may load a model)."""
        if name not in self.loaded:
            raise HTTPException(400, f"method {name} is unavailable: {self.reasons[name]}")
        if refine_steps and METHODS[name].refined_by is None:
            raise HTTPException(400, f"refine_steps={refine_steps}: {refiners_phrase()}")
        if not refine_steps:
            return self.loaded[name]
        if self._refined is None or self._refined[0] != refine_steps:
            self._refined = refine_steps, self._load(name, refine_steps)
        return self._refined[1]

    def run(self, job: Job) -> Response:
        """Inpaint one job; the answer carries the run time and warnings in its headers."""
        with self.lock:  # decoding too: a waiting request holds only its compressed upload
            image = decode(job.image, job.image_name, self.max_pixels)
            mask = decode(job.mask, job.mask_name, self.max_pixels)
            inpainter = copy.copy(self.get(job.method, job.refine_steps))
            inpainter.upsample = job.upsample  # a setting of the call, not of the model
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                start = time.perf_counter()
                try:
                    result = inpainter.inpaint(image, mask)
                except InputError as err:
                    name = job.image_name if err.which == "image" else job.mask_name
                    raise HTTPException(422, f"{name}: {err}") from None
                seconds = time.perf_counter() - start
        notes = [str(w.message) for w in caught if issubclass(w.category, InpaintWarning)]
        return Response(png_bytes(result, image), media_type="image/png",
                        headers={"X-Inpaint-Seconds": f"{seconds:.4f}",
                                 "X-Inpaint-Warnings": json.dumps(notes)})


def whole_number(text: str) -> int | None:
    """`text` as a number 0, 1, 2, ..., or None: ASCII digits only (`str.isdigit` also takes
    digits like '²' that `int` refuses)."""
    return int(text) if text.isascii() and text.isdigit() else None


def form_text(form: FormData, field: str, default: str) -> str:
    value = form.get(field, default)
    if not isinstance(value, str):
        raise HTTPException(400, f"form field '{field}' must be text, not a file")
    return value


def read_job(form: FormData) -> Job:
    """Check a request's form; any problem is an HTTPException naming it."""
    uploads = {}
    for field in ("image", "mask"):
        upload = form.get(field)
        if not isinstance(upload, UploadFile):
            raise HTTPException(400, f"no '{field}' file in the form (multipart fields: image, "
                                     "mask, method, refine_steps, upsample)")
        uploads[field] = upload
    method = form_text(form, "method", "ours")
    if method not in cli_methods():
        raise HTTPException(400, f"unknown method {method!r}; methods: "
                                 f"{', '.join(cli_methods())}")
    text = form_text(form, "refine_steps", "0")
    steps = whole_number(text)
    if steps is None or steps > MAX_REFINE_STEPS:
        raise HTTPException(400, f"refine_steps={text!r}: expected a whole number from 0 to "
                                 f"{MAX_REFINE_STEPS}")
    upsample = form_text(form, "upsample", DEFAULT_UPSAMPLER)
    if upsample not in UPSAMPLERS:
        raise HTTPException(400, f"unknown upsample {upsample!r}; upsamplers: "
                                 f"{', '.join(UPSAMPLERS)}")
    return Job(uploads["image"].file.read(), uploads["mask"].file.read(),
               uploads["image"].filename or "image", uploads["mask"].filename or "mask",
               method, steps, upsample)


def create_app(model: Path | None = None, models_dir: Path = Path("models"),
               max_pixels: int = DEFAULT_MAX_PIXELS,
               max_requests: int = DEFAULT_MAX_REQUESTS) -> FastAPI:
    """The web app: every method of the registry, loaded once from `model` (the 'ours' and
    'optim' folder, default <models_dir>/inpainter) and `models_dir` (pconv.pt, ...,
    lama.pt).
    `app.state.admission` is the semaphore that admits at most `max_requests` inpaint
    requests at once."""
    if max_pixels < 1 or max_requests < 1:
        raise ValueError("max_pixels and max_requests must be positive")
    max_body = BYTES_PER_PIXEL * max_pixels + HEADROOM_BYTES
    # Starlette spools an uploaded file to a temporary file on disk past this size; keep every
    # upload that passes the size check in memory instead (the parser reads the class setting)
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, max_body)
    runner = Runner(model, models_dir, max_pixels)
    # the Swagger pages load their scripts from a CDN: off, as the page must work offline
    app = FastAPI(title="inpaint", docs_url=None, redoc_url=None)
    app.state.runner = runner
    app.state.admission = threading.BoundedSemaphore(max_requests)
    page = resources.files("inpaint.api").joinpath("static/index.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.get("/api/methods")
    def list_methods() -> dict:
        return {"methods": runner.describe(), "max_pixels": max_pixels,
                "max_refine_steps": MAX_REFINE_STEPS, "upsamplers": list(UPSAMPLERS),
                "default_upsampler": DEFAULT_UPSAMPLER}

    @app.post("/api/inpaint")
    async def inpaint(request: Request) -> Response:
        length = whole_number(request.headers.get("content-length", ""))
        if length is None:
            raise HTTPException(411, "the request needs a Content-Length")
        if length > max_body:
            raise HTTPException(413, f"upload of {length:,} bytes; this server takes at most "
                                     f"{max_body:,} (--max-pixels {max_pixels:,})")
        # admitted before the body is read, so waiting requests hold bounded memory
        if not app.state.admission.acquire(blocking=False):
            raise HTTPException(429, f"busy: {max_requests} requests are running or waiting; "
                                     "try again when they are done")
        try:
            async with request.form(max_files=2, max_fields=3) as form:
                job = await run_in_threadpool(read_job, form)
            return await run_in_threadpool(runner.run, job)
        finally:
            app.state.admission.release()

    return app


def positive(text: str) -> int:
    value = int(text)  # argparse reports a ValueError as a usage error
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be 1 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inpaint serve",
        description="A local web page: open a photo, paint the hole (or upload a mask, white = "
                    "hole) and compare the methods' results side by side.")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help="address to listen on (default: %(default)s, this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help="port (default: %(default)s; 0 picks a free one)")
    parser.add_argument("--model", type=Path, default=None, metavar="DIR",
                        help="exported model folder for ours and optim (default: "
                             "<models-dir>/inpainter)")
    parser.add_argument("--models-dir", type=Path, default=Path("models"), metavar="DIR",
                        help="folder of the pipeline's models: inpainter/, pconv.pt, "
                             "gatedconv.pt, comodgan.pt, hifill.pt, lama.pt (default: %(default)s)")
    parser.add_argument("--max-pixels", type=positive, default=DEFAULT_MAX_PIXELS, metavar="N",
                        help="largest image accepted, in pixels (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    ipv6 = ":" in args.host
    try:  # bound first: a busy port fails at once, and the address printed below is ours
        sock = socket.create_server((args.host, args.port),
                                    family=socket.AF_INET6 if ipv6 else socket.AF_INET)
    except OSError as err:
        print(f"inpaint serve: error: cannot listen on {args.host} port {args.port} ({err})",
              file=sys.stderr)
        return 1
    app = create_app(args.model, args.models_dir, args.max_pixels)
    for method in app.state.runner.describe():
        if not method["available"]:
            print(f"inpaint serve: {method['name']} unavailable: {method['reason']}")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"inpaint serve: listening on {args.host}: other machines can reach this page")
    host, port = f"[{args.host}]" if ipv6 else args.host, sock.getsockname()[1]  # --port 0: any
    print(f"inpaint serve: open http://{host}:{port} in a browser (Ctrl+C stops)", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
    return 0
