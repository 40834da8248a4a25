"""The shared training loop: a step lowers the loss, resume is exact, the NaN guard fires."""
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import yaml

from conftest import ROOT
from inpaint.paper.networks import NETWORKS, AutoencoderConfig, Decoder, Encoder
from inpaint.pretrained import load_networks
from inpaint.training.loop import (Checkpoint, EarlyStop, NonFiniteLossError, fit,
                                   scale_learning_rates)


def test_one_step_lowers_the_autoencoder_loss():
    torch.manual_seed(0)
    cfg = AutoencoderConfig(resolution=32)
    encoder, decoder = Encoder(cfg), Decoder(cfg)
    x = torch.rand(8, 3, 32, 32) * 2 - 1
    opt = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=1e-3)
    losses = []
    for _ in range(2):
        loss = (decoder(encoder(x)) - x).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[1] < losses[0]


def _toy_fit(path, epochs, fail_at=None, nan_at=None):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    data = torch.randn(16, 4)

    def train_epoch(epoch, progress):
        if epoch == fail_at:
            raise KeyboardInterrupt
        gen = torch.Generator().manual_seed(epoch)
        x = data[torch.randperm(16, generator=gen)]
        loss = model(x).pow(2).mean() * (float("nan") if epoch == nan_at else 1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        progress({"loss": loss})
        return {"loss": loss.item()}

    checkpoint = Checkpoint(path, {"model": model}, {"adam": opt}, key="toy")
    return fit(epochs, train_epoch, checkpoint, lambda history: None), model


def test_fit_resumes_to_the_same_weights(tmp_path):
    _, uninterrupted = _toy_fit(tmp_path / "a.pt", 4)
    with pytest.raises(KeyboardInterrupt):
        _toy_fit(tmp_path / "b.pt", 4, fail_at=2)
    history, resumed = _toy_fit(tmp_path / "b.pt", 4)
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    assert torch.equal(uninterrupted.weight, resumed.weight)


def test_nan_guard_names_the_step_and_keeps_the_last_checkpoint(tmp_path):
    with pytest.raises(NonFiniteLossError, match="loss loss is nan at epoch 3, step 0"):
        _toy_fit(tmp_path / "c.pt", 5, nan_at=2)
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    assert state["epoch"] == 2


def _scored_fit(folder, epochs, scores, patience, fail_at=None, decay=None):
    """A toy fit whose evaluation reports scores[epoch] (lower is better), early-stopped; with
    `decay`, the learning rate is multiplied by it after each epoch without a new best."""
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def train_epoch(epoch, progress):
        if epoch == fail_at:
            raise KeyboardInterrupt
        loss = model(torch.ones(4, 2)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    stop = EarlyStop("score", patience, folder / "best.pt", {"model": model})
    evaluate = lambda epoch: {"score": scores[epoch]}  # noqa: E731
    on_stall = (lambda: scale_learning_rates([opt], decay)) if decay else None
    history = fit(epochs, train_epoch, Checkpoint(folder / "ckpt.pt", {"model": model},
                                                  {"sgd": opt}, "toy"),
                  lambda h: None, evaluate, stop, on_stall)
    return history, stop, model


def test_early_stop_keeps_the_best_weights_and_resumes_to_the_same_stop(tmp_path):
    scores = [5.0, 3.0, 4.0, 3.5, 1.0, 0.5]
    history, stop, model = _scored_fit(tmp_path / "a", 6, scores, patience=2)
    assert [row["epoch"] for row in history] == [1, 2, 3, 4], "two epochs without a new best"
    assert stop.best(history) == (2, 3.0)
    last = model.weight.detach().clone()
    stop.restore_best()
    assert not torch.equal(model.weight, last), "the best epoch's weights, not the last"
    (tmp_path / "b").mkdir()
    with pytest.raises(KeyboardInterrupt):
        _scored_fit(tmp_path / "b", 6, scores, patience=2, fail_at=3)
    resumed, stop_b, model_b = _scored_fit(tmp_path / "b", 6, scores, patience=2)
    assert [row["epoch"] for row in resumed] == [1, 2, 3, 4]
    stop_b.restore_best()
    assert torch.equal(model_b.weight, model.weight)
    (tmp_path / "c").mkdir()
    history, _, _ = _scored_fit(tmp_path / "c", 6, scores, patience=None)
    assert len(history) == 6, "no patience: every epoch"


def test_learning_rate_decays_after_each_epoch_without_a_new_best_and_resumes(tmp_path):
    scores = [5.0, 3.0, 4.0, 3.5, 1.0, 3.0]  # no new best at epochs 3, 4 and 6
    _, _, model = _scored_fit(tmp_path / "a", 6, scores, patience=None, decay=0.5)
    (tmp_path / "b").mkdir()
    with pytest.raises(KeyboardInterrupt):
        _scored_fit(tmp_path / "b", 6, scores, patience=None, fail_at=4, decay=0.5)
    _, _, resumed = _scored_fit(tmp_path / "b", 6, scores, patience=None, decay=0.5)
    assert torch.equal(resumed.weight, model.weight), "the decayed rate is checkpointed"
    state = torch.load(tmp_path / "b" / "ckpt.pt", weights_only=True)
    assert state["optimizers"]["sgd"]["param_groups"][0]["lr"] == pytest.approx(0.1 * 0.5 ** 3)
    (tmp_path / "c").mkdir()
    _, _, constant = _scored_fit(tmp_path / "c", 6, scores, patience=None)
    assert not torch.equal(constant.weight, model.weight), "without decay the steps differ"


def test_checkpoint_of_other_params_is_not_resumed(tmp_path):
    _toy_fit(tmp_path / "d.pt", 2)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.Adam(model.parameters())
    other = Checkpoint(tmp_path / "d.pt", {"model": model}, {"adam": opt}, "other")
    assert other.restore() == (0, [])


TINY = {
    "data": {"synthetic_count": 48, "resolution": 32, "test_count": 8},
    "masks": {"generated_count": 120},
    "ae": {"epochs": 8, "batch_size": 8, "lr": 0.001},
}


def _stage(cwd, name):
    return subprocess.run([sys.executable, str(ROOT / "stages" / name)], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_killed_stage_resumes_and_ends_at_the_same_weights(tmp_path):
    runs = {}
    for name in ("whole", "killed"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "params.yaml").write_text(yaml.safe_dump(TINY))
        for stage in ("prepare.py", "masks.py"):
            assert _stage(folder, stage).returncode == 0
        runs[name] = folder
    assert _stage(runs["whole"], "train_ae.py").returncode == 0

    process = subprocess.Popen([sys.executable, str(ROOT / "stages" / "train_ae.py")],
                               cwd=runs["killed"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    checkpoint = runs["killed"] / "checkpoints" / "train_ae.pt"
    deadline = time.time() + 300
    while not checkpoint.exists() and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert checkpoint.exists() and not (runs["killed"] / "models" / "ae.pt").exists()
    resumed = _stage(runs["killed"], "train_ae.py")
    assert resumed.returncode == 0 and "resuming after epoch" in resumed.stdout
    assert not checkpoint.exists(), "the checkpoint is removed once the stage is done"
    whole = load_networks(runs["whole"] / "models" / "ae.pt", NETWORKS)
    again = load_networks(runs["killed"] / "models" / "ae.pt", NETWORKS)
    for name in ("encoder", "decoder"):
        for a, b in zip(whole[name].state_dict().values(), again[name].state_dict().values()):
            assert torch.equal(a, b)
    tsv = np.genfromtxt(runs["killed"] / "plots/ae/losses.tsv", names=True, delimiter="\t")
    assert tsv["epoch"].tolist() == list(range(1, 9))
