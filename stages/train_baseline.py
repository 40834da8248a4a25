"""Stages `train_pconv` and `train_gatedconv`: the paper's compared systems, retrained here.

`--method pconv`: the partial-convolution U-Net of Liu et al. 2018 with its loss (perceptual
and style terms on the LPIPS AlexNet of models/metric_weights). `--method gatedconv`: the
gated-convolution coarse-to-fine generator of Yu et al. 2019 with SN-PatchGAN (contextual
attention dropped; see inpaint/baselines/networks.py). Same data, masks, evaluation pairs and loop
as `train_inversion`. Outputs models/<method>.pt, metrics/<method>.json (validation L1 / PSNR
per hole-ratio bucket on the validation pairs), plots/<method>/losses.tsv and
plots/<method>/inpainted.png (rows: damaged, output, composite, original).
"""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import torch

from inpaint.training import distributed
from inpaint.baselines.losses import AlexFeatures
from inpaint.baselines.networks import GatedConfig, PatchGanConfig, PConvConfig, masked_input
from inpaint.baselines.learned import BaselineTrainer, GatedConvTrainer, PConvTrainer
from inpaint.config import GatedConvParams, PConvParams, load_section
from inpaint.data.images import load_npy
from inpaint.paper.networks import describe
from inpaint.pretrained import save_networks
from inpaint.training.loop import (Checkpoint, Mean, batches, epoch_generator, fingerprint, fit,
                                   random_masks, save_grid, score_pairs, set_threads, take,
                                   to_tensor, to_uint8, write_json, write_tsv)
from inpaint.evaluation.weights import DEFAULT_DIR, LPIPS_FILE, load_lpips

TRAIN, VAL = "data/prepared/train.npy", "data/prepared/val.npy"
TRAIN_MASKS, EVAL_MASKS = "data/masks/train.npy", "data/masks/eval.npy"
VAL_PAIRS = "data/masks/val_pairs.csv"
PARAMS = {"pconv": PConvParams, "gatedconv": GatedConvParams}


def build(method: str, params, resolution: int, device: torch.device,
          example: torch.Tensor) -> BaselineTrainer:
    """The trainer, its networks' sizes printed (FLOPs per image: one forward pass)."""
    betas = tuple(params.betas)
    if method == "pconv":
        features = AlexFeatures(load_lpips(DEFAULT_DIR, device))
        trainer = PConvTrainer(PConvConfig(resolution, params.width), features, params.lr,
                               betas, device)
        print(describe("PConv U-Net", trainer.net, example), "|",
              describe("loss AlexNet relu1-3", features, example[:, :3]))
    else:
        trainer = GatedConvTrainer(GatedConfig(resolution, params.width),
                                   PatchGanConfig(resolution, params.disc_width), params.lr,
                                   betas, params.gan_weight, device)
        print(describe("gated generator", trainer.net, example), "|",
              describe("SN-PatchGAN", trainer.discriminator, example))
    return trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=sorted(PARAMS), required=True)
    method = parser.parse_args().method
    params = load_section(PARAMS[method], method)
    set_threads()
    device = distributed.local_device()
    train, val = load_npy(TRAIN), load_npy(VAL)
    train_masks, eval_masks = load_npy(TRAIN_MASKS), load_npy(EVAL_MASKS)
    pairs = pd.read_csv(VAL_PAIRS)
    torch.manual_seed(params.seed)
    example = masked_input(to_tensor(val[:1], device),
                           torch.from_numpy(eval_masks[:1]).float()[:, None].to(device))
    trainer = build(method, params, train.shape[1], device, example)
    # DDP's arithmetic under torchrun (the trainers call `inpaint`, which DDP cannot hook)
    distributed.average_gradients(trainer.modules.values(), trainer.optimizers.values())
    inputs = [TRAIN, TRAIN_MASKS] + ([DEFAULT_DIR / LPIPS_FILE] if method == "pconv" else [])
    checkpoint = Checkpoint(f"checkpoints/train_{method}.pt", trainer.modules,
                            trainer.optimizers, fingerprint(vars(params), inputs))

    def train_epoch(epoch: int, progress) -> dict:
        rng, mean = epoch_generator(params.seed, epoch), Mean()
        for index in batches(len(train), params.batch_size, rng):
            x = to_tensor(take(train, distributed.shard(index)), device)
            known = distributed.shard(random_masks(train_masks, len(index), rng)).to(device)
            losses = trainer.step(x, known)
            progress(losses)
            mean.add(losses)
        return mean.result()

    def evaluate(epoch: int) -> dict:
        scores = score_pairs(trainer.generator.inpaint, trainer.generator, val, eval_masks,
                             pairs, device)
        return {"val_l1": float(scores.l1.mean()), "val_psnr": float(scores.psnr.mean())}

    fit(params.epochs, train_epoch, checkpoint,
        lambda h: write_tsv(h, f"plots/{method}/losses.tsv"), evaluate)
    if not distributed.is_main():
        return  # rank 0 writes the outputs while the others wait in `distributed.launch`
    save_networks(f"models/{method}.pt", trainer.networks())
    scores = score_pairs(trainer.generator.inpaint, trainer.generator, val, eval_masks,
                         pairs, device)
    by_bucket = scores.groupby("bucket", sort=False).mean()
    write_json({"val": {"l1": round(float(scores.l1.mean()), 5),
                        "psnr": round(float(scores.psnr.mean()), 3)},
                "buckets": {b: {k: round(float(v), 4) for k, v in row.items()}
                            for b, row in by_bucket.iterrows()}}, f"metrics/{method}.json")
    show = pairs.groupby("bucket", sort=False).head(2)[:12]
    x = to_tensor(val[show.image_index.values], device)
    known = torch.from_numpy(eval_masks[show.eval_mask_index.values]).float()[:, None].to(device)
    trainer.generator.eval()
    with torch.no_grad():
        out = trainer.generator.inpaint(x, known).clamp(-1, 1)
    rows = [to_uint8(x * known), to_uint8(out), to_uint8(known * x + (1 - known) * out),
            val[show.image_index.values]]
    save_grid(np.concatenate(rows), len(show), f"plots/{method}/inpainted.png")
    checkpoint.remove()
    print(by_bucket.round(3).to_string())


if __name__ == "__main__":
    with distributed.launch():
        main()
