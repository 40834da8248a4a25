"""HiFill (Yi et al. 2020) retrained: attention scores and transfer, the generator, its training."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from inpaint.nn.attention import attention_scores, known_cells, transfer
from inpaint.baselines.hifill import (NETWORKS, HiFillConfig, HiFillGenerator, LightGatedConv2d,
                                      attention_transfer)
from inpaint.baselines.networks import masked_input
from inpaint.config import HiFillParams
from inpaint.pretrained import load_networks, save_networks
from inpaint.training.trainers.base import TrainingData
from inpaint.training.trainers.hifill import HiFillTrainer
from synthetic import smooth_batch


pytestmark = pytest.mark.usefixtures("one_thread_seeded")


def _known(n: int = 2, size: int = 32) -> torch.Tensor:
    """A rectangular hole, different per image, not aligned with 4 x 4 cells."""
    known = torch.ones(n, 1, size, size)
    for i in range(n):
        known[i, :, 5 + i:19 + i, 9:23 - i] = 0
    return known


# ---------------------------------------------------------------- attention.py

def test_known_cells_are_the_cells_without_any_hole_pixel():
    known = torch.ones(1, 1, 8, 8)
    known[..., 3, 5] = 0  # one pixel of cell (0, 1) of a 2 x 2 grid of 4 x 4 cells
    assert known_cells(known, (2, 2)).flatten().tolist() == [1, 0, 1, 1]


def test_scores_are_a_softmax_over_the_source_cells():
    features = torch.randn(2, 5, 6, 6)
    source = known_cells(_known(2, 24), (6, 6))
    assert 0 < source.sum() < source.numel()
    scores = attention_scores(features, source)
    assert scores.shape == (2, 36, 36)
    assert torch.allclose(scores.sum(2), torch.ones(2, 36), atol=1e-5)
    off_source = (source.flatten(1) < 0.5)[:, None, :].expand_as(scores)
    assert (scores[off_source] == 0).all()
    assert (scores >= 0).all()


def test_transfer_with_identity_scores_returns_its_input():
    values = torch.randn(2, 3, 16, 16)
    identity = torch.eye(16)[None].expand(2, -1, -1)
    assert torch.allclose(transfer(values, identity, (4, 4)), values)  # 4 x 4 pixel cells
    assert torch.allclose(transfer(values, torch.eye(256)[None].expand(2, -1, -1), (16, 16)),
                          values)


def test_an_image_without_source_cells_gives_zeros_not_nan():
    features = torch.randn(2, 4, 4, 4)
    source = torch.ones(2, 1, 4, 4)
    source[1] = 0  # image 1 has no known cell
    scores = attention_scores(features, source)
    assert not scores.isnan().any()
    assert (scores[1] == 0).all() and torch.allclose(scores[0].sum(1), torch.ones(16))
    moved = transfer(torch.randn(2, 3, 8, 8), scores, (4, 4))
    assert not moved.isnan().any() and (moved[1] == 0).all()


# ---------------------------------------------------------------- the ATM and the generator

@pytest.mark.parametrize("size", [8, 16, 32])  # the grid's own map and finer ones
def test_the_atm_keeps_known_cells_and_fills_holes_from_known_cells_only(size: int):
    grid = (8, 8)
    known = _known(2, 32)
    cell_known = known_cells(known, grid)
    scores = attention_scores(torch.randn(2, 6, *grid), cell_known)
    keep = torch.nn.functional.interpolate(cell_known, size=(size, size)) > 0.5
    features = torch.randn(2, 3, size, size)
    out = attention_transfer(features, scores, cell_known)
    assert torch.equal(out[keep.expand_as(out)], features[keep.expand_as(out)])
    # hole cells: a convex combination of known cells. Known cells set to one value per
    # channel and hole cells to a huge one: the filled cells take exactly the known value.
    values = torch.randn(1, 3, 1, 1).expand(2, -1, size, size)
    planted = torch.where(keep, values, torch.full_like(values, 1e4))
    out = attention_transfer(planted, scores, cell_known)
    assert torch.allclose(out, values, atol=1e-3)
    # and each filled cell lies within the known cells' range, channel by channel
    out = attention_transfer(features, scores, cell_known)
    for i in range(2):
        k = keep[i, 0]
        for c in range(3):
            low, high = features[i, c][k].min(), features[i, c][k].max()
            hole = out[i, c][~k]
            assert (hole >= low - 1e-5).all() and (hole <= high + 1e-5).all()


def test_light_gated_convolutions():
    x = torch.randn(2, 6, 16, 16)
    ds, sc = LightGatedConv2d(6, 10, gate="ds"), LightGatedConv2d(6, 10, gate="sc")
    assert ds(x).shape == sc(x).shape == (2, 10, 16, 16)
    assert ds.gate[0].groups == 6 and sc.gate.out_channels == 1
    assert LightGatedConv2d(6, 4, stride=2)(x).shape == (2, 4, 8, 8)
    assert LightGatedConv2d(6, 4, up=True)(x).shape == (2, 4, 32, 32)
    assert LightGatedConv2d(6, 4, dilation=4)(x).shape == (2, 4, 16, 16)


@pytest.mark.parametrize("resolution, grid, levels", [(32, 8, 2), (64, 16, 2)])
def test_generator_shapes(resolution: int, grid: int, levels: int):
    cfg = HiFillConfig(resolution, width=4)
    assert (cfg.grid, cfg.levels) == (grid, levels)
    image = torch.rand(2, 3, resolution, resolution) * 2 - 1
    known = _known(2, resolution)
    net = HiFillGenerator(cfg)
    coarse, refined = net(masked_input(image, known))
    assert coarse.shape == refined.shape == (2, 3, resolution, resolution)
    assert refined.abs().max() <= 1 and coarse.abs().max() <= 1
    assert torch.equal(net.inpaint(image, known), refined)
    scores = net.attention(image, known)
    assert scores.shape == (2, grid ** 2, grid ** 2)
    assert torch.allclose(scores.sum(2), torch.ones(2, grid ** 2), atol=1e-5)


def test_large_resolutions_use_hifill_grid():
    cfg = HiFillConfig(256, width=4)
    assert (cfg.grid, cfg.levels) == (32, 3)
    assert HiFillConfig(512).levels == 4 and HiFillConfig(1024).grid == 32
    image = torch.zeros(1, 3, 256, 256)
    with torch.no_grad():
        out = HiFillGenerator(cfg).inpaint(image, _known(1, 256))
    assert out.shape == (1, 3, 256, 256) and not out.isnan().any()


# ---------------------------------------------------------------- training


def _data(resolution: int) -> TrainingData:
    images = np.zeros((2, resolution, resolution, 3), np.uint8)
    return TrainingData(images, images)


PARAMS = HiFillParams(width=4, disc_width=8, lr=2e-3, betas=[0.5, 0.999], gan_weight=0.1)


def test_a_tiny_hifill_run_lowers_its_reconstruction_loss():
    trainer = HiFillTrainer(PARAMS, _data(32))
    assert set(trainer.modules) == {"hifill_generator", "hifill_discriminator"}
    image, known = smooth_batch()
    values = [trainer.step(image, known)["l1"].item() for _ in range(40)]
    assert sum(values[-3:]) / 3 < 0.7 * sum(values[:3]) / 3


def test_training_is_deterministic_at_a_seed():
    image, known = smooth_batch(4)
    weights = []
    for _ in range(2):
        torch.manual_seed(3)
        trainer = HiFillTrainer(PARAMS, _data(32))
        trainer.step(image, known)
        weights.append(torch.cat([p.detach().flatten() for m in trainer.modules.values()
                                  for p in m.parameters()]))
    assert torch.equal(*weights)


def test_save_and_load_round_trip(tmp_path):
    trainer = HiFillTrainer(PARAMS, _data(32))
    image, known = smooth_batch(2)
    trainer.step(image, known)
    save_networks(tmp_path / "hifill.pt", trainer.networks())
    loaded = load_networks(tmp_path / "hifill.pt", NETWORKS)
    assert set(loaded) == {"hifill_generator", "hifill_discriminator"}
    trainer.net.eval()
    x = masked_input(image, known)
    with torch.no_grad():
        assert torch.equal(loaded["hifill_generator"].inpaint(image, known),
                           trainer.net.inpaint(image, known))
        assert torch.equal(loaded["hifill_discriminator"](x), trainer.discriminator.eval()(x))
