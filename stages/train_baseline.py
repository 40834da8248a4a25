"""Stages `train_pconv`, `train_gatedconv`, `train_comodgan`, `train_hifill` and `train_lama`:
the paper's compared systems and LaMa, retrained here (`inpaint.training.trainers.<method>`;
what matches each paper and what was scaled or substituted: docs/baselines.md).

`--method pconv`: the partial-convolution U-Net of Liu et al. 2018 with its loss (perceptual
and style terms on the LPIPS AlexNet of models/metric_weights). `--method gatedconv`: the
gated-convolution coarse-to-fine generator of Yu et al. 2019 with SN-PatchGAN. `--method
comodgan`: the co-modulated StyleGAN2 generator of Zhao et al. 2021, logistic loss with R1.
`--method hifill`: the coarse-to-fine generator with attention transfer of Yi et al. 2020.
`--method lama`: the FFC ResNet of Suvorov et al. 2022 on its own training masks, with its
perceptual term on the LPIPS AlexNet. Same data, evaluation pairs and loop as
`train_inversion`. Outputs models/<method>.pt, metrics/<method>.json (validation L1 / PSNR
per hole-ratio bucket on the validation pairs), plots/<method>/losses.tsv and
plots/<method>/inpainted.png (rows: damaged, output, composite, original).
"""
from __future__ import annotations

import argparse

import torch

from inpaint.config import (CoModGanParams, GatedConvParams, HiFillParams, LamaParams,
                            PConvParams, load_section)
from inpaint.data.writers import save_grid, write_json
from inpaint.evaluation.weights import DEFAULT_DIR, LPIPS_FILE, load_lpips
from inpaint.pretrained import save_networks
from inpaint.training import distributed
from inpaint.training.loop import set_threads
from inpaint.training.losses import AlexFeatures
from inpaint.training.trainers.base import TRAIN, TRAIN_MASKS, TrainingData, describe, train
from inpaint.training.trainers.comodgan import CoModGanTrainer
from inpaint.training.trainers.gatedconv import GatedConvTrainer
from inpaint.training.trainers.hifill import HiFillTrainer
from inpaint.training.trainers.lama import LamaTrainer
from inpaint.training.trainers.pconv import PConvTrainer

PARAMS = {"pconv": PConvParams, "gatedconv": GatedConvParams, "comodgan": CoModGanParams,
          "hifill": HiFillParams, "lama": LamaParams}
TRAINERS = {"gatedconv": GatedConvTrainer, "comodgan": CoModGanTrainer, "hifill": HiFillTrainer}
PERCEPTUAL = {"pconv": PConvTrainer, "lama": LamaTrainer}  # their losses take LPIPS's AlexNet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=sorted(PARAMS), required=True)
    method = parser.parse_args().method
    params = load_section(PARAMS[method], method)
    set_threads()
    device = distributed.local_device()
    data = TrainingData.load(masks=True)
    torch.manual_seed(params.seed)
    if method in PERCEPTUAL:
        features = AlexFeatures(load_lpips(DEFAULT_DIR, device))
        trainer = PERCEPTUAL[method](params, data, features, device)
    else:
        trainer = TRAINERS[method](params, data, device)
    print(describe(trainer))
    inputs = [TRAIN, TRAIN_MASKS] + ([DEFAULT_DIR / LPIPS_FILE] if method in PERCEPTUAL else [])
    train(trainer, inputs)
    if not distributed.is_main():
        return  # rank 0 writes the outputs while the others wait in `distributed.launch`
    save_networks(f"models/{method}.pt", trainer.networks())
    summary = trainer.summary()
    write_json(summary, f"metrics/{method}.json")
    save_grid(*trainer.inpainted(), f"plots/{method}/inpainted.png")
    print(summary)


if __name__ == "__main__":
    with distributed.launch():
        main()
