"""LaMa, retrained as a baseline: Fourier convolutions, the generator and discriminator, LaMa's
training masks, its losses and its trainer."""
from __future__ import annotations

import warnings

import lpips
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from inpaint.baselines.lama import (LAMA_MAX_HOLE, NETWORKS, FourierUnit, LamaConfig,
                                    LamaDiscriminator, LamaGenerator, lama_masks)
from inpaint.config import LamaParams
from inpaint.pretrained import load_networks, save_networks
from inpaint.training.losses import AlexFeatures
from inpaint.training.trainers.base import TrainingData
from inpaint.training.trainers.lama import (LamaTrainer, lama_discriminator_loss,
                                            lama_generator_loss)
from synthetic import smooth_batch


pytestmark = pytest.mark.usefixtures("one_thread_seeded")


@pytest.fixture(scope="module")
def features() -> AlexFeatures:
    # an untrained AlexNet (no download) is enough to check the loss is optimised
    with warnings.catch_warnings():  # lpips passes torchvision's deprecated `pretrained`
        warnings.simplefilter("ignore", UserWarning)
        return AlexFeatures(lpips.LPIPS(net="alex", pretrained=False, pnet_rand=True,
                                        verbose=False))


def _batch(count: int = 2, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    image = torch.rand(count, 3, size, size) * 2 - 1
    known = (torch.rand(count, 1, size, size) > 0.4).float()
    return image, known


def _data(resolution: int = 32, count: int = 8) -> TrainingData:
    """Random uint8 images, no mask pool (LaMa draws its own masks)."""
    images = np.random.default_rng(0).integers(0, 256, (count, resolution, resolution, 3),
                                               dtype=np.uint8)
    return TrainingData(images, images)


def _params(**changes) -> LamaParams:
    return LamaParams(**{"width": 4, "blocks": 2, "disc_width": 4, "lr": 2e-3, **changes})


def test_fourier_unit_keeps_the_shape_and_sees_the_whole_image():
    unit = FourierUnit(4, 4).double().eval()  # eval: BN's fixed statistics, not the batch's
    with torch.no_grad():
        unit.bn.running_mean.uniform_(-0.1, 0.1)
    x = torch.randn(1, 4, 16, 16, dtype=torch.float64)
    y = unit(x)
    assert y.shape == x.shape
    x_changed = x.clone()
    x_changed[0, :, 3, 5] += 1.0
    changed = (unit(x_changed) - y).abs().amax(1)
    assert (changed > 1e-9).all(), "one input pixel changes every output pixel"
    conv = torch.nn.Conv2d(4, 4, 3, padding=1).double()
    local = (conv(x_changed) - conv(x)).abs().amax(1)
    assert (local == 0).sum() > 200, "unlike a 3x3 convolution's"


@pytest.mark.parametrize("resolution", [32, 64])
def test_generator_and_discriminator_shapes(resolution: int):
    cfg = LamaConfig(resolution, width=4, blocks=2, disc_width=4)
    assert cfg.downsamplings == 3 and cfg.channels() == [4, 8, 16, 32]
    image, known = _batch(2, resolution)
    out = LamaGenerator(cfg).inpaint(image, known)
    assert out.shape == (2, 3, resolution, resolution)
    assert out.abs().max() <= 1
    discriminator = LamaDiscriminator(cfg)
    logits, maps = discriminator.features(image)
    assert logits.shape[:2] == (2, 1) and logits.shape[-1] == logits.shape[-2] > 1
    assert len(maps) == cfg.disc_layers + 1 == (1 if resolution == 32 else 2) + 1
    assert all(m.shape[0] == 2 and m.dim() == 4 for m in maps)
    assert torch.equal(discriminator(image), logits)


def test_small_resolutions_downsample_less_and_large_ones_run():
    assert LamaConfig(16).downsamplings == 2
    assert LamaConfig(256).disc_layers == 4 and LamaConfig(1024).disc_layers == 4
    cfg = LamaConfig(256, width=4, blocks=1, disc_width=4)
    image, known = _batch(1, 256)
    with torch.no_grad():
        assert LamaGenerator(cfg).eval().inpaint(image, known).shape == (1, 3, 256, 256)
        assert LamaDiscriminator(cfg).eval()(image).dim() == 4


@pytest.mark.parametrize("resolution", [32, 64])
def test_lama_masks_are_deterministic_binary_and_hold_holes_and_context(resolution: int):
    masks = lama_masks(24, resolution, torch.Generator().manual_seed(3))
    assert masks.shape == (24, 1, resolution, resolution)
    assert torch.equal(masks, lama_masks(24, resolution, torch.Generator().manual_seed(3)))
    assert not torch.equal(masks, lama_masks(24, resolution, torch.Generator().manual_seed(4)))
    assert set(masks.unique().tolist()) <= {0.0, 1.0}
    hole = 1 - masks.mean((1, 2, 3))
    assert (hole > 0).all() and (hole <= LAMA_MAX_HOLE).all()
    assert len({tuple(m.flatten().tolist()) for m in masks}) == 24, "every mask differs"


def test_masked_adversarial_losses_treat_known_patches_as_real():
    logits_real, logits_fake = torch.randn(2, 1, 5, 5), torch.randn(2, 1, 5, 5)
    no_hole, all_hole = torch.zeros(2, 1, 20, 20), torch.ones(2, 1, 20, 20)
    real = F.softplus(-logits_real).mean()
    assert torch.allclose(lama_discriminator_loss(logits_real, logits_fake, all_hole),
                          real + F.softplus(logits_fake).mean())
    assert torch.allclose(lama_discriminator_loss(logits_real, logits_fake, no_hole),
                          real + F.softplus(-logits_fake).mean())
    assert lama_generator_loss(logits_fake, no_hole) == 0
    assert torch.allclose(lama_generator_loss(logits_fake, all_hole),
                          F.softplus(-logits_fake).mean())


def test_trainer_draws_lama_masks_deterministically(features):
    trainer = LamaTrainer(_params(), _data(), features)
    index = torch.tensor([3, 1, 4, 0])
    image, known = trainer.draw(index, torch.Generator().manual_seed(5))
    again = trainer.draw(index, torch.Generator().manual_seed(5))
    assert image.shape == (4, 3, 32, 32) and known.shape == (4, 1, 32, 32)
    assert torch.equal(known, again[1]) and torch.equal(image, again[0])
    assert torch.equal(known, lama_masks(4, 32, torch.Generator().manual_seed(5)))


def test_a_tiny_lama_run_lowers_its_loss(features):
    trainer = LamaTrainer(_params(), _data(), features)
    image, known = smooth_batch()
    values = [trainer.step(image, known) for _ in range(30)]
    assert all(torch.isfinite(v["loss"]) for v in values)
    first, last = ({k: sum(v[k].item() for v in part) / 3 for k in ("loss", "l1_known")}
                   for part in (values[:3], values[-3:]))
    assert last["loss"] < 0.5 * first["loss"]
    assert last["l1_known"] < 0.8 * first["l1_known"]


def test_two_trainers_at_one_seed_step_identically(features):
    image, known = smooth_batch(4)
    weights = []
    for _ in range(2):
        torch.manual_seed(0)
        trainer = LamaTrainer(_params(), _data(), features)
        trainer.step(image, known)
        weights.append({f"{name}.{k}": v for name, m in trainer.modules.items()
                        for k, v in m.state_dict().items()})
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_save_and_load_give_identical_networks(tmp_path, features):
    trainer = LamaTrainer(_params(), _data(), features)
    trainer.step(*smooth_batch(4))  # moves BN's running statistics away from the defaults
    save_networks(tmp_path / "lama.pt", trainer.networks())
    loaded = load_networks(tmp_path / "lama.pt", NETWORKS)
    image, known = _batch(2)
    trainer.net.eval()
    trainer.discriminator.eval()
    with torch.no_grad():
        assert torch.equal(loaded["lama_generator"].inpaint(image, known),
                           trainer.fill(image, known))
        assert torch.equal(loaded["lama_discriminator"](image), trainer.discriminator(image))
    assert loaded["lama_generator"].cfg == trainer.net.cfg
