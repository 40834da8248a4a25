"""Stage `train_inversion`: the encoder E_z, through G, D and Dec (paper, stage 2: all frozen;
`inpaint.training.trainers.inversion` has the loss and the options beyond the paper).

Outputs the exported model folder models/inpainter/ (the E_z of the best validation L1),
metrics/inversion.json (validation L1 / PSNR per hole-ratio bucket), plots/inversion/losses.tsv
(with each epoch's learning rate) and plots/inversion/inpainted.png.
"""
from __future__ import annotations

from inpaint.config import InversionParams, load_section
from inpaint.data.writers import save_grid, write_json
from inpaint.evaluation.weights import DEFAULT_DIR, load_lpips
from inpaint.pretrained import export_inpainter, load_networks, network_config
from inpaint.training import distributed
from inpaint.training.loop import set_threads
from inpaint.training.losses import AlexFeatures
from inpaint.training.trainers.base import TRAIN, TRAIN_MASKS, TrainingData, describe, train
from inpaint.training.trainers.inversion import InversionTrainer, build_inverter

AUTOENCODER, GAN = "models/ae.pt", "models/gan.pt"


def main() -> None:
    params = load_section(InversionParams, "inversion")
    set_threads()
    device = distributed.local_device()
    data = TrainingData.load(masks=True)
    networks = {**load_networks(AUTOENCODER, ["decoder"], device),
                **load_networks(GAN, device=device)}
    model = build_inverter(params, data.resolution, networks, device)
    features = (AlexFeatures(load_lpips(DEFAULT_DIR, device)) if params.perceptual_weight
                else None)
    trainer = InversionTrainer(model, params, data, features, device)
    print(describe(trainer))
    history, early_stop = train(trainer, [TRAIN, TRAIN_MASKS, AUTOENCODER, GAN],
                                params.lr_decay, params.patience)
    if not distributed.is_main():
        return  # rank 0 writes the outputs while the others wait in `distributed.launch`
    model.eval()
    gan_cfg = network_config(GAN, "generator")
    export_inpainter("models/inpainter", {
        "inversion_encoder": (model.inversion_encoder.cfg, model.inversion_encoder),
        "generator": (gan_cfg, model.generator),
        "discriminator": (gan_cfg, model.discriminator),
        "decoder": (network_config(AUTOENCODER, "decoder"), model.decoder)}, params.hole_fill)
    summary = trainer.summary()
    write_json({"val": summary["val"], "best_epoch": early_stop.best(history)[0],
                "epochs_trained": history[-1]["epoch"], "buckets": summary["buckets"]},
               "metrics/inversion.json")
    save_grid(*trainer.inpainted(), "plots/inversion/inpainted.png")
    print(summary)


if __name__ == "__main__":
    with distributed.launch():
        main()
