"""Network shapes at every supported size, and stored-model round trips."""
import json

import lpips
import pytest
import torch

from inpaint.config import ExtendedParams, InversionParams
from inpaint.paper.inversion import ExtendedInverter, GanInverter, feature_regulariser
from inpaint.paper.networks import (NETWORKS, AutoencoderConfig, Decoder, Discriminator, Encoder,
                                    ExtendedInversionConfig, ExtendedInversionEncoder, GanConfig,
                                    Generator, InversionConfig, InversionEncoder)
from inpaint.nn.flops import flops_per_image
from inpaint.pretrained import ModelFormatError, export_inpainter, load_networks, save_networks
from inpaint.training.losses import AlexFeatures
from inpaint.training.trainers.extended import ExtendedInversionTrainer
from inpaint.training.trainers.inversion import InversionTrainer


@pytest.mark.parametrize("res", [32, 64, 128, 256])
def test_shapes(res):
    x = torch.randn(2, 3, res, res)
    cfg = AutoencoderConfig(resolution=res)
    feature_map = Encoder(cfg)(x)
    assert feature_map.shape == (2, 16, res // 8, res // 8)
    assert feature_map.abs().max() <= 1  # Tanh
    assert Decoder(cfg)(feature_map).shape == x.shape
    gan = GanConfig(size=res // 8, z_dim=100, width=8)
    fake = Generator(gan)(torch.randn(2, 100))
    assert fake.shape == feature_map.shape
    assert Discriminator(gan)(fake).shape == (2,)
    assert InversionEncoder(InversionConfig(resolution=res, width=0.1))(x).shape == (2, 100)


def test_inversion_strides_reach_four_by_four_at_1024():
    cfg = InversionConfig(resolution=1024)
    assert cfg.strides() == [4, 2, 2, 2, 2, 2, 2]
    assert InversionConfig(resolution=32).strides() == [2, 2, 2, 1, 1, 1, 1]


def test_paper_widths_of_table_one():
    convs = [m for m in InversionEncoder(InversionConfig(resolution=64)).modules()
             if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 512, 512, 512]
    assert [c.kernel_size[0] for c in convs] == [7, 5, 5, 3, 3, 3, 3]


def test_flops_of_a_single_conv():
    conv = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, 1, 1))
    assert flops_per_image(conv, torch.zeros(1, 3, 10, 10)) == 2 * 100 * 8 * 3 * 9


def _tiny_networks(res=32):
    ae = AutoencoderConfig(resolution=res)
    gan = GanConfig(size=res // 8, width=8)
    inv = InversionConfig(resolution=res, width=0.1)
    return {"inversion_encoder": (inv, InversionEncoder(inv)), "generator": (gan, Generator(gan)),
            "discriminator": (gan, Discriminator(gan)), "decoder": (ae, Decoder(ae))}


def test_stage_file_round_trip(tmp_path):
    nets = _tiny_networks()
    save_networks(tmp_path / "m.pt", nets)
    loaded = load_networks(tmp_path / "m.pt", NETWORKS, ["generator"])
    z = torch.randn(3, 100)
    nets["generator"][1].eval()
    assert torch.equal(loaded["generator"](z), nets["generator"][1](z))
    with pytest.raises(ModelFormatError, match="no network 'encoder'"):
        load_networks(tmp_path / "m.pt", NETWORKS, ["encoder"])
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(ModelFormatError, match="bad.pt: cannot load"):
        load_networks(tmp_path / "bad.pt", NETWORKS)


def test_exported_model_loads_alone_and_checks_its_version(tmp_path):
    nets = _tiny_networks()
    export_inpainter(tmp_path / "model", nets, hole_fill=0.0)
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["resolution"] == 32 and config["z_dim"] == 100
    model = GanInverter.from_folder(tmp_path / "model")
    image, known = torch.rand(2, 3, 32, 32) * 2 - 1, torch.ones(2, 1, 32, 32)
    for _, net in nets.values():
        net.eval()
    expected = nets["decoder"][1](nets["generator"][1](nets["inversion_encoder"][1](image)))
    assert torch.allclose(model(image, known), expected)
    config["format_version"] = 99
    (tmp_path / "model" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFormatError, match="format version 99"):
        GanInverter.from_folder(tmp_path / "model")
    with pytest.raises(ModelFormatError, match="no config.json"):
        GanInverter.from_folder(tmp_path / "missing")


def test_an_encoder_with_mask_input_sees_the_hole_and_round_trips(tmp_path):
    """`mask_input`: E_z takes the known-mask as a 4th channel, so a hole differs from pixels
    that happen to have the hole-fill colour; the exported model keeps the setting."""
    nets = _tiny_networks()
    inv = InversionConfig(resolution=32, width=0.1, mask_input=True)
    nets["inversion_encoder"] = (inv, InversionEncoder(inv))
    export_inpainter(tmp_path / "model", nets, hole_fill=0.0)
    model = GanInverter.from_folder(tmp_path / "model")
    assert model.inversion_encoder.cfg.mask_input
    grey = torch.zeros(1, 3, 32, 32)  # mid-grey everywhere: I_M is the same with any hole
    hole = torch.ones(1, 1, 32, 32)
    hole[..., 8:24, 8:24] = 0
    assert torch.equal(model.damaged(grey, hole), grey)
    assert model.encoder_input(grey, hole).shape == (1, 4, 32, 32)
    assert not torch.equal(model.encode(grey, hole), model.encode(grey, torch.ones_like(hole)))


def _weights(module):
    return [p.detach().clone() for p in module.parameters()]


def _same(before, module):
    return all(torch.equal(a, b) for a, b in zip(before, module.parameters()))


@pytest.mark.parametrize("generator_lr, decoder_lr", [(0.0, 0.0), (1e-3, 0.0), (1e-3, 1e-3)])
def test_inversion_step_trains_g_and_dec_only_when_asked(generator_lr, decoder_lr):
    """The paper freezes G and Dec; `generator_lr` / `decoder_lr` > 0 tune them with E_z. D
    never moves, and G's BatchNorm keeps the GAN's running statistics either way."""
    torch.manual_seed(0)
    nets = {name: net for name, (_, net) in _tiny_networks().items()}
    model = GanInverter(nets["inversion_encoder"], nets["generator"], nets["decoder"],
                        nets["discriminator"], hole_fill=0.0)
    before = {name: _weights(net) for name, net in nets.items()}
    statistics = [b.clone() for b in model.generator.buffers()]
    params = InversionParams(lr=1e-3, betas=[0.9, 0.999], lambda_r=20.0,
                             generator_lr=generator_lr, decoder_lr=decoder_lr)
    trainer = InversionTrainer(model, params)
    image, known = torch.rand(4, 3, 32, 32) * 2 - 1, torch.ones(4, 1, 32, 32)
    known[..., 8:20, 8:20] = 0
    losses = trainer.step(image, known)
    assert set(losses) == {"loss", "l_r", "l_p"} and torch.isfinite(losses["loss"])
    assert not _same(before["inversion_encoder"], model.inversion_encoder)
    assert _same(before["generator"], model.generator) == (generator_lr == 0)
    assert _same(before["decoder"], model.decoder) == (decoder_lr == 0)
    assert _same(before["discriminator"], model.discriminator)
    assert all(torch.equal(a, b) for a, b in zip(statistics, model.generator.buffers()))
    assert ("generator" in trainer.modules) == (generator_lr > 0)
    assert ("decoder" in trainer.modules) == (decoder_lr > 0)


def test_perceptual_term_reaches_e_z():
    """`perceptual_weight` adds PConv's perceptual term (AlexNet relu1-relu3) on E_z's output,
    which alone moves E_z; without the feature network the trainer refuses it."""
    torch.manual_seed(0)
    nets = {name: net for name, (_, net) in _tiny_networks().items()}
    model = GanInverter(nets["inversion_encoder"], nets["generator"], nets["decoder"],
                        nets["discriminator"], hole_fill=0.0)
    features = AlexFeatures(lpips.LPIPS(net="alex", pretrained=False, pnet_rand=True,
                                        verbose=False))
    params = InversionParams(lr=1e-3, lambda_r=0.0, realism_loss="none", perceptual_weight=1.0)
    trainer = InversionTrainer(model, params, features=features)
    before = _weights(model.inversion_encoder)
    image, known = torch.rand(4, 3, 32, 32) * 2 - 1, torch.ones(4, 1, 32, 32)
    known[..., 8:20, 8:20] = 0
    losses = trainer.step(image, known)
    assert float(losses["loss"].detach()) == pytest.approx(
        float(losses["l_perceptual"].detach()))
    assert float(losses["l_perceptual"].detach()) > 0
    assert not _same(before, model.inversion_encoder)
    with pytest.raises(ValueError, match="feature network"):
        InversionTrainer(model, params)


def test_saving_the_same_networks_gives_the_same_bytes(tmp_path):
    """Stage outputs are reproducible byte for byte, whatever the temporary file was called."""
    nets = _tiny_networks()
    save_networks(tmp_path / "a.pt", nets)
    save_networks(tmp_path / "b" / "a.pt", nets)
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b" / "a.pt").read_bytes()


# ---------------------------------------------------------------- ours_extended (issue 29)

def _extended(res: int = 32, z_dim: int = 16, width: int = 8) -> ExtendedInverter:
    torch.manual_seed(0)
    ae, gan = AutoencoderConfig(resolution=res), GanConfig(size=res // 8, z_dim=z_dim,
                                                           width=width)
    cfg = ExtendedInversionConfig(resolution=res, z_dim=z_dim, width=0.1, mask_input=True,
                                  feature_channels=width, feature_size=res // 8)
    return ExtendedInverter(ExtendedInversionEncoder(cfg), Generator(gan), Decoder(ae),
                            Discriminator(gan), hole_fill=0.0)


@pytest.mark.parametrize("res", [64, 128])
def test_extended_code_shapes(res):
    model = _extended(res).eval()
    x, known = torch.rand(2, 3, res, res) * 2 - 1, torch.ones(2, 1, res, res)
    known[..., : res // 2, :] = 0
    z, offset = model.encode(x, known)
    assert z.shape == (2, 16) and offset.shape == (2, 8, res // 8, res // 8)
    assert model.generator.hidden(z).shape == offset.shape
    assert torch.equal(offset[..., : res // 16, :], torch.zeros_like(offset[..., : res // 16, :]))
    assert model(x, known).shape == x.shape
    # G's split is exact: output(hidden(z)) is forward(z)
    assert torch.equal(model.generator.output(model.generator.hidden(z)), model.generator(z))


def test_a_new_extended_encoder_starts_at_the_papers_code():
    model = _extended().eval()
    x, known = torch.rand(2, 3, 32, 32) * 2 - 1, torch.ones(2, 1, 32, 32)
    z, offset = model.encode(x, known)
    assert torch.equal(offset, torch.zeros_like(offset))
    assert torch.allclose(model(x, known), model.render(z))


def test_feature_regulariser_is_zero_only_when_the_code_adds_nothing_to_z():
    own = torch.randn(2, 8, 4, 4)
    assert feature_regulariser(own.clone(), own).item() == 0.0
    assert feature_regulariser(own + 0.5, own).item() == pytest.approx(0.25)


def test_an_extended_training_step_lowers_the_loss_on_a_fixed_batch():
    """Faces the untrained G can render (a code z and a feature offset of its own), damaged: the
    steps lower the loss, and G, Dec and D stay frozen."""
    model = _extended()
    with torch.no_grad():
        image = model.render_extended(torch.randn(8, 16), 3 * torch.randn(8, 8, 4, 4))
    known = torch.ones(8, 1, 32, 32)
    known[..., 8:20, 8:20] = 0
    params = ExtendedParams(lr=1e-2, feature_weight=1.0, realism_loss="none")
    trainer = ExtendedInversionTrainer(model, params)
    before = {name: _weights(getattr(model, name))
              for name in ("generator", "decoder", "discriminator")}
    losses = [trainer.step(image, known) for _ in range(40)]
    assert {"loss", "l_r", "l_features", "l_p"} == set(losses[0])
    assert float(losses[-1]["loss"].detach()) < 0.95 * float(losses[0]["loss"].detach())
    assert float(losses[-1]["l_features"].detach()) > 0, "the offset is in use"
    assert all(_same(weights, getattr(model, name)) for name, weights in before.items())


def test_extended_model_round_trips_and_an_older_model_still_loads_as_ours(tmp_path):
    model = _extended().eval()
    export_inpainter(tmp_path / "extended", model.networks(), 0.0)
    loaded = GanInverter.from_folder(tmp_path / "extended")
    assert isinstance(loaded, ExtendedInverter)
    x, known = torch.rand(2, 3, 32, 32) * 2 - 1, torch.ones(2, 1, 32, 32)
    known[..., 4:12, 4:12] = 0
    with torch.no_grad():
        assert torch.equal(loaded(x, known), model(x, known))
    # a model exported before the extended code existed: the paper's E_z, loaded as `ours`
    export_inpainter(tmp_path / "ours", _tiny_networks(), 0.0)
    ours = GanInverter.from_folder(tmp_path / "ours")
    assert type(ours) is GanInverter and ours(x, known).shape == x.shape
