"""Stage `train_ae`: the autoencoder E_R, Dec with L_a = ||Dec(E_R(I)) - I||_1
(`inpaint.training.trainers.autoencoder`).

Outputs models/ae.pt, metrics/ae.json (train/validation L1 and PSNR), plots/ae/losses.tsv and
plots/ae/reconstructions.png (top row: validation images; bottom row: reconstructions).
"""
from __future__ import annotations

from inpaint.arithmetic import pin_process
from inpaint.config import AutoencoderParams, load_section
from inpaint.data.writers import save_grid, write_json
from inpaint.pretrained import save_networks
from inpaint.training import distributed
from inpaint.device import set_threads
from inpaint.training.trainers.autoencoder import AutoencoderTrainer
from inpaint.training.trainers.base import TRAIN, TrainingData, describe, train


def main() -> None:
    params = load_section(AutoencoderParams, "ae")
    set_threads()
    data = TrainingData.load()
    trainer = AutoencoderTrainer(params, data, distributed.local_device())
    print(describe(trainer))
    train(trainer, [TRAIN])
    if not distributed.is_main():
        return  # rank 0 writes the outputs while the others wait in `distributed.launch`
    save_networks("models/ae.pt", trainer.networks())
    metrics = {"train": trainer.scores(data.train), "val": trainer.scores(data.val)}
    write_json(metrics, "metrics/ae.json")
    save_grid(trainer.reconstructions(), 8, "plots/ae/reconstructions.png")
    print(f"train_ae: {metrics}")


if __name__ == "__main__":
    pin_process()
    with distributed.launch():
        main()
