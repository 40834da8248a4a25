"""The `inpaint` command: fill the holes of your own images with a method of the benchmark.

One pair: `inpaint IMAGE MASK -o OUT`; a folder of pairs: `inpaint --images DIR --masks DIR
-o DIR`; `--method NAME` picks the method from the registry the benchmark scores
(`inpaint.api.methods`, default `ours`); `inpaint serve` opens a web page to paint the hole and
compare the methods (`inpaint.api.serve`). Bad input stops with one line on stderr naming the
file and a non-zero exit; outputs are written to a temporary file and renamed into place, so
a failure never leaves a partial file.

The command answers `--help`, `--version` and usage errors at once: this module and what it
imports at the top (the method registry, `Inpainter`'s module) load no torch, scipy or OpenCV;
those load when a method is built (profiling/startup.py measures it).
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from PIL import Image

from inpaint.data.images import (LOSSLESS_SAVE_OPTIONS, ImageError, atomic_path, list_images,
                                  open_image, save_options)
from inpaint.data.png import DEFAULT_LEVEL, write_image
from inpaint.api.blending import BLEND_MODES
from inpaint.api.inpainter import (MASK_FORMATS, Inpainter, InpaintWarning, InputError,
                                   cli_methods)
from inpaint.registry import METHODS, model_of
from inpaint.api.upsampling import DEFAULT_UPSAMPLER, UPSAMPLERS

DEFAULT_SUFFIX = ".png"

EPILOG = """\
examples:
  inpaint photo.jpg hole.png -o repaired.png
  inpaint photo.jpg hole.png -o repaired.png --refine-steps 50
  inpaint scan.tif scratches.png -o fixed.png --mask-format black-hole --resize-mask
  inpaint photo.jpg cutout.png -o out.png --mask-format alpha   # transparent = hole
  inpaint photo.jpg hole.png -o out.png --model runs/celeba/models/inpainter
  inpaint photo.jpg hole.png -o out.png --method pconv          # uses models/pconv.pt
  inpaint photo.jpg hole.png -o out.png --method telea          # no model needed
  inpaint photo.jpg hole.png -o out.png --method comodgan --seed 3   # another random draw
  inpaint photo.jpg hole.png -o out.png --upsample bicubic      # no detail carried into the hole
  inpaint photo.jpg hole.png -o out.png --png-compression 9     # smallest PNG, slowest to write
  inpaint photo.jpg hole.png -o out.jpg --quality 95            # JPEG at quality 95
  inpaint --images photos/ --masks masks/ -o repaired/
  inpaint serve                                                 # compare methods in a browser

Masks are white = hole (black = hole with --mask-format black-hole; transparent = hole with
--mask-format alpha), thresholded at 50%, and must have the image's size unless --resize-mask
is given. Folder mode pairs files by name (photos/sub/a.jpg with masks/sub/a.png) and writes
repaired/sub/a.png. Known pixels are kept bit-exact: png (the default), tif, bmp and webp
(written lossless) keep them so in the file; jpg and other lossy formats do not, with a warning.

{methods}

exit status: 0 when every pair was inpainted, 1 on an error (in folder mode: if any pair
failed; unpaired files are only listed), 2 on a usage error.
"""


class CliError(Exception):
    """A problem to report as one line on stderr; the message names the file."""


@dataclass(frozen=True)
class Pair:
    image: Path
    mask: Path
    target: Path

    def read(self) -> tuple[Image.Image, Image.Image]:
        try:
            return open_image(self.image), open_image(self.mask)
        except ImageError as err:
            raise CliError(str(err)) from None


def non_negative(text: str) -> int:
    value = int(text)  # argparse reports a ValueError as a usage error
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: must be 0 or more")
    return value


def methods_text() -> str:
    """The epilog's list of methods, from the registry the benchmark scores."""
    lines = ["methods (--method; each is what the benchmark scores under that name):"]
    for name in cli_methods():
        model = model_of(name)
        loads = ("no model" if model is None else
                 f"--model: its stage file, default models/{model.path}"
                 if model.path.endswith(".pt") else
                 f"--model: exported model folder, default models/{model.path}")
        lines.append(f"  {name:<15}{METHODS[name].description}")
        lines.append(f"  {'':<15}({loads})")
    return "\n".join(lines)


def package_version() -> str:
    try:
        return version("inpaint")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inpaint", epilog=EPILOG.format(methods=methods_text()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Fill the holes of images with a model trained by the pipeline (by default "
                    "GAN inversion in autoencoder feature space) or a classical method.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    parser.add_argument("image", nargs="?", type=Path, help="image to repair (any size or mode)")
    parser.add_argument("mask", nargs="?", type=Path, help="its mask (white = hole)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT",
                        help="output file (format from its suffix, png if none) or folder")
    parser.add_argument("--images", type=Path, metavar="DIR", help="folder mode: image folder")
    parser.add_argument("--masks", type=Path, metavar="DIR", help="folder mode: mask folder")
    parser.add_argument("--method", choices=cli_methods(), default="ours", metavar="NAME",
                        help=f"inpainting method: {', '.join(cli_methods())} (default: "
                             "%(default)s; see 'methods' below)")
    parser.add_argument("--model", type=Path, default=None, metavar="PATH",
                        help="the method's model: exported model folder for ours and optim "
                             "(default: models/inpainter; models/inpainter_extended for "
                             "ours_extended), stage file for the retrained "
                             "baselines (pconv, gatedconv, comodgan, hifill, lama; default: "
                             "models/<method>.pt); none for the others")
    parser.add_argument("--refine-steps", type=non_negative, default=0, metavar="K",
                        help="--method ours: refine the learned code by K gradient steps (hybrid "
                             "inversion; slower, closer to the context; default 0)")
    parser.add_argument("--blend", choices=BLEND_MODES, default="poisson",
                        help="how the fill meets the known pixels: poisson (gradient-domain "
                             "blending, no seam where the fill's colour is off) or paste "
                             "(default: %(default)s)")
    parser.add_argument("--upsample", choices=UPSAMPLERS, default=DEFAULT_UPSAMPLER,
                        help="how a fill made at the model's resolution reaches a larger "
                             "photo: cra (HiFill's contextual residual aggregation: the known "
                             "region's fine detail is carried into the hole) or bicubic "
                             "(default: %(default)s)")
    parser.add_argument("--seed", type=non_negative, default=0, metavar="N",
                        help="random draw of a stochastic method (comodgan's latent code, "
                             "optim's start); the benchmark scores seed 0 (default: %(default)s)")
    parser.add_argument("--mask-format", choices=MASK_FORMATS, default="white-hole",
                        help="what marks the hole: white, black, or transparency (alpha) "
                             "(default: %(default)s)")
    parser.add_argument("--resize-mask", action="store_true",
                        help="resize a mask of another size to the image instead of failing")
    parser.add_argument("--png-compression", type=int, default=None, metavar="LEVEL",
                        help="PNG compression: 0-3 are ISA-L's fast deflate after a "
                             "row-difference filter (0 fastest, 3 smallest of them); 4-9 zlib "
                             "with Pillow's per-row filters, slower and about 10%% smaller "
                             f"(default: {DEFAULT_LEVEL}, chosen for speed: a 24 MP photo is "
                             "written with 5x less CPU than by Pillow at zlib level 1, in a "
                             "file 10%% larger)")
    parser.add_argument("--quality", type=int, default=None, metavar="Q",
                        help="quality 1-100 of JPEG output (default: Pillow's 75) and of WebP "
                             "output, which is lossy only when it is given (default: lossless)")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    folder_mode = args.images is not None or args.masks is not None
    if folder_mode and (args.image or args.mask):
        parser.error("give IMAGE MASK or --images DIR --masks DIR, not both")
    if folder_mode and (args.images is None or args.masks is None):
        parser.error("folder mode needs both --images DIR and --masks DIR")
    if not folder_mode and args.mask is None:
        parser.error("give IMAGE and MASK (or --images DIR --masks DIR)")
    if args.refine_steps and METHODS[args.method].refined_by is None:
        refiners = " or ".join(m for m in cli_methods() if METHODS[m].refined_by)
        parser.error(f"--refine-steps applies to --method {refiners}, not {args.method}")
    if args.model is not None and METHODS[args.method].model is None:
        parser.error(f"--method {args.method} uses no model; leave out --model")
    args.folder_mode = folder_mode
    target = (Path(f"any{DEFAULT_SUFFIX}") if folder_mode  # folder mode writes png
              else single_target(args.output, args.image))
    name = Image.registered_extensions().get(target.suffix.lower())
    if name is not None:  # an unknown suffix is reported by output_format, before any work
        for option, value in (("png_compression", args.png_compression),
                              ("quality", args.quality)):
            try:
                save_options(name, **{option: value})
            except ValueError as err:
                parser.error(f"--{option.replace('_', '-')}: {err}")
    return args


def load_inpainter(args: argparse.Namespace, background: bool = False) -> Inpainter:
    """The one place that builds the inpainting method from the options. In the `background`,
    `inpaint_pair` reports an error in loading the model."""
    try:
        return Inpainter.from_pretrained(args.model, refine_steps=args.refine_steps,
                                         method=args.method, blend=args.blend,
                                         upsample=args.upsample, seed=args.seed,
                                         background=background)
    except ValueError as err:
        raise CliError(str(err)) from None


def output_format(target: Path) -> str:
    """PIL's format name for the target's suffix; an error before any work if there is none."""
    name = Image.registered_extensions().get(target.suffix.lower())
    if name is None or name not in Image.SAVE:
        raise CliError(f"{target}: cannot write '{target.suffix}' images; "
                       f"use .png, .webp, .bmp, .tif or .jpg")
    return name


def single_target(output: Path, image: Path) -> Path:
    """OUT as given; OUT/<image name>.png for a folder; png when OUT has no suffix."""
    if output.is_dir():
        return output / f"{image.stem}{DEFAULT_SUFFIX}"
    return output if output.suffix else output.with_suffix(DEFAULT_SUFFIX)


def lossy_warning(target: Path, quality: int | None = None) -> str | None:
    """A warning line when `target`'s format, written at `quality` if one is given, cannot
    store the known pixels exactly."""
    name = output_format(target)
    if name in LOSSLESS_SAVE_OPTIONS and quality is None:
        return None
    return (f"{target}: warning: {name} is not lossless, so the known pixels will not be kept "
            f"bit for bit in the file; write .png to keep them")


def save(result: Image.Image, source: Image.Image, target: Path, args: argparse.Namespace
         ) -> None:
    """Write atomically (temporary file, then rename), keeping the source's colour profile,
    at the level or quality of `args` (`png.write_image`)."""
    if result.mode == source.mode and "icc_profile" in source.info:
        result.info["icc_profile"] = source.info["icc_profile"]
    name = output_format(target)
    try:
        with atomic_path(target) as tmp:
            write_image(result, tmp, name, args.png_compression, args.quality)
    except (OSError, ValueError) as err:
        raise CliError(f"{target}: not written ({err})") from None


def inpaint_pair(inpainter: Inpainter, pair: Pair, image: Image.Image, mask: Image.Image,
                 args: argparse.Namespace) -> list[str]:
    """Inpaint one read pair into its target; returns the warnings as lines naming the file."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = inpainter.inpaint(image, mask, args.mask_format, args.resize_mask)
        except InputError as err:
            raise CliError(f"{pair.image if err.which == 'image' else pair.mask}: {err}") from None
        except ValueError as err:  # loading the model: ModelFormatError, a bad INPAINT_DEVICE
            raise CliError(str(err)) from None
    save(result, image, pair.target, args)
    return [f"{pair.mask if issubclass(w.category, InpaintWarning) else pair.image}: "
            f"warning: {w.message}" for w in caught]


def run_single(args: argparse.Namespace) -> int:
    pair = Pair(args.image, args.mask, single_target(args.output, args.image))
    lossy = lossy_warning(pair.target, args.quality)  # also rejects an unknown suffix first
    inpainter = load_inpainter(args, background=True)  # while the photo is read and prepared
    image, mask = pair.read()
    for line in inpaint_pair(inpainter, pair, image, mask, args) + [lossy]:
        if line:
            print(line, file=sys.stderr)
    print(f"wrote {pair.target}")
    return 0


def files_by_name(folder: Path) -> dict[str, list[Path]]:
    """Image files of `folder` keyed by their path inside it without the suffix ('sub/a')."""
    try:
        paths = list_images(folder)
    except ImageError as err:
        raise CliError(str(err)) from None
    names: dict[str, list[Path]] = {}
    for path in paths:
        names.setdefault(path.relative_to(folder).with_suffix("").as_posix(), []).append(path)
    return names


def pair_folders(images: Path, masks: Path, output: Path) -> tuple[list[Pair], list[str]]:
    """(image, mask) pairs by name, and one 'file: reason' line per file left out."""
    image_names, mask_names = files_by_name(images), files_by_name(masks)
    if not image_names:
        raise CliError(f"{images}: no images (jpg, png, webp, bmp) in this folder")
    pairs, skipped = [], []
    for name, found in sorted(image_names.items()):
        candidates = mask_names.get(name, [])
        if len(found) > 1:
            skipped += [f"{path}: several images named {name}.*" for path in found]
        elif not candidates:
            skipped.append(f"{found[0]}: no mask named {name}.* in {masks}")
        elif len(candidates) > 1:
            skipped.append(f"{found[0]}: several masks named {name}.* in {masks}")
        else:
            pairs.append(Pair(found[0], candidates[0], output / f"{name}{DEFAULT_SUFFIX}"))
    skipped += [f"{path}: no image named {name}.* in {images}"
                for name, found in sorted(mask_names.items()) if name not in image_names
                for path in found]
    return pairs, skipped


def run_folder(args: argparse.Namespace) -> int:
    from tqdm import tqdm
    pairs, skipped = pair_folders(args.images, args.masks, args.output)
    try:
        args.output.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CliError(f"{args.output}: cannot create the output folder ({err})") from None
    inpainter = load_inpainter(args)
    failed = 0
    for pair in tqdm(pairs, desc="inpainting", unit="image", disable=None):
        try:
            image, mask = pair.read()
            for line in inpaint_pair(inpainter, pair, image, mask, args):
                tqdm.write(line, file=sys.stderr)
        except CliError as err:
            failed += 1
            tqdm.write(f"inpaint: error: {err}", file=sys.stderr)
    for line in skipped:
        print(f"skipped {line}", file=sys.stderr)
    print(f"done: {len(pairs) - failed} inpainted into {args.output}; failed: {failed}; "
          f"skipped: {len(skipped)}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:  # before the IMAGE MASK parser; the web stack loads only here
        from inpaint.api.serve import main as serve
        return serve(argv[1:])
    args = parse_args(argv)
    try:
        return run_folder(args) if args.folder_mode else run_single(args)
    except CliError as err:
        print(f"inpaint: error: {err}", file=sys.stderr)
        return 1


def run() -> None:
    """The `inpaint` command: `main`, then the process ends without tearing the interpreter
    down. Its files are written and renamed by then, and its output is flushed here; the
    teardown (torch's modules, a large photo's arrays) took 0.6 s of a 24 MP photo's 8."""
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    run()
