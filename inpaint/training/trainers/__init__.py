"""One module per trained model, each holding how it is built, stepped and validated (`base`
has what they share and the driver `train`), and `untrained`, which builds any stage's trainer
with untrained networks for the speed and FLOP probes (profiling/)."""
from __future__ import annotations

from pathlib import Path

import torch

from inpaint import config
from inpaint.registry import MODELS
from inpaint.training.trainers.base import Trainer, TrainingData, baseline_trainer

STAGES = tuple(model.stage for model in MODELS.values())


def untrained(stage: str, data: TrainingData, device: torch.device,
              params_file: str | Path = config.PARAMS_FILE) -> Trainer:
    """The trainer of `stage` (one of STAGES) as `params_file` describes it, at the resolution
    of `data`, where every network it would load (E_R, G, D, Dec, LPIPS's AlexNet) has random
    weights instead: what a step costs, not what it learns. Sample FIDs are not computed."""
    import lpips

    from inpaint.paper import networks as paper
    from inpaint.training.losses import AlexFeatures

    def section(cls: type, name: str):
        return config.load_section(cls, name, params_file)

    def random_alexnet() -> AlexFeatures:
        return AlexFeatures(lpips.LPIPS(net="alex", pretrained=False, pnet_rand=True,
                                        verbose=False))

    torch.manual_seed(0)
    ae_cfg = paper.AutoencoderConfig(resolution=data.resolution)
    if stage == "train_ae":
        from inpaint.training.trainers.autoencoder import AutoencoderTrainer
        return AutoencoderTrainer(section(config.AutoencoderParams, "ae"), data, device)
    if stage in ("train_gan", "train_pixel_gan"):
        from inpaint.training.trainers.gan import GanTrainer
        encoder = (paper.Encoder(ae_cfg).to(device).requires_grad_(False)
                   if stage == "train_gan" else None)
        return GanTrainer(section(config.GanParams, "gan"), data, device, encoder)
    if stage in ("train_inversion", "train_extended"):
        from inpaint.training.trainers.extended import (ExtendedInversionTrainer,
                                                        build_extended_inverter)
        from inpaint.training.trainers.inversion import InversionTrainer, build_inverter
        extended = stage == "train_extended"
        params = (section(config.ExtendedParams, "extended") if extended
                  else section(config.InversionParams, "inversion"))
        gan = section(config.GanParams, "gan")
        gan_cfg = paper.GanConfig(size=ae_cfg.map_size, z_dim=gan.z_dim, width=gan.width)
        networks = {"generator": paper.Generator(gan_cfg).to(device),
                    "discriminator": paper.Discriminator(gan_cfg).to(device),
                    "decoder": paper.Decoder(ae_cfg).to(device)}
        build = build_extended_inverter if extended else build_inverter
        model = build(params, data.resolution, networks, device)
        features = random_alexnet().to(device) if params.perceptual_weight else None
        trainer = ExtendedInversionTrainer if extended else InversionTrainer
        return trainer(model, params, data, features, device)
    baselines = {model.stage: model for model in MODELS.values() if model.inpainter}
    if stage in baselines:
        model = baselines[stage]
        params = section(config.SECTIONS[model.section], model.section)
        return baseline_trainer(model, params, data, device,
                                random_alexnet() if model.perceptual else None)
    raise ValueError(f"unknown training stage {stage!r}; stages: {', '.join(STAGES)}")
