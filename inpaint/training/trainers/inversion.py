"""The encoder E_z (the paper's stage 2), trained through Dec(G(.)) with G, D and Dec frozen.

Loss L = L_p + lambda_r * L_r with L_r = ||I - Dec(G(E_z(I_M)))||_1 and L_p the bounded,
non-saturating realism term -log D(G(E_z(I_M))) (see docs/method.md: the literal log(1 - D) is
unbounded below and lets E_z fool D instead of reconstructing). Beyond the paper, each chosen
on validation faces and off by default:
- `perceptual_weight` > 0 adds that weight times the L1 distance of LPIPS AlexNet's
  relu1-relu3 features of the output and of I (the perceptual term the retrained PConv trains
  with);
- `generator_lr` > 0 tunes G with E_z on the same loss at that rate (its BatchNorm keeps the
  GAN's running statistics, D stays frozen), and `decoder_lr` > 0 Dec: the perceptual term can
  then sharpen the decoder's output of G's maps, which an autoencoder trained on L1 alone
  renders blurred;
- `lr_decay` < 1 multiplies every learning rate by it after an epoch without a new best
  validation L1 (`trainers.base.train`).
Masks come from the `masks` training pool, with random flips. After each epoch E_z is scored
on the validation pairs (validation images, evaluation masks); training stops when the L1 has
not improved for `inversion.patience` epochs, and the E_z of the best epoch is kept.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from inpaint.config import InversionParams
from inpaint.paper.inversion import GanInverter, realism_loss
from inpaint.paper.networks import InversionConfig, InversionEncoder
from inpaint.tensors import to_tensor
from inpaint.training import distributed
from inpaint.training.trainers.base import InpaintingTrainer, TrainingData


def build_inverter(params: InversionParams, resolution: int, networks: dict[str, nn.Module],
                   device: torch.device) -> GanInverter:
    """A new E_z (seeded by `params.seed`) around the trained `generator`, `discriminator` and
    `decoder` of `networks`."""
    torch.manual_seed(params.seed)
    generator = networks["generator"]
    cfg = InversionConfig(resolution=resolution, z_dim=generator.cfg.z_dim, width=params.width,
                          mask_input=params.mask_input)
    return GanInverter(InversionEncoder(cfg).to(device), generator, networks["decoder"],
                       networks["discriminator"], params.hole_fill)


class InversionTrainer(InpaintingTrainer):
    """One training step of E_z through Dec(G(.)), and optionally of G and Dec (see the module
    docstring); `features` is the perceptual term's network (needed when its weight is > 0).
    `data` may be None for a trainer that is only stepped (tests, benchmarks)."""
    stage = "train_inversion"
    early_stop_metric = "val_l1"

    def __init__(self, model: GanInverter, params: InversionParams,
                 data: TrainingData | None = None, features: nn.Module | None = None,
                 device: torch.device | str = "cpu"):
        if params.perceptual_weight and features is None:
            raise ValueError("perceptual_weight > 0 needs the feature network")
        self.model, self.params, self.data, self.device = model, params, data, device
        self.features = features
        for net in (model.generator, model.decoder, model.discriminator):
            net.eval().requires_grad_(False)  # BatchNorm on its running statistics
        betas = tuple(params.betas)
        self.encoder = distributed.wrap(model.inversion_encoder, device)
        self.optimizers = {"adam": torch.optim.Adam(model.inversion_encoder.parameters(),
                                                    lr=params.lr, betas=betas)}
        self.modules = {"inversion_encoder": model.inversion_encoder}
        self.generator = self._tune(model.generator, "generator", "adam_g",
                                    params.generator_lr)
        self.decoder = self._tune(model.decoder, "decoder", "adam_dec", params.decoder_lr)
        self.batch_count = len(data.train) if data is not None else 0

    def _tune(self, net: nn.Module, name: str, optimizer: str, lr: float) -> nn.Module:
        """The view of `net` that the step calls: frozen as it is, or trained at `lr` > 0."""
        if lr <= 0:
            return net
        net.requires_grad_(True)  # its BatchNorm, if any, stays on the running statistics
        self.optimizers[optimizer] = torch.optim.Adam(net.parameters(), lr=lr,
                                                      betas=tuple(self.params.betas))
        self.modules[name] = net
        return self.view(net)

    def view(self, net: nn.Module) -> nn.Module:
        """What the step calls for a tuned G or Dec: its DDP view under torchrun."""
        return distributed.wrap(net, self.device)

    def examples(self) -> dict:
        x = to_tensor(self.data.val[:2], self.device)
        seen = self.model.encoder_input(x, torch.ones_like(x[:, :1]))
        z = torch.zeros(1, self.model.z_dim, device=self.device)
        with torch.no_grad():
            maps = self.model.generator(z)  # in eval mode: its statistics stay as they are

        def state(name: str) -> str:
            return " (tuned)" if name in self.modules else " (frozen)"

        return {"E_z": (self.model.inversion_encoder, seen),
                "G" + state("generator"): (self.model.generator, z),
                "Dec" + state("decoder"): (self.model.decoder, maps),
                "D (frozen)": (self.model.discriminator, maps)}

    def step(self, image: torch.Tensor, known: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimisation step on a batch; returns the losses (`loss`: the trained one)."""
        maps = self.generator(self.encoder(self.model.encoder_input(image, known)))
        return self.optimise(image, maps, self.decoder(maps))

    def optimise(self, image: torch.Tensor, maps: torch.Tensor, out: torch.Tensor,
                 extra: dict[str, tuple[float, torch.Tensor]] | None = None
                 ) -> dict[str, torch.Tensor]:
        """One step of every optimiser on L_p + lambda_r L_r (+ each weighted `extra` term)
        (+ the perceptual term) of G's `maps` and the output `out`; returns the terms."""
        terms = {"l_r": (out - image).abs().mean()}
        terms["l_p"] = (realism_loss(self.model.discriminator, maps).mean()
                        if self.params.realism_loss == "nonsaturating"
                        else torch.zeros((), device=image.device))
        loss = terms["l_p"] + self.params.lambda_r * terms["l_r"]
        for name, (weight, term) in (extra or {}).items():
            terms[name] = term
            loss = loss + weight * term
        if self.params.perceptual_weight:
            with torch.no_grad():
                wanted = self.features(image)
            terms["l_perceptual"] = sum(F.l1_loss(f, w)
                                        for f, w in zip(self.features(out), wanted))
            loss = loss + self.params.perceptual_weight * terms["l_perceptual"]
        for optimizer in self.optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for optimizer in self.optimizers.values():
            optimizer.step()
        return {"loss": loss, **terms}

    def epoch_log(self) -> dict[str, float]:
        return {"lr": self.optimizers["adam"].param_groups[0]["lr"]}

    def fill(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        return self.model(image, known)

    @property
    def fill_module(self) -> nn.Module:
        return self.model.inversion_encoder

    def damaged(self, image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        return self.model.damaged(image, known)
