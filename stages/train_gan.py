"""Stages `train_gan` and `train_pixel_gan`: a DCGAN, in feature-map space or pixel space.

`--space feature` (the paper, stage 1b): E_R and Dec frozen; D tells E_R(I) from G(z).
`--space pixel` (the Figure 6 ablation): the same DCGAN recipe and budget on the images.
L_D = -log D(real) - log(1 - D(G(z))), L_G = -log D(G(z)), as logit-space BCE.
Per epoch: mean losses and a diversity ratio (mean pairwise L1 between 64 decoded samples over
the same for 64 real test images: near 1 is diverse, near 0 is mode collapse).
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from inpaint import distributed
from inpaint.config import GanParams, load_section
from inpaint.images import load_npy
from inpaint.models import Discriminator, GanConfig, Generator, describe
from inpaint.pretrained import load_networks, save_networks
from inpaint.training import (Checkpoint, Mean, batches, epoch_generator, fingerprint, fit,
                              gan_step, pairwise_l1, save_grid, set_threads, to_tensor,
                              to_uint8, write_json, write_tsv)

TRAIN, TEST, AUTOENCODER = "data/prepared/train.npy", "data/prepared/test.npy", "models/ae.pt"
NAMES = {"feature": "gan", "pixel": "pixel_gan"}
SAMPLES = 64


@torch.no_grad()
def real_inputs(space: str, images: np.ndarray, encoder, device) -> torch.Tensor:
    """What D sees as real: E_R's maps (computed once: E_R is frozen) or the images."""
    chunks = [to_tensor(images[i:i + 256], device) for i in range(0, len(images), 256)]
    return torch.cat([encoder(c) if space == "feature" else c for c in chunks])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", choices=sorted(NAMES), default="feature")
    space = parser.parse_args().space
    name = NAMES[space]
    params = load_section(GanParams, "gan")
    set_threads()
    device = distributed.local_device()
    train, test = load_npy(TRAIN), load_npy(TEST)
    inputs = [TRAIN]
    decoder = None
    if space == "feature":
        ae = load_networks(AUTOENCODER, device=device)
        encoder, decoder = ae["encoder"].requires_grad_(False), ae["decoder"].requires_grad_(False)
        inputs.append(AUTOENCODER)
    else:
        encoder = None
    reals = real_inputs(space, train, encoder, device)
    torch.manual_seed(params.seed)
    cfg = GanConfig(size=reals.shape[-1], channels=reals.shape[1], z_dim=params.z_dim,
                    width=params.width if space == "feature" else params.pixel_width)
    generator, discriminator = Generator(cfg).to(device), Discriminator(cfg).to(device)
    print(describe("G", generator, torch.zeros(1, cfg.z_dim, device=device)), "|",
          describe("D", discriminator, reals[:1]))
    g_view, d_view = distributed.wrap(generator, device), distributed.wrap(discriminator, device)
    betas = tuple(params.betas)
    opt_g = torch.optim.Adam(generator.parameters(), lr=params.lr, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=params.lr, betas=betas)
    checkpoint = Checkpoint(f"checkpoints/train_{name}.pt",
                            {"generator": generator, "discriminator": discriminator},
                            {"adam_g": opt_g, "adam_d": opt_d},
                            fingerprint({**vars(params), "space": space}, inputs))
    fixed_z = torch.randn(SAMPLES, cfg.z_dim, generator=torch.Generator().manual_seed(params.seed))
    real_spread = pairwise_l1(to_tensor(test[:SAMPLES], device))

    def decode(z: torch.Tensor) -> torch.Tensor:
        out = generator(z.to(device))
        return decoder(out) if decoder is not None else out

    def train_epoch(epoch: int, progress) -> dict:
        rng, mean = epoch_generator(params.seed, epoch), Mean()
        for index in batches(len(reals), params.batch_size, rng):
            real = reals[distributed.shard(index).to(device)]
            z = distributed.shard(torch.randn(len(index), cfg.z_dim, generator=rng)).to(device)
            step = gan_step(g_view, d_view, opt_g, opt_d, real, z)
            progress({k: step[k] for k in ("loss_d", "loss_g")})
            mean.add(step)
        return mean.result()

    @torch.no_grad()
    def evaluate(epoch: int) -> dict:
        generator.eval()
        spread = pairwise_l1(decode(fixed_z))
        generator.train()
        return {"diversity": spread / real_spread}

    history = fit(params.epochs, train_epoch, checkpoint,
                  lambda h: write_tsv(h, f"plots/{name}/losses.tsv"), evaluate)
    if not distributed.is_main():
        return  # rank 0 writes the outputs while the others wait in `distributed.launch`
    save_networks(f"models/{name}.pt", {"generator": (cfg, generator),
                                        "discriminator": (cfg, discriminator)})
    generator.eval()
    with torch.no_grad():
        save_grid(to_uint8(decode(fixed_z[:32])), 8, f"plots/{name}/samples.png")
    write_json({k: round(v, 5) if isinstance(v, float) else v for k, v in history[-1].items()},
               f"metrics/{name}.json")
    checkpoint.remove()


if __name__ == "__main__":
    with distributed.launch():
        main()
