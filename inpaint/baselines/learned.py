"""Loading a retrained baseline (PConv, Gated Conv, CoModGAN, HiFill, LaMa, or any model of
`inpaint.registry` with an `inpainter` network): `Baseline` turns its trained model file into
a function (image, known) -> output for the benchmark and the CLI. The network module the
record names supplies the classes (its `NETWORKS` table); its training recipe is in
`inpaint.training.trainers`.
"""
from __future__ import annotations

import importlib
from pathlib import Path

import torch

from inpaint.pretrained import load_networks
from inpaint.registry import METHODS, MODELS

class Baseline:
    """A trained baseline as `baseline(image, known) -> output`: NCHW in [-1, 1], known N1HW
    with 1 = known; the raw network output (clamped), to be pasted into the holes by the
    caller. A seeded one draws its latent code from `seed` with its network module's
    `latent(n, seed, z_dim, device)`, the same code for every image, so that an image's output
    depends neither on its batch nor on its place in it. `name` is a model of
    `inpaint.registry.MODELS` with an `inpainter`, `path` its file (models/<name>.pt)."""

    def __init__(self, name: str, path: str | Path, device: torch.device | str = "cpu",
                 seed: int = 0):
        model = MODELS.get(name)
        if model is None or model.inpainter is None:
            known = [m for m, record in MODELS.items() if record.inpainter is not None]
            raise ValueError(f"unknown baseline {name!r}; known: {', '.join(known)}")
        networks = importlib.import_module(model.networks)
        self.net = load_networks(path, networks.NETWORKS, [model.inpainter],
                                 device)[model.inpainter].requires_grad_(False)
        self.resolution: int = self.net.cfg.resolution
        self.latent = networks.latent if METHODS[name].seeded else None
        self.seed = seed

    @torch.no_grad()
    def __call__(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        if self.latent is not None:
            z = self.latent(len(image), self.seed, self.net.cfg.z_dim, image.device)
            return self.net.inpaint(image, known, z).clamp(-1, 1)
        return self.net.inpaint(image, known).clamp(-1, 1)

