"""The retrained baselines: partial convolution, gated convolution, their training and loading."""
from __future__ import annotations

import warnings

import lpips
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from inpaint.training.losses import AlexFeatures
from inpaint.baselines.networks import (GatedConfig, GatedConv2d, GatedGenerator, PartialConv2d,
                                        PatchDiscriminator, PatchGanConfig, PConvConfig, PConvUNet,
                                        masked_input)
from inpaint.baselines.learned import Baseline
from inpaint.config import GatedConvParams, PConvParams
from inpaint.pretrained import save_networks
from inpaint.training.trainers.base import TrainingData
from inpaint.training.trainers.gatedconv import GatedConvTrainer
from inpaint.training.trainers.pconv import PConvTrainer
from synthetic import smooth_batch


pytestmark = pytest.mark.usefixtures("one_thread_seeded")


def _conv(in_ch: int = 2, out_ch: int = 3) -> PartialConv2d:
    conv = PartialConv2d(in_ch, out_ch, 3)
    with torch.no_grad():
        conv.bias.uniform_(0.5, 1.0)  # a non-zero bias must not leak into empty windows
    return conv


def test_partial_conv_is_zero_where_the_window_holds_no_valid_pixel():
    conv = _conv()
    x = torch.randn(1, 2, 12, 12)
    mask = torch.ones(1, 1, 12, 12)
    mask[..., 3:9, 3:9] = 0  # the 3x3 windows centred in 4:8 see only holes
    out, new_mask = conv(x, mask)
    assert (out[..., 4:8, 4:8] == 0).all() and (new_mask[..., 4:8, 4:8] == 0).all()
    assert (new_mask[..., 3, 3:9] == 1).all(), "a window touching a valid pixel becomes valid"
    assert (out[..., 3, 3:9] != 0).all()
    x_changed = x.clone()
    x_changed[..., 3:9, 3:9] = 100.0
    assert torch.equal(conv(x_changed, mask)[0], out), "hole pixels' values are ignored"


def test_partial_conv_with_a_full_mask_is_the_convolution_scaled_by_window_size_over_valid():
    conv = _conv()
    x = torch.randn(2, 2, 10, 10)
    out, new_mask = conv(x, torch.ones(2, 1, 10, 10))
    assert (new_mask == 1).all()
    plain = F.conv2d(x, conv.conv.weight, conv.bias, padding=1)
    # sum(1) / sum(M) = 1 where the window lies inside the image: an ordinary convolution
    assert torch.allclose(out[..., 1:-1, 1:-1], plain[..., 1:-1, 1:-1], atol=1e-6)
    # at the border, zero padding counts as holes: the bias-free part is scaled by 9 / valid
    valid = F.conv2d(torch.ones(1, 1, 10, 10), torch.ones(1, 1, 3, 3), padding=1)
    no_bias = F.conv2d(x, conv.conv.weight, padding=1)
    expected = no_bias * 9 / valid + conv.bias.view(1, -1, 1, 1)
    assert torch.allclose(out, expected, atol=1e-5)
    assert valid[0, 0, 0, 0] == 4 and valid[0, 0, 0, 5] == 6


def test_partial_conv_per_channel_mask_matches_the_shared_mask():
    conv = _conv()
    x = torch.randn(1, 2, 8, 8)
    mask = (torch.rand(1, 1, 8, 8) > 0.5).float()
    shared, shared_mask = conv(x, mask)
    per_channel, per_channel_mask = conv(x, mask.expand(-1, 2, -1, -1))
    assert torch.allclose(shared, per_channel, atol=1e-6)
    assert torch.equal(shared_mask, per_channel_mask)


@pytest.mark.parametrize("resolution", [32, 64])
def test_gated_and_pconv_shapes(resolution: int):
    image = torch.rand(2, 3, resolution, resolution) * 2 - 1
    known = (torch.rand(2, 1, resolution, resolution) > 0.4).float()
    x = masked_input(image, known)
    assert GatedConv2d(4, 6)(x).shape == (2, 6, resolution, resolution)
    assert GatedConv2d(4, 6, 3, stride=2)(x).shape == (2, 6, resolution // 2, resolution // 2)
    assert GatedConv2d(4, 6, 3, dilation=4)(x).shape == (2, 6, resolution, resolution)
    cfg = GatedConfig(resolution, width=4)
    assert cfg.dilations == ((2, 4) if resolution == 32 else (2, 4, 8))
    coarse, refined = GatedGenerator(cfg)(x)
    assert coarse.shape == refined.shape == (2, 3, resolution, resolution)
    assert refined.abs().max() <= 1
    assert PConvUNet(PConvConfig(resolution, width=4))(x).shape == (2, 3, resolution, resolution)
    logits = PatchDiscriminator(PatchGanConfig(resolution, width=4))(x)
    assert logits.shape == (2, 16 * 4 * 4), "a 4 x 4 map of patch logits"


def _data(resolution: int) -> TrainingData:
    """What a trainer reads of its data when it is only stepped: the resolution."""
    images = np.zeros((2, resolution, resolution, 3), np.uint8)
    return TrainingData(images, images)


def _first_and_last(trainer, key: str, steps: int) -> tuple[float, float]:
    image, known = smooth_batch()
    values = [trainer.step(image, known)[key].item() for _ in range(steps)]
    return sum(values[:3]) / 3, sum(values[-3:]) / 3


def test_a_tiny_pconv_run_lowers_its_loss():
    # an untrained AlexNet (no download) is enough to check the loss is optimised
    with warnings.catch_warnings():  # lpips passes torchvision's deprecated `pretrained`
        warnings.simplefilter("ignore", UserWarning)
        features = AlexFeatures(lpips.LPIPS(net="alex", pretrained=False, pnet_rand=True,
                                            verbose=False))
    trainer = PConvTrainer(PConvParams(width=8, lr=2e-3, betas=[0.9, 0.999]), _data(32), features)
    first, last = _first_and_last(trainer, "loss", steps=25)
    assert last < 0.5 * first


def test_a_tiny_gatedconv_run_lowers_its_reconstruction_loss():
    params = GatedConvParams(width=4, disc_width=8, lr=2e-3, betas=[0.5, 0.999], gan_weight=1.0)
    trainer = GatedConvTrainer(params, _data(32))
    first, last = _first_and_last(trainer, "l1", steps=40)
    assert last < 0.7 * first


@pytest.mark.parametrize("name", ["pconv", "gatedconv"])
def test_load_baseline_gives_the_trained_network_as_a_function(tmp_path, name: str):
    net = (PConvUNet(PConvConfig(32, width=4)) if name == "pconv"
           else GatedGenerator(GatedConfig(32, width=4)))
    key = "pconv_unet" if name == "pconv" else "gated_generator"
    save_networks(tmp_path / f"{name}.pt", {key: (net.cfg, net)})
    inpaint = Baseline(name, tmp_path / f"{name}.pt", "cpu")
    image, known = smooth_batch(2)
    net.eval()
    with torch.no_grad():
        expected = net.inpaint(image, known).clamp(-1, 1)
    assert torch.allclose(inpaint(image, known), expected, atol=1e-6)
    with pytest.raises(ValueError, match="unknown baseline"):
        Baseline("deepfill", tmp_path / f"{name}.pt")
