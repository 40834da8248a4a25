"""Stage `train_ae`: the autoencoder E_R, Dec with L_a = ||Dec(E_R(I)) - I||_1.

Outputs models/ae.pt, metrics/ae.json (train/validation L1 and PSNR), plots/ae/losses.tsv and
plots/ae/reconstructions.png (top row: validation images; bottom row: reconstructions).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from inpaint.training import distributed
from inpaint.config import AutoencoderParams, load_section
from inpaint.data.images import load_npy
from inpaint.paper.networks import AutoencoderConfig, Decoder, Encoder, describe
from inpaint.pretrained import save_networks
from inpaint.training.loop import (Checkpoint, Mean, batch_psnr, batches, epoch_generator,
                                   fingerprint, fit, save_grid, set_threads, take, to_tensor,
                                   to_uint8, write_json, write_tsv)

TRAIN, VAL = "data/prepared/train.npy", "data/prepared/val.npy"
EVAL_LIMIT = 1000  # images scored per split: enough for a stable mean


@torch.no_grad()
def reconstruction_scores(encoder, decoder, images, device, batch_size=100) -> dict:
    """Mean L1 (in [-1, 1] units) and PSNR (dB, uint8) of reconstructions."""
    encoder.eval(), decoder.eval()
    l1, psnr = [], []
    for start in range(0, min(len(images), EVAL_LIMIT), batch_size):
        x = to_tensor(images[start:start + batch_size], device)
        out = decoder(encoder(x))
        l1.append((out - x).abs().flatten(1).mean(1))
        psnr.append(batch_psnr(out, x))
    encoder.train(), decoder.train()
    return {"l1": torch.cat(l1).mean().item(), "psnr": torch.cat(psnr).mean().item()}


def main() -> None:
    params = load_section(AutoencoderParams, "ae")
    set_threads()
    device = distributed.local_device()
    train, val = load_npy(TRAIN), load_npy(VAL)
    torch.manual_seed(params.seed)
    cfg = AutoencoderConfig(resolution=train.shape[1])
    encoder, decoder = Encoder(cfg).to(device), Decoder(cfg).to(device)
    example = to_tensor(val[:1], device)
    print(describe("E_R", encoder, example), "|", describe("Dec", decoder, encoder(example)))
    autoencoder = distributed.wrap(nn.Sequential(encoder, decoder), device)  # DDP under torchrun
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()],
                                 lr=params.lr, betas=tuple(params.betas))
    checkpoint = Checkpoint("checkpoints/train_ae.pt", {"encoder": encoder, "decoder": decoder},
                            {"adam": optimizer}, fingerprint(vars(params), [TRAIN]))

    def train_epoch(epoch: int, progress) -> dict:
        mean = Mean()
        for index in batches(len(train), params.batch_size, epoch_generator(params.seed, epoch)):
            x = to_tensor(take(train, distributed.shard(index)), device)
            loss = F.l1_loss(autoencoder(x), x)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            progress({"l1": loss})
            mean.add({"train_l1": loss})
        return mean.result()

    def evaluate(epoch: int) -> dict:
        scores = reconstruction_scores(encoder, decoder, val, device)
        return {"val_l1": scores["l1"], "val_psnr": scores["psnr"]}

    fit(params.epochs, train_epoch, checkpoint, lambda h: write_tsv(h, "plots/ae/losses.tsv"),
        evaluate)
    if not distributed.is_main():
        return  # rank 0 writes the outputs while the others wait in `distributed.launch`
    save_networks("models/ae.pt", {"encoder": (cfg, encoder), "decoder": (cfg, decoder)})
    metrics = {"train": reconstruction_scores(encoder, decoder, train, device),
               "val": reconstruction_scores(encoder, decoder, val, device)}
    write_json(metrics, "metrics/ae.json")
    with torch.no_grad():
        recon = to_uint8(decoder(encoder(to_tensor(val[:8], device))))
    save_grid(np.concatenate([val[:8], recon]), 8, "plots/ae/reconstructions.png")
    checkpoint.remove()
    print(f"train_ae: {metrics}")


if __name__ == "__main__":
    with distributed.launch():
        main()
