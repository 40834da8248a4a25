"""Stage `train_inversion`: the encoder E_z, through G, D and Dec (paper, stage 2: all frozen).

Loss L = L_p + lambda_r * L_r with L_r = ||I - Dec(G(E_z(I_M)))||_1 and L_p the bounded,
non-saturating realism term -log D(G(E_z(I_M))) (see docs/method.md: the literal log(1 - D) is
unbounded below and lets E_z fool D instead of reconstructing). With `inversion.hole_weight`
> 1, L_r weighs the hole's pixels that many times the known ones (not in the paper). With
`inversion.perceptual_weight` > 0 the loss adds that weight times the L1 distance of LPIPS
AlexNet's relu1-relu3 features of the output and of I: the perceptual term the retrained PConv
trains with, and with `inversion.style_weight` > 0 PConv's style term on their relu1-relu2 Gram
matrices (neither in the paper). With `inversion.generator_lr` > 0, G is tuned with E_z on the
same loss, and with `inversion.decoder_lr` > 0 Dec (neither in the paper).
With `inversion.latent_weight` > 0, E_z also learns to invert damaged samples Dec(G(z)) back
to their z (not in the paper). With `inversion.patch_gan_weight` > 0, an SN-PatchGAN trained
beside E_z judges the composite (the known pixels pasted back) and its hinge loss is added at
that weight (not in the paper). With `inversion.discriminator_lr` > 0 the paper's D keeps
learning at that rate, the maps E_R(I) of the true images against E_z's (the paper freezes
it). Masks come from the `masks` training pool, with random flips.
After each epoch E_z is scored on the validation pairs (validation images, evaluation masks);
after an epoch without a new best validation L1, every learning rate is multiplied by
`inversion.lr_decay` (1: constant, the paper), and training stops when the L1 has not improved
for `inversion.patience` epochs; the E_z of the best epoch is exported. Outputs the exported
model folder models/inpainter/, metrics/inversion.json (validation L1 / PSNR per hole-ratio
bucket), plots/inversion/losses.tsv (with each epoch's learning rate) and
plots/inversion/inpainted.png.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from inpaint.baselines.losses import AlexFeatures
from inpaint.training import distributed
from inpaint.config import InversionParams, load_section
from inpaint.evaluation.weights import DEFAULT_DIR, load_lpips
from inpaint.data.images import load_npy
from inpaint.paper.inversion import GanInverter, InversionTrainer
from inpaint.paper.networks import InversionConfig, InversionEncoder, describe
from inpaint.pretrained import export_inpainter, load_networks, network_config
from inpaint.training.loop import (Checkpoint, EarlyStop, Mean, batches, epoch_generator,
                                   fingerprint, fit, random_masks, save_grid,
                                   scale_learning_rates, score_pairs, set_threads, take,
                                   to_tensor, to_uint8, write_json, write_tsv)

TRAIN, VAL = "data/prepared/train.npy", "data/prepared/val.npy"
TRAIN_MASKS, EVAL_MASKS = "data/masks/train.npy", "data/masks/eval.npy"
VAL_PAIRS, AUTOENCODER, GAN = "data/masks/val_pairs.csv", "models/ae.pt", "models/gan.pt"


def main() -> None:
    params = load_section(InversionParams, "inversion")
    set_threads()
    device = distributed.local_device()
    train, val = load_npy(TRAIN), load_npy(VAL)
    train_masks, eval_masks = load_npy(TRAIN_MASKS), load_npy(EVAL_MASKS)
    pairs = pd.read_csv(VAL_PAIRS)
    autoencoder = ["decoder", "encoder"] if params.discriminator_lr else ["decoder"]
    loaded = {**load_networks(AUTOENCODER, autoencoder, device),
              **load_networks(GAN, device=device)}
    torch.manual_seed(params.seed)
    gan_cfg = network_config(GAN, "generator")
    cfg = InversionConfig(resolution=train.shape[1], z_dim=gan_cfg.z_dim, width=params.width,
                          mask_input=params.mask_input)
    model = GanInverter(InversionEncoder(cfg).to(device), loaded["generator"], loaded["decoder"],
                        loaded["discriminator"], params.hole_fill)
    example = to_tensor(val[:2], device)
    print(describe("E_z", model.inversion_encoder,
                   model.encoder_input(example, torch.ones_like(example[:, :1]))))
    features = AlexFeatures(load_lpips(DEFAULT_DIR, device)) if params.uses_features else None
    trainer = InversionTrainer.from_params(
        model, params, features, wrap=lambda module: distributed.wrap(module, device),
        map_encoder=loaded.get("encoder"))
    if params.patch_gan_weight:
        print(describe("SN-PatchGAN", trainer.trained["patch_discriminator"],
                       torch.cat([example, torch.ones_like(example[:, :1])], 1)))
    checkpoint = Checkpoint("checkpoints/train_inversion.pt", trainer.trained, trainer.optimizers,
                            fingerprint(vars(params), [TRAIN, TRAIN_MASKS, AUTOENCODER, GAN]))
    early_stop = EarlyStop("val_l1", params.patience, Path("checkpoints/train_inversion.best.pt"),
                           trainer.trained)

    def train_epoch(epoch: int, progress) -> dict:
        rng, mean = epoch_generator(params.seed, epoch), Mean()
        for index in batches(len(train), params.batch_size, rng):
            x = to_tensor(take(train, distributed.shard(index)), device)
            known = distributed.shard(random_masks(train_masks, len(index), rng)).to(device)
            losses = trainer.step(x, known)
            progress(losses)
            mean.add(losses)
        return {**mean.result(), "lr": trainer.optimizers["adam"].param_groups[0]["lr"]}

    def evaluate(epoch: int) -> dict:
        scores = score_pairs(model, model.inversion_encoder, val, eval_masks, pairs, device)
        return {"val_l1": float(scores.l1.mean()), "val_psnr": float(scores.psnr.mean())}

    def decay() -> None:
        scale_learning_rates(trainer.optimizers.values(), params.lr_decay)

    history = fit(params.epochs, train_epoch, checkpoint,
                  lambda h: write_tsv(h, "plots/inversion/losses.tsv"), evaluate, early_stop,
                  decay if params.lr_decay < 1 else None)
    if not distributed.is_main():
        return  # rank 0 writes the outputs while the others wait in `distributed.launch`
    early_stop.restore_best()
    model.eval()
    export_inpainter("models/inpainter", {
        "inversion_encoder": (cfg, model.inversion_encoder),
        "generator": (gan_cfg, model.generator),
        "discriminator": (gan_cfg, model.discriminator),
        "decoder": (network_config(AUTOENCODER, "decoder"), model.decoder)}, params.hole_fill)
    scores = score_pairs(model, model.inversion_encoder, val, eval_masks, pairs, device)
    by_bucket = scores.groupby("bucket", sort=False).mean()
    write_json({"val": {"l1": round(float(scores.l1.mean()), 5),
                        "psnr": round(float(scores.psnr.mean()), 3)},
                "best_epoch": early_stop.best(history)[0],
                "epochs_trained": history[-1]["epoch"],
                "buckets": {b: {k: round(float(v), 4) for k, v in row.items()}
                            for b, row in by_bucket.iterrows()}}, "metrics/inversion.json")
    show = pairs.groupby("bucket", sort=False).head(2)[:12]
    x = to_tensor(val[show.image_index.values], device)
    known = torch.from_numpy(eval_masks[show.eval_mask_index.values]).float()[:, None].to(device)
    with torch.no_grad():
        out = model(x, known)
    rows = [to_uint8(model.damaged(x, known)), to_uint8(out),
            to_uint8(known * x + (1 - known) * out), val[show.image_index.values]]
    save_grid(np.concatenate(rows), len(show), "plots/inversion/inpainted.png")
    checkpoint.remove()
    early_stop.remove()
    print(by_bucket.round(3).to_string())


if __name__ == "__main__":
    with distributed.launch():
        main()
