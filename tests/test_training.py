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
from inpaint.models import AutoencoderConfig, Decoder, Encoder
from inpaint.pretrained import load_networks
from inpaint.training import Checkpoint, NonFiniteLossError, fit


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
    whole = load_networks(runs["whole"] / "models" / "ae.pt")
    again = load_networks(runs["killed"] / "models" / "ae.pt")
    for name in ("encoder", "decoder"):
        for a, b in zip(whole[name].state_dict().values(), again[name].state_dict().values()):
            assert torch.equal(a, b)
    tsv = np.genfromtxt(runs["killed"] / "plots/ae/losses.tsv", names=True, delimiter="\t")
    assert tsv["epoch"].tolist() == list(range(1, 9))
