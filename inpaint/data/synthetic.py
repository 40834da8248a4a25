"""The embedded default dataset: deterministic, parametric face-like images.

Not real faces: each image is drawn from about thirty random parameters (head shape, skin tone,
hair style and colour, eyes, brows, nose, mouth, pose, scale, lighting, background), so that
inpainting has real structure to recover (left-right symmetry, parts in fixed relations) and
`dvc repro` runs offline in minutes. Image `i` of seed `s` is the same on every machine.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SUPERSAMPLE = 4  # draw larger, then downsample with Lanczos: smooth anti-aliased edges
SKIN_TONES = np.array([[255, 224, 196], [241, 194, 158], [224, 172, 130], [198, 134, 90],
                       [161, 102, 66], [115, 72, 45], [86, 54, 36]], dtype=float)
HAIR_COLOURS = np.array([[20, 16, 14], [60, 40, 25], [110, 70, 40], [180, 140, 80],
                         [220, 200, 150], [140, 50, 30], [150, 150, 150]], dtype=float)
IRIS_COLOURS = np.array([[60, 40, 20], [90, 60, 30], [60, 100, 140], [70, 120, 80],
                         [40, 40, 40]], dtype=float)


def _jitter(rng: np.random.Generator, colour: np.ndarray, amount: float) -> tuple:
    return tuple(int(c) for c in np.clip(colour + rng.normal(0, amount, 3), 0, 255))


def _ellipse(draw: ImageDraw.ImageDraw, cx: float, cy: float, rx: float, ry: float,
             fill, outline=None, width: int = 0) -> None:
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=fill, outline=outline, width=width)


def _background(rng: np.random.Generator, size: int) -> Image.Image:
    """A two-colour linear gradient in a random direction."""
    top, bottom = rng.uniform(30, 230, 3), rng.uniform(30, 230, 3)
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:size, 0:size] / size - 0.5
    t = np.clip(0.5 + xs * np.cos(angle) + ys * np.sin(angle), 0, 1)[..., None]
    return Image.fromarray((top * (1 - t) + bottom * t).astype(np.uint8), mode="RGB")


def _draw_face(rng: np.random.Generator, size: int) -> Image.Image:
    """The head, hair and features on a transparent layer, upright and centred."""
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    s = size / 100.0  # drawing units: a 100 x 100 canvas
    skin = _jitter(rng, SKIN_TONES[rng.integers(len(SKIN_TONES))], 8)
    hair = _jitter(rng, HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))], 10)
    cx, cy = 50 * s, 52 * s
    head_rx, head_ry = rng.uniform(22, 28) * s, rng.uniform(28, 34) * s

    hair_style = rng.integers(3)  # 0 short, 1 long, 2 bald-ish
    if hair_style == 1:
        draw.rounded_rectangle((cx - head_rx * 1.25, cy - head_ry * 1.1, cx + head_rx * 1.25,
                                cy + head_ry * rng.uniform(0.8, 1.3)), radius=int(20 * s),
                               fill=hair)
    if hair_style != 2:
        _ellipse(draw, cx, cy - head_ry * 0.25, head_rx * 1.12, head_ry * 0.95, hair)
    ear_ry = rng.uniform(5, 7) * s
    for side in (-1, 1):
        _ellipse(draw, cx + side * head_rx * 0.98, cy + 2 * s, 3.5 * s, ear_ry, skin)
    neck_w = head_rx * 0.45
    draw.rectangle((cx - neck_w, cy + head_ry * 0.6, cx + neck_w, size), fill=skin)
    shirt = _jitter(rng, rng.uniform(20, 235, 3), 0)
    _ellipse(draw, cx, size + 8 * s, head_rx * 2.0, 22 * s, shirt)
    _ellipse(draw, cx, cy, head_rx, head_ry, skin)
    if hair_style == 0:  # a fringe over the forehead
        draw.chord((cx - head_rx * 1.02, cy - head_ry * 1.05, cx + head_rx * 1.02,
                    cy - head_ry * rng.uniform(0.1, 0.4)), 180, 360, fill=hair)

    eye_y = cy - rng.uniform(0, 5) * s
    eye_dx = rng.uniform(9, 12) * s
    eye_rx, eye_ry = rng.uniform(4, 5.5) * s, rng.uniform(2, 3.2) * s
    iris = _jitter(rng, IRIS_COLOURS[rng.integers(len(IRIS_COLOURS))], 10)
    gaze = rng.uniform(-1.2, 1.2) * s
    brow_y = eye_y - rng.uniform(5, 8) * s
    brow_tilt = rng.uniform(-2, 2) * s
    brow_w = max(1, int(rng.uniform(1.2, 2.5) * s))
    for side in (-1, 1):
        ex = cx + side * eye_dx
        _ellipse(draw, ex, eye_y, eye_rx, eye_ry, (245, 245, 240))
        _ellipse(draw, ex + gaze, eye_y, eye_ry * 0.95, eye_ry * 0.95, iris)
        _ellipse(draw, ex + gaze, eye_y, eye_ry * 0.45, eye_ry * 0.45, (10, 10, 10))
        draw.line((ex - side * eye_rx * 1.1, brow_y + brow_tilt, ex + side * eye_rx * 1.1,
                   brow_y - brow_tilt), fill=hair, width=brow_w)

    shade = tuple(int(c * 0.78) for c in skin)
    nose_len, nose_w = rng.uniform(8, 13) * s, rng.uniform(3, 5) * s
    nose_top = eye_y + 2 * s
    draw.polygon([(cx, nose_top), (cx - nose_w, nose_top + nose_len),
                  (cx + nose_w, nose_top + nose_len)], fill=shade)
    mouth_y = nose_top + nose_len + rng.uniform(5, 8) * s
    mouth_w, smile = rng.uniform(6, 10) * s, rng.uniform(-2, 5) * s
    lips = _jitter(rng, np.array([170, 70, 70]), 20)
    draw.chord((cx - mouth_w, mouth_y - 2 * s - max(smile, 0), cx + mouth_w,
                mouth_y + 2 * s + max(smile, 0)), 0, 180, fill=lips)
    draw.line((cx - mouth_w, mouth_y, cx + mouth_w, mouth_y),
              fill=tuple(int(c * 0.5) for c in lips),
              width=max(1, int(0.8 * s)))
    return layer


def _lighting(rng: np.random.Generator, image: Image.Image) -> Image.Image:
    """Directional light: brightness varies linearly across the image by up to +-25%."""
    size = image.size[0]
    angle, strength = rng.uniform(0, 2 * np.pi), rng.uniform(0.0, 0.25)
    ys, xs = np.mgrid[0:size, 0:size] / size - 0.5
    gain = 1 + strength * 2 * (xs * np.cos(angle) + ys * np.sin(angle))
    lit = np.asarray(image, dtype=float) * gain[..., None] * rng.uniform(0.85, 1.1)
    return Image.fromarray(np.clip(lit, 0, 255).astype(np.uint8), mode="RGB")


def synthetic_face(seed: int, index: int, resolution: int) -> np.ndarray:
    """Image `index` of the set made with `seed`: an HxWx3 uint8 array."""
    rng = np.random.default_rng([seed, index])
    size = resolution * SUPERSAMPLE
    face = _draw_face(rng, size)
    face = face.rotate(rng.uniform(-12, 12), resample=Image.Resampling.BICUBIC,
                       center=(size / 2, size * 0.55))
    scale = rng.uniform(0.85, 1.1)
    scaled = int(size * scale)
    face = face.resize((scaled, scaled), Image.Resampling.BICUBIC)
    offset = ((size - scaled) // 2 + int(rng.uniform(-0.06, 0.06) * size),
              (size - scaled) // 2 + int(rng.uniform(-0.04, 0.06) * size))
    canvas = _background(rng, size).convert("RGBA")
    canvas.alpha_composite(face, dest=(max(offset[0], 0), max(offset[1], 0)),
                           source=(max(-offset[0], 0), max(-offset[1], 0)))
    blur = ImageFilter.GaussianBlur(0.6 * SUPERSAMPLE / 4)
    image = _lighting(rng, canvas.convert("RGB")).filter(blur)
    return np.asarray(image.resize((resolution, resolution), Image.Resampling.LANCZOS))


def synthetic_faces(seed: int, count: int, resolution: int) -> np.ndarray:
    """`count` images as an NxHxWx3 uint8 array."""
    return np.stack([synthetic_face(seed, i, resolution) for i in range(count)])
