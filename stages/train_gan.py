"""Stages `train_gan` and `train_pixel_gan`: a DCGAN, in feature-map space or pixel space
(`inpaint.training.trainers.gan`).

`--space feature` (the paper, stage 1b): E_R and Dec frozen; D tells E_R(I) from G(z).
`--space pixel` (the Figure 6 ablation): the same DCGAN recipe and budget on the images.
Training stops when the sample FID on validation images has not improved for `gan.patience`
FIDs, and the networks of the best FID are exported: models/<name>.pt, metrics/<name>.json,
plots/<name>/losses.tsv and plots/<name>/samples.png.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from inpaint.arithmetic import pin_process
from inpaint.config import GanParams, load_section
from inpaint.data.writers import save_grid, write_json
from inpaint.evaluation.metrics import MetricContext
from inpaint.paper.networks import NETWORKS
from inpaint.pretrained import load_networks, save_networks
from inpaint.training import distributed
from inpaint.device import set_threads
from inpaint.training.trainers.base import TRAIN, TrainingData, describe, train
from inpaint.training.trainers.gan import GanTrainer

AUTOENCODER, WEIGHTS = "models/ae.pt", Path("models/metric_weights")
NAMES = {"feature": "gan", "pixel": "pixel_gan"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", choices=sorted(NAMES), default="feature")
    space = parser.parse_args().space
    name = NAMES[space]
    params = load_section(GanParams, "gan")
    set_threads()
    device = distributed.local_device()
    autoencoder = (load_networks(AUTOENCODER, NETWORKS, device=device) if space == "feature"
                   else {"encoder": None, "decoder": None})
    metrics = MetricContext(weights_dir=WEIGHTS, device=device) if distributed.is_main() else None
    trainer = GanTrainer(params, TrainingData.load(), device, autoencoder["encoder"],
                         autoencoder["decoder"], metrics)
    print(describe(trainer))
    inputs = [TRAIN, AUTOENCODER] if space == "feature" else [TRAIN]
    history, early_stop = train(trainer, inputs, patience=params.patience)
    if not distributed.is_main():
        return  # rank 0 writes the outputs while the others wait in `distributed.launch`
    best_epoch, best_fid = early_stop.best(history)
    save_networks(f"models/{name}.pt", trainer.networks())
    save_grid(trainer.samples(), 8, f"plots/{name}/samples.png")
    last = {k: round(v, 5) if isinstance(v, float) else v for k, v in history[-1].items()}
    write_json({**last, "best_epoch": best_epoch, "best_fid": round(best_fid, 3),
                "fid_n": trainer.fid_count, "epochs_trained": history[-1]["epoch"]},
               f"metrics/{name}.json")


if __name__ == "__main__":
    pin_process()
    with distributed.launch():
        main()
