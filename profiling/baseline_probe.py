"""A short training run of a retrained baseline, to compare settings before a full stage run:
how far does each setting get in the same number of steps?

Trains `--method` for `--steps` steps (global batches of the params.yaml batch size, from its
seed) on the prepared training set and training-mask pool, as the stage does, then prints one
JSON line: the settings, wall seconds, the mean training loss of the last 25 steps and the
validation L1 of the raw output on the first `--pairs` validation pairs of every bucket. Run it from
a repository whose `prepare` and `masks` stages have run.

    OMP_NUM_THREADS=1 python profiling/baseline_probe.py --method gatedconv --width 4
    OMP_NUM_THREADS=1 python profiling/baseline_probe.py --method gatedconv --width 8
    OMP_NUM_THREADS=1 python profiling/baseline_probe.py --method gatedconv --gan-weight 0
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time

import torch

from inpaint.config import GatedConvParams, PConvParams, load_section
from inpaint.device import get_device, set_threads
from inpaint.evaluation.weights import DEFAULT_DIR, load_lpips
from inpaint.training.losses import AlexFeatures
from inpaint.training.trainers import TrainingData
from inpaint.training.trainers.gatedconv import GatedConvTrainer
from inpaint.training.trainers.pconv import PConvTrainer
from common import PARAMS, global_batches

PARAMS_OF = {"pconv": PConvParams, "gatedconv": GatedConvParams}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=sorted(PARAMS_OF), required=True)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--pairs", type=int, default=20, help="evaluation pairs per bucket")
    parser.add_argument("--width", type=int, help="instead of params.yaml's")
    parser.add_argument("--lr", type=float, help="instead of params.yaml's")
    parser.add_argument("--gan-weight", type=float, help="gatedconv only: instead of params.yaml's")
    args = parser.parse_args()
    if args.gan_weight is not None and args.method != "gatedconv":
        parser.error("--gan-weight is a gatedconv setting")
    set_threads()
    device = get_device()
    overrides = {k: v for k, v in [("width", args.width), ("lr", args.lr),
                                   ("gan_weight", args.gan_weight)] if v is not None}
    params = dataclasses.replace(load_section(PARAMS_OF[args.method], args.method, PARAMS),
                                 **overrides)
    data = TrainingData.load(masks=True)
    data.val_pairs = data.val_pairs.groupby("bucket", sort=False).head(args.pairs)
    torch.manual_seed(params.seed)
    if args.method == "pconv":
        trainer = PConvTrainer(params, data, AlexFeatures(load_lpips(DEFAULT_DIR, device)), device)
    else:
        trainer = GatedConvTrainer(params, data, device)
    start, last_losses = time.perf_counter(), []
    source = global_batches(len(data.train), params.batch_size, params.seed)
    for _, (index, rng) in zip(range(args.steps), source):
        losses = trainer.step(*trainer.draw(index, rng))
        last_losses.append(float(losses["loss"].detach()))
    seconds = time.perf_counter() - start
    scores = trainer.scores()
    print(json.dumps({"method": args.method, **dataclasses.asdict(params),
                      "steps": len(last_losses),
                      "seconds": round(seconds),
                      "train_loss_last_25": round(statistics.mean(last_losses[-25:]), 4),
                      "val_l1": round(float(scores.l1.mean()), 4), "pairs": len(data.val_pairs)}))


if __name__ == "__main__":
    main()
