"""The autoencoder E_R, Dec (the paper's stage 1a): L_a = ||Dec(E_R(I)) - I||_1, Adam."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from inpaint.config import AutoencoderParams
from inpaint.evaluation.scoring import batch_psnr
from inpaint.paper.networks import AutoencoderConfig, Decoder, Encoder
from inpaint.tensors import to_tensor, to_uint8
from inpaint.training import distributed
from inpaint.training.loop import take
from inpaint.training.trainers.base import Trainer, TrainingData

EVAL_LIMIT = 1000  # images scored per split: enough for a stable mean


class AutoencoderTrainer(Trainer):
    stage = "train_ae"

    def __init__(self, params: AutoencoderParams, data: TrainingData, device: torch.device):
        self.params, self.data, self.device = params, data, device
        torch.manual_seed(params.seed)
        self.cfg = AutoencoderConfig(resolution=data.resolution)
        self.encoder, self.decoder = Encoder(self.cfg).to(device), Decoder(self.cfg).to(device)
        self.autoencoder = distributed.wrap(nn.Sequential(self.encoder, self.decoder), device)
        self.optimizer = torch.optim.Adam([*self.encoder.parameters(),
                                           *self.decoder.parameters()],
                                          lr=params.lr, betas=tuple(params.betas))
        self.modules = {"encoder": self.encoder, "decoder": self.decoder}
        self.optimizers = {"adam": self.optimizer}
        self.batch_count = len(data.train)

    def networks(self) -> dict:
        return {"encoder": (self.cfg, self.encoder), "decoder": (self.cfg, self.decoder)}

    def examples(self) -> dict:
        x = to_tensor(self.data.val[:1], self.device)
        return {"E_R": (self.encoder, x), "Dec": (self.decoder, self.encoder(x).detach())}

    def draw(self, index: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor]:
        return (to_tensor(take(self.data.train, distributed.shard(index)), self.device),)

    def step(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        loss = F.l1_loss(self.autoencoder(x), x)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"train_l1": loss}

    def validate(self, epoch: int) -> dict[str, float]:
        scores = self.scores(self.data.val)
        return {"val_l1": scores["l1"], "val_psnr": scores["psnr"]}

    @torch.no_grad()
    def scores(self, images: np.ndarray, batch_size: int = 100) -> dict[str, float]:
        """Mean L1 (in [-1, 1] units) and PSNR (dB, uint8) of reconstructions of (at most
        EVAL_LIMIT of) `images`."""
        self.encoder.eval(), self.decoder.eval()
        l1, psnr = [], []
        for start in range(0, min(len(images), EVAL_LIMIT), batch_size):
            x = to_tensor(images[start:start + batch_size], self.device)
            out = self.decoder(self.encoder(x))
            l1.append((out - x).abs().flatten(1).mean(1))
            psnr.append(batch_psnr(out, x))
        self.encoder.train(), self.decoder.train()
        return {"l1": torch.cat(l1).mean().item(), "psnr": torch.cat(psnr).mean().item()}

    @torch.no_grad()
    def reconstructions(self, count: int = 8) -> np.ndarray:
        """The first `count` validation images over their reconstructions (2 x count)."""
        images = self.data.val[:count]
        out = to_uint8(self.decoder(self.encoder(to_tensor(images, self.device))))
        return np.concatenate([images, out])
