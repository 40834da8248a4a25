"""Loading the retrained baselines, PConv (Liu et al. 2018), Gated Conv (Yu et al. 2019),
CoModGAN (Zhao et al. 2021), HiFill (Yi et al. 2020) and LaMa (Suvorov et al. 2022):
`load_baseline` turns a trained model file into a function (image, known) -> output for the
benchmark and the CLI. Their training recipes are in `inpaint.training.trainers`.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from inpaint.baselines.comodgan import latent
from inpaint.pretrained import load_networks

# method -> the inpainting network's name in its model file (see `pretrained.NETWORKS`)
BASELINES = {"pconv": "pconv_unet", "gatedconv": "gated_generator",
             "comodgan": "comodgan_generator", "hifill": "hifill_generator",
             "lama": "lama_generator"}
STOCHASTIC = {"comodgan"}  # take a random latent code: one fixed `seed` per call

Inpaint = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def load_baseline(name: str, path: str | Path, device: torch.device | str = "cpu",
                  seed: int = 0) -> Inpaint:
    """A trained baseline as `inpaint(image, known) -> output`: NCHW in [-1, 1], known N1HW
    with 1 = known; the raw network output (clamped), to be pasted into the holes by the
    caller. `name` is one of BASELINES, `path` its model file (models/<name>.pt). A
    stochastic one draws its latent code from `seed`, the same code for every image, so that
    an image's output depends neither on its batch nor on its place in it."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
    net = load_networks(path, [BASELINES[name]], device)[BASELINES[name]]
    net.requires_grad_(False)

    @torch.no_grad()
    def inpaint(image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        if name in STOCHASTIC:
            z = latent(len(image), seed, net.cfg.z_dim, image.device)
            return net.inpaint(image, known, z).clamp(-1, 1)
        return net.inpaint(image, known).clamp(-1, 1)

    return inpaint
