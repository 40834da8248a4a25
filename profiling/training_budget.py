"""The training budget of every training stage, in FLOPs, from params.yaml: is a baseline's
training compute comparable to the paper's method's?

For each stage: the FLOPs of one whole training step per image (forward, backward, every
network the loss passes through; counted by torch.utils.flop_counter on one real step, as in
compute_limit.py), times the stage's epochs, times the training images. `ours` is the sum of
the three stages the method needs (train_ae, train_gan, train_inversion). For each retrained
baseline it prints the ratio to `ours` and the epochs that would match `ours` exactly.
Counting needs one step per stage, not a training run: seconds on a CPU.

Stages that stop early (train_gan, train_inversion) may train fewer epochs than their params
allow: `--trained` counts the epochs they did train (metrics/<stage>.json, `epochs_trained`),
so that a trained run's budget is what it spent.

    OMP_NUM_THREADS=1 python profiling/training_budget.py     # counts data/prepared/train.npy
    OMP_NUM_THREADS=1 python profiling/training_budget.py --train-images 4500
    OMP_NUM_THREADS=1 python profiling/training_budget.py --trained   # after `dvc repro`
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import yaml

from compute_limit import COUNT, step_flops_per_image
from inpaint.device import get_device, set_threads
from inpaint.registry import MODELS
from common import PARAMS, make_data
from inpaint.training.trainers import untrained

OURS = ("train_ae", "train_gan", "train_inversion")
EXTENDED = ("train_ae", "train_gan", "train_extended")  # ours_extended's chain
BASELINES = tuple(model.stage for model in MODELS.values() if model.inpainter)
SECTIONS = {model.stage: model.section for model in MODELS.values()}  # stage -> params section


def train_images(given: int | None, params_file: Path) -> int:
    """--train-images, else the rows of data/prepared/train.npy beside params.yaml."""
    if given is not None:
        return given
    path = params_file.parent / "data" / "prepared" / "train.npy"
    if not path.is_file():
        raise SystemExit(f"{path} does not exist: run `dvc repro prepare` or pass --train-images")
    return len(np.load(path, mmap_mode="r"))


def trained_epochs(stage: str, planned: int, params_file: Path) -> int:
    """The epochs a finished stage trained (fewer than planned if it stopped early)."""
    path = params_file.parent / "metrics" / f"{SECTIONS[stage]}.json"
    if not path.is_file():
        raise SystemExit(f"{path} does not exist: --trained counts a finished run")
    return int(json.loads(path.read_text()).get("epochs_trained", planned))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-images", type=int, default=None)
    parser.add_argument("--trained", action="store_true",
                        help="epochs actually trained (metrics/*.json), not the params' epochs")
    parser.add_argument("--params", type=Path, default=PARAMS,
                        help="the params.yaml of the run to count (default: this repository's)")
    args = parser.parse_args()
    set_threads()
    params = yaml.safe_load(args.params.read_text())
    resolution = params["data"]["resolution"]
    images = train_images(args.train_images, args.params)
    device = get_device()
    totals = {}
    print(f"{args.params}: {resolution} px, {images} training images\n")
    print(f"{'stage':<17}{'MFLOPs/image':>13}{'epochs':>8}{'total TFLOPs':>14}")
    with tempfile.TemporaryDirectory() as folder:
        data = make_data(Path(folder), resolution, COUNT)
        for stage in OURS + EXTENDED[2:] + BASELINES:
            per_image = step_flops_per_image(untrained(stage, data, device, args.params))
            epochs = params[SECTIONS[stage]]["epochs"]
            if args.trained:
                epochs = trained_epochs(stage, epochs, args.params)
            totals[stage] = (per_image, epochs, per_image * epochs * images)
            print(f"{stage:<17}{per_image / 1e6:>13.0f}{epochs:>8}"
                  f"{totals[stage][2] / 1e12:>14.1f}")
    ours = sum(totals[stage][2] for stage in OURS)
    print(f"\nours (train_ae + train_gan + train_inversion): {ours / 1e12:.1f} TFLOPs")
    extended = sum(totals[stage][2] for stage in EXTENDED)
    print(f"ours_extended (train_ae + train_gan + train_extended): {extended / 1e12:.1f} "
          f"TFLOPs, {extended / ours:.2f}x ours")
    for stage in BASELINES:
        per_image, epochs, total = totals[stage]
        print(f"{stage}: {total / ours:.2f}x ours; {ours / (per_image * images):.1f} epochs "
              f"would match ours")


if __name__ == "__main__":
    main()
