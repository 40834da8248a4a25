"""Stage `train_<method>` of every retrained baseline of `inpaint.registry` (`train_pconv`,
`train_gatedconv`, `train_comodgan`, `train_hifill`, `train_lama`): the paper's compared
systems and LaMa, retrained here (`inpaint.training.trainers.<method>`;
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

from inpaint.arithmetic import pin_process
from inpaint.config import SECTIONS, load_section
from inpaint.data.writers import save_grid, write_json
from inpaint.device import set_threads
from inpaint.evaluation.weights import DEFAULT_DIR, LPIPS_FILE, load_lpips
from inpaint.pretrained import save_networks
from inpaint.registry import MODELS
from inpaint.training import distributed
from inpaint.training.losses import AlexFeatures
from inpaint.training.trainers.base import (TRAIN, TRAIN_MASKS, TrainingData, baseline_trainer,
                                            describe, train)

# the models this script trains: every record with a network that fills holes
BASELINES = sorted(name for name, model in MODELS.items() if model.inpainter)

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=BASELINES, required=True)
    model = MODELS[parser.parse_args().method]
    params = load_section(SECTIONS[model.section], model.section)
    set_threads()
    device = distributed.local_device()
    data = TrainingData.load(masks=True)
    torch.manual_seed(params.seed)
    features = AlexFeatures(load_lpips(DEFAULT_DIR, device)) if model.perceptual else None
    trainer = baseline_trainer(model, params, data, device, features)
    print(describe(trainer))
    inputs = [TRAIN, TRAIN_MASKS] + ([DEFAULT_DIR / LPIPS_FILE] if model.perceptual else [])
    train(trainer, inputs)
    if not distributed.is_main():
        return  # rank 0 writes the outputs while the others wait in `distributed.launch`
    save_networks(f"models/{model.path}", trainer.networks())
    summary = trainer.summary()
    write_json(summary, f"metrics/{model.name}.json")
    save_grid(*trainer.inpainted(), f"plots/{model.name}/inpainted.png")
    print(summary)

if __name__ == "__main__":
    pin_process()
    with distributed.launch():
        main()
