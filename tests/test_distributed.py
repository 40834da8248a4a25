"""Distributed training and the speed switches.

Two gloo processes (OMP_NUM_THREADS=1 each) with the same global batch as one process:
- one step's gradients and BatchNorm statistics of E_z through DDP and the synchronised
  BatchNorm equal one process's within 1e-5 relative (measured ~1.5e-6: summation order);
- the real train_ae and train_inversion stages (G and Dec tuned with E_z) on a tiny config
  end at the same weights and metrics. Adam divides by sqrt(v), so where a gradient is at
  rounding level its update is still ~lr and a few weights drift apart by up to ~lr (more
  with larger lr or more steps).
  Tolerances: per-tensor ||w1 - w2|| / ||w2|| <= 2e-3 (measured <= 4.3e-4) and logged
  losses and metrics within 1e-4 relative (measured <= 5e-6).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import yaml

from conftest import ROOT, run_stage
from inpaint.training import distributed
from inpaint.paper.networks import (NETWORKS, AutoencoderConfig, Decoder, Encoder, InversionConfig,
                                    InversionEncoder)
from inpaint.pretrained import load_networks

WEIGHT_RTOL, FIGURE_RTOL, GRADIENT_RTOL = 2e-3, 1e-4, 1e-5
TINY = {
    "data": {"source": "synthetic", "synthetic_count": 80, "resolution": 32,
             "test_fraction": 0.2, "seed": 0},
    "masks": {"source": "generated", "generated_count": 200, "eval_fraction": 0.5, "seed": 0},
    "ae": {"epochs": 2, "batch_size": 16, "lr": 0.001, "betas": [0.9, 0.999], "seed": 0},
    "gan": {"epochs": 1, "batch_size": 16, "lr": 0.0002, "betas": [0.5, 0.999], "seed": 0,
            "z_dim": 16, "width": 8},
    "inversion": {"epochs": 2, "batch_size": 16, "lr": 0.0003, "betas": [0.9, 0.999], "seed": 0,
                  "width": 0.05, "lambda_r": 20.0, "realism_loss": "nonsaturating",
                  "hole_fill": 0.0, "generator_lr": 0.0003, "decoder_lr": 0.0003,
                  "lr_decay": 0.5},
}
TWO_PROCESSES = ("--standalone", "--nproc_per_node", "2")


def _torchrun(stage: str, cwd: Path) -> subprocess.CompletedProcess:
    """`torchrun --standalone --nproc_per_node 2 stages/<stage>.py` (a free port each time)."""
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", *TWO_PROCESSES,
         str(ROOT / "stages" / f"{stage}.py")],
        cwd=cwd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
        timeout=300, check=False)


def _ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stderr[-4000:]


def _assert_same_weights(path_a: Path, path_b: Path, names: list[str]) -> None:
    a, b = load_networks(path_a, NETWORKS, names), load_networks(path_b, NETWORKS, names)
    for name in names:
        for key, tensor in a[name].state_dict().items():
            other = b[name].state_dict()[key]
            if tensor.is_floating_point():
                gap = (tensor - other).norm() / other.norm().clamp_min(1e-12)
                assert gap <= WEIGHT_RTOL, (name, key, gap.item())
            else:
                assert torch.equal(tensor, other), (name, key)


def _assert_same_tsv(path_a: Path, path_b: Path) -> None:
    a = np.genfromtxt(path_a, names=True, delimiter="\t")
    b = np.genfromtxt(path_b, names=True, delimiter="\t")
    assert a.dtype.names == b.dtype.names
    for column in a.dtype.names:
        assert np.allclose(a[column], b[column], rtol=FIGURE_RTOL, atol=0), column


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A work folder with the tiny data, masks and metric weights (train_gan's sample FID)."""
    work = tmp_path_factory.mktemp("distributed")
    (work / "params.yaml").write_text(yaml.safe_dump(TINY))
    for stage in ("prepare", "masks", "metric_weights"):
        _ok(run_stage(stage, work, env={"OMP_NUM_THREADS": "1"}))
    return work


@pytest.mark.slow
def test_two_processes_match_one_process(prepared: Path, tmp_path: Path):
    single, multi = tmp_path / "single", tmp_path / "multi"
    shutil.copytree(prepared, single)
    shutil.copytree(prepared, multi)

    # train_ae: the DVC cmd `python stages/train_ae.py`, switched to torchrun by the variable
    _ok(run_stage("train_ae", single, env={"OMP_NUM_THREADS": "1"}))
    result = run_stage("train_ae", multi, env={
        "OMP_NUM_THREADS": "1", distributed.TORCHRUN_ENV: " ".join(TWO_PROCESSES)})
    _ok(result)
    assert "torch.distributed.run" in result.stdout, "relaunched under torchrun"
    assert result.stdout.count("train_ae: {") == 1, "rank 0 alone prints"
    _assert_same_weights(single / "models/ae.pt", multi / "models/ae.pt", ["encoder", "decoder"])
    _assert_same_tsv(single / "plots/ae/losses.tsv", multi / "plots/ae/losses.tsv")
    assert not (multi / "checkpoints/train_ae.pt").exists()

    # train_inversion (E_z has BatchNorm: synchronised over ranks), from the same ae and gan
    _ok(run_stage("train_gan", single, env={"OMP_NUM_THREADS": "1"}))
    for name in ("ae.pt", "gan.pt"):
        shutil.copy(single / "models" / name, multi / "models" / name)
    _ok(run_stage("train_inversion", single, env={"OMP_NUM_THREADS": "1"}))
    _ok(_torchrun("train_inversion", multi))
    _assert_same_weights(single / "models/inpainter/weights.pt",
                         multi / "models/inpainter/weights.pt",
                         ["inversion_encoder", "generator", "decoder"])  # G and Dec tuned too
    _assert_same_tsv(single / "plots/inversion/losses.tsv", multi / "plots/inversion/losses.tsv")
    a, b = (json.loads((folder / "metrics/inversion.json").read_text())
            for folder in (single, multi))
    assert a["val"] == pytest.approx(b["val"], rel=FIGURE_RTOL)


def _inversion_encoder() -> InversionEncoder:
    torch.manual_seed(0)
    return InversionEncoder(InversionConfig(32, 16, 0.05))


def _global_batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(16, 3, 32, 32, generator=generator), torch.randn(16, 16, generator=generator)


def _step(module: torch.nn.Module, images: torch.Tensor, target: torch.Tensor) -> dict:
    """One backward pass; the gradients and the BatchNorm buffers it leaves."""
    (module(images) - target).pow(2).mean().backward()
    return {**{k: p.grad.clone() for k, p in module.named_parameters()},
            **{k: b.clone() for k, b in module.named_buffers() if b.is_floating_point()}}


def _gradient_worker(rank: int, world: int, folder: str) -> None:
    """One rank of test_gradients_match_one_process (spawned)."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank,
                            world_size=world)
    try:
        with pytest.raises(ValueError, match="batch_size 15 does not split over 2"):
            distributed.shard(torch.arange(15))
        module = _inversion_encoder()
        view = distributed.wrap(module, torch.device("cpu"))
        images, target = _global_batch()
        state = _step(view, distributed.shard(images), distributed.shard(target))
        if rank == 0:
            weights = {k.removeprefix("module."): v for k, v in state.items()}
            torch.save(weights, f"{folder}/rank0.pt")
    finally:
        dist.destroy_process_group()


def test_gradients_match_one_process(tmp_path: Path):
    reference = _step(_inversion_encoder(), *_global_batch())
    mp.spawn(_gradient_worker, args=(2, str(tmp_path)), nprocs=2)
    ranked = torch.load(tmp_path / "rank0.pt", weights_only=True)
    assert ranked.keys() == reference.keys()
    for key, value in reference.items():
        gap = (ranked[key] - value).norm() / value.norm()
        assert gap <= GRADIENT_RTOL, (key, gap.item())


def test_per_rank_share_and_single_process_shard():
    assert distributed.per_rank(32, 4) == 8
    with pytest.raises(ValueError, match="set it to a multiple of 3"):
        distributed.per_rank(32, 3)
    batch = torch.arange(6)
    assert torch.equal(distributed.shard(batch), batch)


def test_speed_switches_are_ignored_on_the_cpu(monkeypatch):
    monkeypatch.setenv("INPAINT_AMP", "bf16")
    monkeypatch.setenv("INPAINT_CHANNELS_LAST", "1")
    with pytest.warns(UserWarning, match="CUDA devices only"):
        assert distributed.Speed.from_env(torch.device("cpu")) == distributed.Speed()
    module = torch.nn.Linear(2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert distributed.wrap(module, torch.device("cpu")) is module
    monkeypatch.setenv("INPAINT_AMP", "fp16")
    with pytest.raises(ValueError, match="INPAINT_AMP"):
        distributed.Speed.from_env(torch.device("cpu"))


def _networks() -> list[tuple[torch.nn.Module, torch.Tensor]]:
    """The autoencoder and E_z at 64 px (BatchNorm in eval mode: deterministic)."""
    torch.manual_seed(0)
    autoencoder = torch.nn.Sequential(Encoder(AutoencoderConfig(64)),
                                      Decoder(AutoencoderConfig(64)))
    inversion = InversionEncoder(InversionConfig(64, 100, 0.25)).eval()
    x = torch.rand(4, 3, 64, 64) * 2 - 1
    return [(autoencoder, x), (inversion, x)]


@pytest.mark.parametrize("speed, tolerance", [
    (distributed.Speed(channels_last=True), 1e-5),
    # bf16 keeps 8 mantissa bits: ~0.4% per rounding, through seven layers
    (distributed.Speed(bf16=True), 5e-2),
    (distributed.Speed(bf16=True, channels_last=True), 5e-2),
])
def test_speed_switches_stay_close_to_fp32(speed, tolerance):
    """The wrapper's code path, run on the CPU (the switches themselves are for CUDA)."""
    for module, x in _networks():
        with torch.no_grad():
            reference = module(x)
            out = distributed.Accelerated(module, "cpu", speed)(x)
        assert out.dtype == torch.float32
        scale = reference.abs().max()
        assert (out - reference).abs().max() <= tolerance * scale


NEWER = {  # the four training stages added after the torchrun work, at a tiny size
    "extended": {**TINY["inversion"], "mask_input": True, "perceptual_weight": 0.0,
                 "patience": 3, "feature_weight": 1.0},
    "comodgan": {"epochs": 1, "batch_size": 16, "lr": 0.002, "betas": [0.0, 0.99], "seed": 0,
                 "width": 8, "disc_width": 8, "z_dim": 16, "mapping_layers": 1},
    "hifill": {"epochs": 1, "batch_size": 16, "lr": 0.001, "betas": [0.5, 0.999], "seed": 0,
               "width": 4, "disc_width": 8},
    "lama": {"epochs": 1, "batch_size": 16, "lr": 0.001, "betas": [0.9, 0.999], "seed": 0,
             "width": 8, "blocks": 1, "disc_width": 8},
}


@pytest.mark.slow
@pytest.mark.parametrize("section", list(NEWER))
def test_the_newer_training_stages_run_under_torchrun(prepared: Path, tmp_path: Path,
                                                      section: str):
    """train_extended, train_comodgan, train_hifill, train_lama: two processes write the
    outputs once and validate as one process does."""
    single, multi = tmp_path / "single", tmp_path / "multi"
    shutil.copytree(prepared, single)
    params = {**TINY, section: NEWER[section]}
    (single / "params.yaml").write_text(yaml.safe_dump(params))
    if section == "extended":  # E_z's code goes through the autoencoder and GAN
        for stage in ("train_ae", "train_gan"):
            _ok(run_stage(stage, single, env={"OMP_NUM_THREADS": "1"}))
    shutil.copytree(single, multi)
    stage, args = (("train_inversion", ("--code", "extended")) if section == "extended"
                   else ("train_baseline", ("--method", section)))
    _ok(run_stage(stage, single, env={"OMP_NUM_THREADS": "1"}, args=args))
    result = run_stage(stage, multi, env={"OMP_NUM_THREADS": "1",
                                          distributed.TORCHRUN_ENV: " ".join(TWO_PROCESSES)},
                       args=args)
    _ok(result)
    assert "torch.distributed.run" in result.stdout, "relaunched under torchrun"
    a, b = (json.loads((folder / f"metrics/{section}.json").read_text())
            for folder in (single, multi))
    assert a.keys() == b.keys()
    # one step's gradients match (test above); CoModGAN's noise inputs are drawn per rank,
    # so its one-epoch scores agree to 1% rather than to rounding
    assert a["val"] == pytest.approx(b["val"], rel=1e-2 if section == "comodgan" else 1e-3)
