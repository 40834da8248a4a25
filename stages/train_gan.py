"""Stages `train_gan` and `train_pixel_gan`: a DCGAN, in feature-map space or pixel space.

`--space feature` (the paper, stage 1b): E_R and Dec frozen; D tells E_R(I) from G(z).
`--space pixel` (the Figure 6 ablation): the same DCGAN recipe and budget on the images.
L_D = -log D(real) - log(1 - D(G(z))), L_G = -log D(G(z)), as logit-space BCE.

What D sees as real is computed once, before training (E_R is frozen): the maps E_R(I) of every
training image and, with `gan.flip`, of its mirror image too, one of the two drawn per image
and step, so an epoch costs only G and D.
Per epoch: mean losses and a diversity ratio (mean pairwise L1 between 64 decoded samples over
the same for 64 real validation images: near 1 is diverse, near 0 is mode collapse). Every
`gan.fid_every` epochs: FID of `gan.fid_samples` decoded samples (fixed codes) against as many
validation images, never the test images. Training stops when it has not improved for
`gan.patience` FIDs, and the networks of the best FID are exported.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from inpaint.training import distributed
from inpaint.config import GanParams, load_section
from inpaint.data.images import load_npy
from inpaint.evaluation.metrics import MetricContext, fid_from_features, inception_features
from inpaint.paper.networks import Discriminator, GanConfig, Generator, describe
from inpaint.pretrained import load_networks, save_networks
from inpaint.training.loop import (Checkpoint, EarlyStop, Mean, batches, epoch_generator,
                                   fingerprint, fit, gan_step, pairwise_l1, save_grid, set_threads,
                                   to_tensor, to_uint8, write_json, write_tsv)

TRAIN, VAL, AUTOENCODER = "data/prepared/train.npy", "data/prepared/val.npy", "models/ae.pt"
WEIGHTS = Path("models/metric_weights")
NAMES = {"feature": "gan", "pixel": "pixel_gan"}
SAMPLES = 64


@torch.no_grad()
def real_inputs(space: str, images: np.ndarray, encoder, device, flip: bool) -> torch.Tensor:
    """What D sees as real, 1 or 2 (with the mirror images) x N x C x H x W: E_R's maps
    (computed once: E_R is frozen) or the images."""
    chunks = [to_tensor(images[i:i + 256], device) for i in range(0, len(images), 256)]
    views = [chunks, [c.flip(-1) for c in chunks]] if flip else [chunks]
    return torch.stack([torch.cat([encoder(c) if space == "feature" else c for c in view])
                        for view in views])


def draw_reals(reals: torch.Tensor, index: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Rows `index` of the real inputs, each from a randomly drawn view (plain or mirrored)."""
    view = torch.randint(len(reals), (len(index),), generator=rng)
    return reals[view.to(reals.device), index.to(reals.device)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", choices=sorted(NAMES), default="feature")
    space = parser.parse_args().space
    name = NAMES[space]
    params = load_section(GanParams, "gan")
    set_threads()
    device = distributed.local_device()
    train, val = load_npy(TRAIN), load_npy(VAL)
    inputs = [TRAIN]
    decoder = None
    if space == "feature":
        ae = load_networks(AUTOENCODER, device=device)
        encoder, decoder = ae["encoder"].requires_grad_(False), ae["decoder"].requires_grad_(False)
        inputs.append(AUTOENCODER)
    else:
        encoder = None
    reals = real_inputs(space, train, encoder, device, params.flip)
    torch.manual_seed(params.seed)
    cfg = GanConfig(size=reals.shape[-1], channels=reals.shape[2], z_dim=params.z_dim,
                    width=params.width if space == "feature" else params.pixel_width)
    generator, discriminator = Generator(cfg).to(device), Discriminator(cfg).to(device)
    print(describe("G", generator, torch.zeros(1, cfg.z_dim, device=device)), "|",
          describe("D", discriminator, reals[0, :1]))
    g_view, d_view = distributed.wrap(generator, device), distributed.wrap(discriminator, device)
    betas = tuple(params.betas)
    opt_g = torch.optim.Adam(generator.parameters(), lr=params.lr, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=params.lr, betas=betas)
    checkpoint = Checkpoint(f"checkpoints/train_{name}.pt",
                            {"generator": generator, "discriminator": discriminator},
                            {"adam_g": opt_g, "adam_d": opt_d},
                            fingerprint({**vars(params), "space": space}, inputs))
    early_stop = EarlyStop("fid", params.patience, Path(f"checkpoints/train_{name}.best.pt"),
                           {"generator": generator, "discriminator": discriminator})
    fid_count = min(params.fid_samples, len(val))
    codes = torch.randn(max(SAMPLES, fid_count), cfg.z_dim,
                        generator=torch.Generator().manual_seed(params.seed))
    fixed_z = codes[:SAMPLES]
    real_spread = pairwise_l1(to_tensor(val[:SAMPLES], device))
    metrics = MetricContext(weights_dir=WEIGHTS, device=device) if distributed.is_main() else None
    val_features = (inception_features(np.asarray(val[:fid_count]), metrics)
                    if metrics is not None else None)

    def decode(z: torch.Tensor) -> torch.Tensor:
        out = generator(z.to(device))
        return decoder(out) if decoder is not None else out

    def train_epoch(epoch: int, progress) -> dict:
        rng, mean = epoch_generator(params.seed, epoch), Mean()
        for index in batches(reals.shape[1], params.batch_size, rng):
            real = draw_reals(reals, index, rng)[distributed.shard(torch.arange(len(index)))]
            z = distributed.shard(torch.randn(len(index), cfg.z_dim, generator=rng)).to(device)
            step = gan_step(g_view, d_view, opt_g, opt_d, real, z)
            progress({k: step[k] for k in ("loss_d", "loss_g")})
            mean.add(step)
        return mean.result()

    @torch.no_grad()
    def evaluate(epoch: int) -> dict:
        generator.eval()
        row = {"diversity": pairwise_l1(decode(fixed_z)) / real_spread}
        last = epoch + 1 == params.epochs
        if (epoch + 1) % params.fid_every == 0 or last:
            samples = np.concatenate([to_uint8(decode(z)) for z in codes[:fid_count].split(256)])
            row["fid"] = fid_from_features(val_features, inception_features(samples, metrics))
        generator.train()
        return row

    history = fit(params.epochs, train_epoch, checkpoint,
                  lambda h: write_tsv(h, f"plots/{name}/losses.tsv"), evaluate, early_stop)
    if not distributed.is_main():
        return  # rank 0 writes the outputs while the others wait in `distributed.launch`
    early_stop.restore_best()
    best_epoch, best_fid = early_stop.best(history)
    save_networks(f"models/{name}.pt", {"generator": (cfg, generator),
                                        "discriminator": (cfg, discriminator)})
    generator.eval()
    with torch.no_grad():
        save_grid(to_uint8(decode(fixed_z[:32])), 8, f"plots/{name}/samples.png")
    last = {k: round(v, 5) if isinstance(v, float) else v for k, v in history[-1].items()}
    write_json({**last, "best_epoch": best_epoch, "best_fid": round(best_fid, 3),
                "fid_n": fid_count, "epochs_trained": history[-1]["epoch"]},
               f"metrics/{name}.json")
    checkpoint.remove()
    early_stop.remove()


if __name__ == "__main__":
    with distributed.launch():
        main()
