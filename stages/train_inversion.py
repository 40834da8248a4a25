"""Stages `train_inversion` and `train_extended`: the encoder E_z through G, D and Dec (paper,
stage 2: all frozen; `inpaint.training.trainers.inversion` has the loss and the options beyond
the paper), and with `--code extended` the E_z of `ours_extended`, which also predicts an
offset of G's hidden features (`inpaint.training.trainers.extended`, beyond the paper).

Outputs the exported model folder models/inpainter/ (models/inpainter_extended/), the E_z of
the best validation L1, and metrics/<name>.json (validation L1 / PSNR per hole-ratio bucket),
plots/<name>/losses.tsv (with each epoch's learning rate) and plots/<name>/inpainted.png,
<name> being `inversion` (`extended`).
"""
from __future__ import annotations

import argparse

from inpaint.arithmetic import pin_process
from inpaint.config import ExtendedParams, InversionParams, load_section
from inpaint.data.writers import save_grid, write_json
from inpaint.evaluation.weights import DEFAULT_DIR, load_lpips
from inpaint.paper.networks import NETWORKS
from inpaint.pretrained import export_inpainter, load_networks
from inpaint.training import distributed
from inpaint.device import set_threads
from inpaint.training.losses import AlexFeatures
from inpaint.training.trainers.base import TRAIN, TRAIN_MASKS, TrainingData, describe, train
from inpaint.training.trainers.extended import (ExtendedInversionTrainer,
                                                build_extended_inverter)
from inpaint.training.trainers.inversion import InversionTrainer, build_inverter

AUTOENCODER, GAN = "models/ae.pt", "models/gan.pt"
CODES = {  # --code: params section, its class, the model builder, the trainer, the model folder
    "paper": ("inversion", InversionParams, build_inverter, InversionTrainer, "inpainter"),
    "extended": ("extended", ExtendedParams, build_extended_inverter, ExtendedInversionTrainer,
                 "inpainter_extended")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", choices=sorted(CODES), default="paper")
    name, params_class, build, trainer_class, folder = CODES[parser.parse_args().code]
    params = load_section(params_class, name)
    set_threads()
    device = distributed.local_device()
    data = TrainingData.load(masks=True)
    networks = {**load_networks(AUTOENCODER, NETWORKS, ["decoder"], device),
                **load_networks(GAN, NETWORKS, device=device)}
    model = build(params, data.resolution, networks, device)
    features = (AlexFeatures(load_lpips(DEFAULT_DIR, device)) if params.perceptual_weight
                else None)
    trainer = trainer_class(model, params, data, features, device)
    print(describe(trainer))
    history, early_stop = train(trainer, [TRAIN, TRAIN_MASKS, AUTOENCODER, GAN],
                                params.lr_decay, params.patience)
    if not distributed.is_main():
        return  # rank 0 writes the outputs while the others wait in `distributed.launch`
    model.eval()
    export_inpainter(f"models/{folder}", model.networks(), params.hole_fill)
    summary = trainer.summary()
    write_json({"val": summary["val"], "best_epoch": early_stop.best(history)[0],
                "epochs_trained": history[-1]["epoch"], "buckets": summary["buckets"]},
               f"metrics/{name}.json")
    save_grid(*trainer.inpainted(), f"plots/{name}/inpainted.png")
    print(summary)


if __name__ == "__main__":
    pin_process()
    with distributed.launch():
        main()
