"""Inpaint your own images with any method of the benchmark's registry (`inpaint.api.methods`):
any size, aspect ratio and image mode.

A method with a model (the exported GAN-inversion model, the retrained PConv and Gated Conv)
runs at its trained resolution on a reflect-padded square copy of the image, and its output is
resized back; a classical method (Telea, Navier-Stokes, biharmonic) runs on the image at its
own size. Either way the output is used only inside the hole, so every known pixel of the
original is returned bit-exact at its original resolution, in its original numeric range (for
modes converted to RGB, as PIL converts them).

Image modes: RGB, grey (L) and 16-bit grey (I;16) keep their mode; 1-bit, 32-bit and float
grey come back as L (or I;16 for 16-bit data); RGBA and LA keep their alpha untouched; palette
images come back as RGB (RGBA if the palette has transparency) and CMYK, YCbCr, LAB and HSV as
RGB, since PNG cannot store CMYK and re-quantising to a palette would blur the fill. Arrays may
be uint8 H x W, H x W x 3, H x W x 4 (RGBA) or uint16 H x W; the result has the same shape and
dtype.

Masks: white = hole by default (`mask_format="black-hole"` for the opposite), any mode or array
(bool, uint8 0-255, uint16, float 0-1), thresholded at 50%. `mask_format="alpha"` reads the hole
from transparency instead (transparent = hole, as image-editing APIs and painting tools mark
it): an RGBA or LA image, or an H x W x 4 uint8 array. A mask with transparent pixels but no
hole in its colours is refused with a message naming `alpha`, rather than returning the photo
unchanged.

Compositing: `blend="poisson"` (the default) blends the fill into the known pixels in the
gradient domain (`inpaint.api.blending`), so a fill whose colour is off by a shift leaves no seam;
`blend="paste"` copies it in as it is. Known pixels are kept bit-exact either way.
"""
from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from inpaint.api import methods
from inpaint.api.blending import (BLEND_MODES, BlendRegions, blend_regions, composite,
                                   regions_to_blend)
from inpaint.device import get_device
from inpaint.data.images import to_rgb
from inpaint.api.methods import InpaintFn
from inpaint.api.upsampling import (DEFAULT_UPSAMPLER, UPSAMPLERS, low_pass, needs_low_pass,
                                    upsample_regions)

if TYPE_CHECKING:
    import torch

ImageLike = Image.Image | np.ndarray
MASK_FORMATS = ("white-hole", "black-hole", "alpha")
KEPT_MODES = {"RGB", "RGBA", "L", "LA", "I;16"}


class InputError(ValueError):
    """An image or mask cannot be used; `which` says which of the two ('image' or 'mask')."""

    def __init__(self, which: str, message: str):
        super().__init__(message)
        self.which = which


class InpaintWarning(UserWarning):
    """The input was usable but surprising: non-binary, empty or all-hole mask."""


@dataclass
class _Layers:
    """An image split into what the model sees and what the output is built from."""
    model_rgb: np.ndarray        # H x W x 3 uint8: the model's input
    colour: np.ndarray           # H x W x C (C = 3 or 1), uint8 or uint16: kept pixels
    alpha: np.ndarray | None     # H x W uint8, re-attached untouched

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as PIL counts."""
        return self.colour.shape[1], self.colour.shape[0]


def _normalise_mode(image: Image.Image) -> Image.Image:
    """The image in one of `KEPT_MODES`, converting only modes we cannot return as they are."""
    if image.mode in ("P", "PA"):
        return image.convert("RGBA" if image.has_transparency_data else "RGB")
    if image.mode in ("1", "F"):  # bilevel and float grey come back as 8-bit grey
        return to_rgb(image).convert("L")
    if image.mode.startswith("I;16"):
        return Image.fromarray(np.asarray(image).astype(np.uint16))  # native byte order
    if image.mode == "I":  # 32-bit grey: 8- or 16-bit data in practice, read as images.to_rgb does
        values = np.asarray(image)
        if values.min(initial=0) < 0 or values.max(initial=0) > 65535:
            raise InputError("image", "32-bit integer image with values outside 0-65535 "
                                      "is not supported")
        return Image.fromarray(values.astype(np.uint8 if values.max(initial=0) <= 255
                                             else np.uint16))
    if image.mode not in KEPT_MODES:
        return to_rgb(image)
    return image


def _split(image: Image.Image) -> _Layers:
    image = _normalise_mode(image)
    alpha = np.asarray(image.getchannel("A")) if image.mode in ("RGBA", "LA") else None
    if image.mode in ("RGB", "RGBA"):  # an RGB image is read as it is, not copied first
        colour = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    else:  # L, LA, I;16
        colour = np.asarray(image.getchannel(0) if image.mode == "LA" else image)[..., None]
    # an RGB photo's colour is what the model sees: one array, not two of the photo's size
    model_rgb = colour if image.mode in ("RGB", "RGBA") else np.asarray(to_rgb(image))
    return _Layers(model_rgb, colour, alpha)


def _join(layers: _Layers, colour: np.ndarray) -> Image.Image:
    """Rebuild the PIL image from new colour values and the untouched alpha."""
    channels = colour if layers.alpha is None else np.dstack([colour, layers.alpha])
    return Image.fromarray(channels[..., 0] if channels.shape[-1] == 1 else channels)


def _image_from_array(array: np.ndarray) -> Image.Image:
    shape_ok = (array.ndim == 2 and array.dtype in (np.uint8, np.uint16)) or (
        array.ndim == 3 and array.shape[-1] in (3, 4) and array.dtype == np.uint8)
    if not shape_ok or 0 in array.shape:
        raise InputError("image", f"array of shape {array.shape} and dtype {array.dtype}: "
                                  "expected uint8 H x W, H x W x 3 or H x W x 4, or uint16 H x W")
    return Image.fromarray(np.ascontiguousarray(array))


def _mask_levels(mask: ImageLike) -> tuple[np.ndarray, float]:
    """The mask's grey levels at its own size and the level of white: uint8 and 255 for an
    image, the array and its dtype's top for an array (1 for bool and float in [0, 1]). Kept
    in their own type: a float copy of a 24 MP mask is 96 MB and a third of a second."""
    if isinstance(mask, Image.Image):  # grey is read as it is (L -> RGB -> L is the identity)
        return np.asarray(mask if mask.mode == "L" else to_rgb(mask).convert("L")), 255
    mask = np.asarray(mask)
    if mask.ndim != 2 or 0 in mask.shape:
        raise InputError("mask", f"mask array of shape {mask.shape}: expected H x W (an H x W x 4 "
                                 "RGBA array with mask_format='alpha')")
    if mask.dtype == bool:
        return mask, 1
    if mask.dtype in (np.uint8, np.uint16):
        return mask, np.iinfo(mask.dtype).max
    if np.issubdtype(mask.dtype, np.floating) and mask.min() >= 0.0 and mask.max() <= 1.0:
        return mask, 1
    raise InputError("mask", f"mask array of dtype {mask.dtype}: expected bool, uint8, uint16 "
                             "or float in [0, 1]")


def _alpha(mask: ImageLike) -> np.ndarray | None:
    """The mask's opacity in [0, 1] (0 = transparent), or None when it has no alpha channel."""
    if isinstance(mask, Image.Image):
        if mask.mode in ("P", "PA") and mask.has_transparency_data:
            mask = mask.convert("RGBA")
        if mask.mode not in ("RGBA", "LA", "PA", "RGBa", "La"):
            return None
        return np.asarray(mask.getchannel("A"), dtype=np.float32) / 255.0
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[-1] == 4 and mask.dtype == np.uint8 and 0 not in mask.shape:
        return mask[..., 3].astype(np.float32) / 255.0
    return None


def _levels(mask: ImageLike, mask_format: str) -> tuple[np.ndarray, float, bool]:
    """The mask's levels for `mask_format` (grey, or opacity for 'alpha'), the level of full
    white or opacity, and whether the hole is where they are high (at least half of that)
    rather than low."""
    if mask_format not in MASK_FORMATS:
        raise ValueError(f"mask_format={mask_format!r}: expected one of {MASK_FORMATS}")
    alpha = _alpha(mask)
    if mask_format == "alpha":
        if alpha is None:
            what = f"mode {mask.mode}" if isinstance(mask, Image.Image) else (
                f"array of shape {np.shape(mask)}")
            raise InputError("mask", f"mask has no transparency ({what}): the alpha format reads "
                                     "the hole from an RGBA or LA mask (H x W x 4 uint8 array)")
        return alpha, 1, False
    (levels, top), hole_is_white = _mask_levels(mask), mask_format == "white-hole"
    if (alpha is not None and not ((levels >= top / 2) == hole_is_white).any()
            and (alpha < 0.5).any()):
        raise InputError("mask", f"mask has no hole in its colours ({mask_format}) but "
                                 f"{(alpha < 0.5).mean():.1%} of it is transparent; if "
                                 "transparent marks the hole, use mask_format='alpha' (CLI: "
                                 "--mask-format alpha)")
    return levels, top, hole_is_white


def _hole(mask: ImageLike, size: tuple[int, int], mask_format: str, resize_mask: bool,
          label: str) -> np.ndarray:
    """A boolean H x W hole map (True = to fill) for an image of `size` (width, height)."""
    levels, top, hole_is_white = _levels(mask, mask_format)
    grey = (levels > 0) & (levels < top)
    if grey.any():
        warnings.warn(f"{label}mask is not binary ({grey.mean():.1%} of its pixels are grey); "
                      "thresholded at 50%", InpaintWarning, stacklevel=4)
    if (levels.shape[1], levels.shape[0]) != size:
        if not resize_mask:
            raise InputError("mask", f"mask is {levels.shape[1]}x{levels.shape[0]} but the "
                                     f"image is {size[0]}x{size[1]} (width x height); allow "
                                     "resizing with resize_mask=True (CLI: --resize-mask)")
        # resized as grey levels, then thresholded, so thin strokes keep their area
        levels = np.asarray(Image.fromarray(levels.astype(np.float32) / np.float32(top))
                            .resize(size, Image.Resampling.BILINEAR))
        top = 1
    white = levels >= top / 2
    return white if hole_is_white else ~white


def _warn_extremes(hole: np.ndarray, mask: ImageLike, label: str) -> None:
    if not hole.any():
        hint = (" (a 0/1 uint8 array reads as all black: pass a bool array or 0/255)"
                if isinstance(mask, np.ndarray) and mask.dtype == np.uint8 and mask.max() == 1
                else "")
        warnings.warn(f"{label}mask has no hole pixels; the image is returned unchanged{hint}",
                      InpaintWarning, stacklevel=4)
    elif hole.all():
        warnings.warn(f"{label}mask is all hole: the result is the model's sample, with "
                      "nothing of the image kept", InpaintWarning, stacklevel=4)


@dataclass
class _SquareGeometry:
    """Where an H x W image sits in its reflect-padded square of side `side`."""
    height: int
    width: int

    @property
    def side(self) -> int:
        return max(self.height, self.width)

    @property
    def pads(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """Centred padding, so the content sits mid-frame as in the training crops."""
        dh, dw = self.side - self.height, self.side - self.width
        return (dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2)

    def to_square(self, array: np.ndarray) -> np.ndarray:
        pads = self.pads + ((0, 0),) * (array.ndim - 2)
        return np.pad(array, pads, mode="reflect")

    def from_square(self, array: np.ndarray) -> np.ndarray:
        (top, _), (left, _) = self.pads
        return array[top:top + self.height, left:left + self.width]


def _downscale(rgb: np.ndarray, known: np.ndarray, geometry: _SquareGeometry,
               resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Model-resolution image (Lanczos, as in training) and known-mask.

    A low-resolution pixel counts as known only if its whole footprint is known, so the model
    never takes hole content for context.
    """
    size = (resolution, resolution)
    image = Image.fromarray(geometry.to_square(rgb)).resize(size, Image.Resampling.LANCZOS)
    return np.asarray(image), (_box_cover(geometry.to_square(known), resolution) > 0.999
                               ).astype(np.float32)


def _box_cover(known: np.ndarray, resolution: int) -> np.ndarray:
    """The share of known pixels in each low-resolution pixel's footprint: Pillow's BOX resize
    of the square boolean `known` to `resolution`, which averages the pixels whose centres fall
    in the footprint, counted in integers instead of resizing a float copy (four bytes a
    pixel: 144 MB for a 24 MP photo's square). A photo smaller than `resolution` is resized
    by Pillow, whose footprints are then at least a pixel wide."""
    if known.shape[0] < resolution:
        return np.asarray(Image.fromarray(known.astype(np.float32))
                          .resize((resolution, resolution), Image.Resampling.BOX))
    starts, stops = _box_footprints(known.shape[0], resolution)
    rows = np.stack([known[start:stop].sum(0, dtype=np.int32)
                     for start, stop in zip(starts, stops)])
    counts = np.stack([rows[:, start:stop].sum(1) for start, stop in zip(starts, stops)], 1)
    sizes = stops - starts
    return counts / (sizes[:, None] * sizes[None])


def _box_footprints(side: int, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """First and past-the-end input pixel of each output pixel of Pillow's BOX filter
    (`precompute_coeffs` in its Resample.c: support of half a scale around the centre)."""
    scale = side / resolution
    centres = (np.arange(resolution) + 0.5) * scale
    starts = np.maximum((centres - scale / 2 + 0.5).astype(np.int64), 0)
    stops = np.minimum((centres + scale / 2 + 0.5).astype(np.int64), side)
    return starts, stops


@dataclass
class _Context:
    """What upsampling reads from the photo, made from the photo alone: its reflect-padded
    square and known-mask, and CRA's `low_pass` of the square (None when not needed)."""
    square: np.ndarray
    known: np.ndarray
    blurred: np.ndarray | None


def _context(rgb: np.ndarray, known: np.ndarray, geometry: _SquareGeometry, mode: str,
             resolution: int) -> _Context:
    square, known = geometry.to_square(rgb), geometry.to_square(known)
    blurred = (low_pass(square, resolution) if needs_low_pass(mode, geometry.side, resolution,
                                                              known) else None)
    return _Context(square, known, blurred)


def _upscale(composite: np.ndarray, context: _Context, geometry: _SquareGeometry, mode: str,
             regions: BlendRegions) -> list[np.ndarray]:
    """The model-resolution composite at the image's own size (h x w x 3 uint8) in each
    rectangle of `regions`, by upsampler `mode` (`inpaint.api.upsampling`), which may take
    detail from the known pixels of the photo's `context`."""
    (top, _), (left, _) = geometry.pads
    in_square = [(slice(rows.start + top, rows.stop + top),
                  slice(cols.start + left, cols.stop + left)) for rows, cols in regions.rects]
    return upsample_regions(composite, context.square, context.known, in_square, mode,
                            blurred=context.blurred)


def _stated_resolution(folder: Path) -> int | None:
    """The resolution in an exported model folder's config.json, read without torch; None
    for anything else (a stage file, or a folder the load will report on)."""
    try:
        return int(json.loads((folder / "config.json").read_text())["resolution"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _fill_values(fill_rgb: np.ndarray, layers: _Layers) -> np.ndarray:
    """The RGB fill in the output's own channels and numeric range."""
    if layers.colour.shape[-1] == 3:
        return fill_rgb
    grey = np.asarray(Image.fromarray(fill_rgb).convert("L"))[..., None]
    if layers.colour.dtype == np.uint16:
        return grey.astype(np.uint16) * 257  # 255 -> 65535, the inverse of images._to_8bit
    return grey


class Inpainter:
    """An inpainting method of the registry (`inpaint.api.methods`) ready to fill holes in images of
    any size, e.g. `Inpainter.from_pretrained("models/inpainter").inpaint(Image.open(p),
    Image.open(m))` or `Inpainter.from_pretrained(method="telea")`.

    `fill` is a registry method's InpaintFn: uint8 N x R x R x 3 images and N x R x R known-masks
    (1 = known) to its raw uint8 output. With a `resolution` R the image is reflect-padded to a
    square and resized to R for it; with None (methods without a model) it runs on the image
    at its own size, one image at a time. Either way only the hole takes the method's output,
    composited with `blend` ('poisson' or 'paste', see the module docstring).
    """

    def __init__(self, fill: InpaintFn, resolution: int | None, method: str = "custom",
                 blend: str = "poisson", upsample: str = DEFAULT_UPSAMPLER):
        if resolution is not None and resolution < 1:
            raise ValueError(f"resolution={resolution}: must be positive or None")
        if blend not in BLEND_MODES:
            raise ValueError(f"blend={blend!r}: expected one of {', '.join(BLEND_MODES)}")
        if upsample not in UPSAMPLERS:
            raise ValueError(f"upsample={upsample!r}: expected one of {', '.join(UPSAMPLERS)}")
        self._model: tuple[InpaintFn, int | None] | Future = (fill, resolution)
        self._stated_resolution: int | None = None  # a loading model folder's config.json's
        self.method, self.blend, self.upsample = method, blend, upsample

    @property
    def fill(self) -> InpaintFn:
        return self._loaded()[0]

    @property
    def resolution(self) -> int | None:
        """The model's resolution; while a model folder loads, the one its config states, so
        that photos are resized for it before it is ready (`_loaded` checks the two agree)."""
        if isinstance(self._model, Future) and self._stated_resolution is not None:
            return self._stated_resolution
        return self._loaded()[1]

    def _loaded(self) -> tuple[InpaintFn, int | None]:
        """The method and its resolution, waiting for a background load (raising its error)."""
        if isinstance(self._model, Future):
            fill, resolution = self._model.result()
            if self._stated_resolution not in (None, resolution):
                from inpaint.pretrained import ModelFormatError  # loaded with the model
                raise ModelFormatError(f"the model's config.json states resolution "
                                       f"{self._stated_resolution} but it loads at {resolution}")
            self._model = fill, resolution
        return self._model

    @classmethod
    def from_pretrained(cls, folder: str | Path | None = None,
                        device: str | torch.device | None = None, refine_steps: int = 0,
                        method: str = "ours", blend: str = "poisson",
                        upsample: str = DEFAULT_UPSAMPLER, seed: int = 0,
                        background: bool = False) -> Inpainter:
        """Method `method` of the benchmark's registry, with its model loaded.

        `folder` is what the method loads: the exported model folder (weights.pt + config.json)
        for 'ours' and 'optim' (default models/inpainter) and 'ours_extended' (default
        models/inpainter_extended), the stage file for a
        retrained baseline ('pconv', 'gatedconv', 'comodgan', 'hifill', 'lama'; default
        models/<method>.pt); classical methods ('telea', 'ns',
        'biharmonic') load nothing. `refine_steps` > 0 ('ours' only) refines each learned code
        by that many gradient steps against the known pixels (hybrid inversion, the benchmark's
        'ours_hybrid'): slower, and closer to the context. `blend`: how the fill meets the
        known pixels ('poisson' or 'paste'). `upsample`: how a fill made at the model's
        resolution reaches a larger photo ('cra' or 'bicubic', `inpaint.api.upsampling`).
        `seed`: the random draw of a stochastic method (comodgan's z, optim's start).
        `background`: return at once and load the model (importing torch: about 2 s on a CPU)
        in a second thread while the caller reads and prepares its photos, as the `inpaint`
        command does; an error in loading it is then raised by the first `inpaint`.
        """
        if refine_steps < 0:
            raise ValueError(f"refine_steps={refine_steps}: must be 0 or more")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed={seed!r}: must be an integer, 0 or more")
        if method not in cli_methods():
            variant = " (a benchmark scoring variant)" if method in methods.METHODS else ""
            raise ValueError(f"unknown method {method!r}{variant}; methods: "
                             f"{', '.join(cli_methods())}")
        spec = methods.get_method(method)
        if refine_steps and spec.refined_by is None:
            raise ValueError(f"refine_steps={refine_steps}: {refiners_phrase()}")
        if spec.model is None and folder is not None:
            raise ValueError(f"method {method!r} uses no model, but one was given: {folder}")
        path = Path(folder) if folder is not None else methods.default_model_path(method)

        def load() -> tuple[InpaintFn, int | None]:
            if spec.model is None:
                torch_device = "cpu"  # and torch stays unloaded for a classical method
            else:
                import torch  # here: importing this module (`inpaint` does) stays quick
                torch_device = torch.device(device) if device is not None else get_device()
            settings = methods.MethodSettings(model=path, device=torch_device,
                                              refine_steps=refine_steps, seed=int(seed))
            try:  # refined: the variant the benchmark scores ('ours_hybrid')
                built = methods.build_method(spec.refined_by if refine_steps else method,
                                             settings)
            except (KeyError, RuntimeError) as err:  # weights that do not fit their config
                from inpaint.pretrained import ModelFormatError  # here: it loads torch
                stored = "config.json" if path.is_dir() else "their stored config"
                raise ModelFormatError(f"{path}: weights do not match {stored} ({err})"
                                       ) from None
            return built.fill, built.resolution

        if not background:
            return cls(*load(), method, blend, upsample)
        inpainter = cls(None, None, method, blend, upsample)
        inpainter._stated_resolution = _stated_resolution(path) if spec.model else None
        loader = ThreadPoolExecutor(1)
        inpainter._model = loader.submit(load)
        loader.shutdown(wait=False)  # its thread ends with the load
        return inpainter

    def inpaint(self, image: ImageLike, mask: ImageLike, mask_format: str = "white-hole",
                resize_mask: bool = False) -> ImageLike:
        """Fill the hole of `image` marked by `mask`; returns the same kind as `image`."""
        return self.inpaint_batch([image], [mask], mask_format, resize_mask)[0]

    def inpaint_batch(self, images: Sequence[ImageLike], masks: Sequence[ImageLike],
                      mask_format: str = "white-hole", resize_mask: bool = False,
                      batch_size: int = 32) -> list[ImageLike]:
        """`inpaint` for many (image, mask) pairs of any sizes, run through the model in batches."""
        if len(images) != len(masks):
            raise ValueError(f"{len(images)} images but {len(masks)} masks")
        jobs = []
        for i, (image, mask) in enumerate(zip(images, masks)):
            label = f"image {i}: " if len(images) > 1 else ""
            pil = _image_from_array(image) if isinstance(image, np.ndarray) else image
            layers = _split(pil)
            hole = _hole(mask, layers.size, mask_format, resize_mask, label)
            _warn_extremes(hole, mask, label)
            jobs.append((layers, hole))
        todo = [i for i, (_, hole) in enumerate(jobs) if hole.any()]
        fills: dict[int, list[np.ndarray]] = {}
        regions: dict[int, BlendRegions] = {}
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            chunk_fills, chunk_regions = self._fill([jobs[i] for i in chunk])
            fills.update(zip(chunk, chunk_fills))
            regions.update(zip(chunk, chunk_regions))
        results = []
        for i, (layers, hole) in enumerate(jobs):
            colour = layers.colour
            if i in fills:
                colour = blend_regions(colour, hole, [_fill_values(f, layers) for f in fills[i]],
                                       regions[i], self.blend)
            result = _join(layers, colour)
            results.append(np.array(result) if isinstance(images[i], np.ndarray) else result)
        return results

    def _fill(self, jobs: list[tuple[_Layers, np.ndarray]]
              ) -> tuple[list[list[np.ndarray]], list[BlendRegions]]:
        """The method's fill of each image, composited with `self.blend`, as h x w x 3 uint8 at
        the image's own size in each rectangle of the image's regions to blend
        (`regions_to_blend`, returned too: the rest of the image is not built, only its holes
        and their context change).

        The raw output is composited by `blending.composite` at the resolution the method ran
        at, exactly as the benchmark scores `<method>+<blend>`: so at the model's resolution
        this is the benchmark's output, pixel for pixel, and on a larger photo the Poisson
        correction of the fill's colour (which needs the raw fill against the known pixels)
        is upscaled with it. `inpaint_batch` then blends the result into the full-resolution
        known pixels once more, which only takes up the upscaling residual at the seam.
        """
        if self.resolution is None:  # no model: the method works at the image's own size
            fills, regions = [], [regions_to_blend(hole, self.blend) for _, hole in jobs]
            for (layers, hole), where in zip(jobs, regions):
                image, known = layers.model_rgb[None], (~hole)[None].astype(np.uint8)
                fill = composite(image, known, self.fill(image, known), self.blend)[0]
                fills.append([fill[rect] for rect in where.rects])
            return fills, regions
        geometries = [_SquareGeometry(*hole.shape) for _, hole in jobs]

        def context(i: int) -> _Context:
            return _context(jobs[i][0].model_rgb, ~jobs[i][1], geometries[i], self.upsample,
                            self.resolution)

        # A second thread makes what upsampling reads from each photo (the padded square and
        # CRA's low-pass: a second of a 24 MP photo) while this one finds the regions and runs
        # the model, one photo ahead, so that at most two photos' contexts are held at once.
        with ThreadPoolExecutor(1) as pool:
            ahead = pool.submit(context, 0)
            regions = [regions_to_blend(hole, self.blend) for _, hole in jobs]
            small = [_downscale(layers.model_rgb, ~hole, geometry, self.resolution)
                     for (layers, hole), geometry in zip(jobs, geometries)]
            images = np.stack([rgb for rgb, _ in small])
            known = np.stack([k for _, k in small]).astype(np.uint8)
            composites = composite(images, known, self.fill(images, known), self.blend)
            fills = []
            for i, (fill, geometry, where) in enumerate(zip(composites, geometries, regions)):
                ready = ahead.result()
                if i + 1 < len(jobs):
                    ahead = pool.submit(context, i + 1)
                fills.append(_upscale(fill, ready, geometry, self.upsample, where))
                del ready
            return fills, regions


def cli_methods() -> list[str]:
    """The registry's methods a user can run (the benchmark's scoring variants left out)."""
    return [name for name, method in methods.METHODS.items() if method.cli]


def refiners_phrase() -> str:
    """Which methods take refine steps, for error messages: "only method 'ours' refines its
    code"."""
    names = [name for name in cli_methods() if methods.METHODS[name].refined_by]
    return (f"only method '{names[0]}' refines its code" if len(names) == 1 else
            f"only methods {', '.join(repr(n) for n in names)} refine their code")
