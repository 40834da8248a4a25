"""The CoModGAN baseline: co-modulated generator, residual discriminator, training, loading."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from inpaint.baselines.comodgan import (NETWORKS, CoModDiscriminator, CoModDiscriminatorConfig,
                                        CoModGanConfig, CoModGenerator, latent, minibatch_stddev)
from inpaint.baselines.networks import masked_input
from inpaint.config import CoModGanParams
from inpaint.pretrained import load_networks, save_networks
from inpaint.training.losses import r1_penalty
from inpaint.training.trainers.base import TrainingData
from inpaint.training.trainers.comodgan import CoModGanTrainer
from synthetic import smooth_batch

TINY = dict(width=4, disc_width=4, z_dim=16, mapping_layers=2)


pytestmark = pytest.mark.usefixtures("one_thread_seeded")


def _data(resolution: int = 32) -> TrainingData:
    """Random uint8 images and masks, with a validation pairing of two buckets."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, resolution, resolution, 3), dtype=np.uint8)
    masks = np.ones((4, resolution, resolution), np.uint8)
    masks[:, 4:12, 8:20] = 0
    pairs = pd.DataFrame({"image_index": [0, 1, 2, 3], "eval_mask_index": [0, 1, 2, 3],
                          "bucket": ["small", "small", "large", "large"]})
    return TrainingData(images, images[:4], masks, masks, pairs)


@pytest.mark.parametrize("resolution", [32, 64])
def test_shapes(resolution: int):
    image, known = smooth_batch(3, resolution)
    net = CoModGenerator(CoModGanConfig(resolution, width=4, z_dim=16))
    out = net.inpaint(image, known)
    assert out.shape == (3, 3, resolution, resolution)
    assert len(net.noise_resolutions) == len(net.synthesis)
    assert net.noise_resolutions[-1] == resolution
    disc = CoModDiscriminator(CoModDiscriminatorConfig(resolution, width=4))
    assert disc(masked_input(image, known)).shape == (3,), "one logit per image"
    cfg = CoModGanConfig(resolution, width=4)
    assert cfg.channels(resolution) == 4 and cfg.channels(4) == 32, "doubling, capped at 8 x"


def test_256_px_constructs_and_runs():
    image, known = smooth_batch(1, 256)
    net = CoModGenerator(CoModGanConfig(256, width=4, z_dim=16))
    with torch.no_grad():
        assert net.inpaint(image, known).shape == (1, 3, 256, 256)
        disc = CoModDiscriminator(CoModDiscriminatorConfig(256, width=4))
        assert disc(masked_input(image, known)).shape == (1,)
    with pytest.raises(ValueError):
        CoModGanConfig(48)


def test_latent_is_one_row_per_seed():
    z = latent(3, 5, 16)
    assert z.shape == (3, 16) and torch.equal(z[0], z[2])
    assert torch.equal(latent(1, 5, 16)[0], z[0])
    assert not torch.equal(latent(1, 6, 16), latent(1, 5, 16))


def test_same_seed_same_output_and_z_changes_the_hole():
    image, known = smooth_batch(3)
    net = CoModGenerator(CoModGanConfig(32, width=4, z_dim=16)).eval()
    with torch.no_grad():
        out = net.inpaint(image, known)
        assert torch.equal(out, net.inpaint(image, known)), "z=None: the seed-0 latent"
        assert torch.equal(out, net.inpaint(image, known, latent(3, 0, 16)))
        # an image's output does not depend on its batch
        assert torch.allclose(net.inpaint(image[1:2], known[1:2]), out[1:2], atol=1e-5)
        other = net.inpaint(image, known, latent(3, 1, 16))
    hole = known.expand_as(out) == 0
    assert (out - other)[hole].abs().mean() > 1e-4, "a different z fills the hole differently"


def test_noise_inputs_are_fixed_unless_given():
    image, known = smooth_batch(2)
    net = CoModGenerator(CoModGanConfig(32, width=4, z_dim=16))
    with torch.no_grad():
        for layer in net.synthesis:
            layer.noise_strength.fill_(0.5)
        x, z = masked_input(image, known), latent(2, 0, 16)
        fixed = net(x, z)
        assert torch.equal(fixed, net(x, z))
        fresh = net(x, z, net.draw_noise(2, torch.Generator().manual_seed(3)))
        assert not torch.allclose(fixed, fresh)


def test_minibatch_stddev_adds_one_channel():
    x = torch.randn(6, 5, 4, 4)
    y = minibatch_stddev(x)
    assert y.shape == (6, 6, 4, 4)
    assert torch.equal(y[:, :5], x)
    assert minibatch_stddev(torch.randn(1, 5, 4, 4)).shape == (1, 6, 4, 4)


def test_r1_penalty_is_positive_and_differentiable():
    image, known = smooth_batch(4)
    disc = CoModDiscriminator(CoModDiscriminatorConfig(32, width=4))
    logits, r1 = r1_penalty(lambda x: disc(torch.cat([x, known], 1)), image)
    assert logits.shape == (4,) and r1.item() > 0
    r1.backward()
    grads = [p.grad for p in disc.parameters() if p.grad is not None]
    assert grads and sum(g.abs().sum() for g in grads) > 0


def test_reconstruction_weight_lowers_the_l1_on_a_fixed_batch():
    params = CoModGanParams(**TINY, lr=2e-3, reconstruction_weight=10.0)
    trainer = CoModGanTrainer(params, _data())
    image, known = smooth_batch(8)
    l1 = [trainer.step(image, known)["l1"].item() for _ in range(30)]
    assert sum(l1[-3:]) / 3 < 0.7 * sum(l1[:3]) / 3


def test_training_is_deterministic_and_validates(tmp_path):
    data = _data()
    trainers = [CoModGanTrainer(CoModGanParams(**TINY, batch_size=4), data) for _ in range(2)]
    for trainer in trainers:
        torch.manual_seed(123)  # the global generator must not matter
        trainer.train_epoch(0, lambda losses: None)
    for name in trainers[0].modules:
        for a, b in zip(trainers[0].modules[name].state_dict().values(),
                        trainers[1].modules[name].state_dict().values()):
            assert torch.equal(a, b)
    scores = trainers[0].validate(0)
    assert set(scores) == {"val_l1", "val_psnr"} and np.isfinite(scores["val_l1"])
    assert trainers[0].net.training, "validation restores the training mode"

    # the save/load round trip gives identical outputs
    save_networks(tmp_path / "comodgan.pt", trainers[0].networks())
    loaded = load_networks(tmp_path / "comodgan.pt", NETWORKS)
    image, known = smooth_batch(2)
    net = trainers[0].net.eval()
    with torch.no_grad():
        assert torch.equal(loaded["comodgan_generator"].inpaint(image, known),
                           net.inpaint(image, known))
        x = masked_input(image, known)
        assert torch.equal(loaded["comodgan_discriminator"](x), trainers[0].discriminator(x))
