"""Exact resume of the three baselines added for issue 28: a run killed after its first epoch
and started again ends at the weights of an uninterrupted run (their random draws, CoModGAN's
z and noise and LaMa's training masks included, come from the epoch's generator)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from inpaint.training.trainers import untrained
from inpaint.training.trainers.base import TrainingData, train

TINY = {"comodgan": {"epochs": 2, "batch_size": 4, "width": 4, "disc_width": 4, "z_dim": 8,
                     "mapping_layers": 1, "reconstruction_weight": 1.0},
        "hifill": {"epochs": 2, "batch_size": 4, "width": 4, "disc_width": 4},
        "lama": {"epochs": 2, "batch_size": 4, "width": 4, "blocks": 1, "disc_width": 4}}


pytestmark = pytest.mark.usefixtures("one_thread")


def _data() -> TrainingData:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    masks = np.ones((4, 32, 32), np.uint8)
    masks[:, 4:12, 8:20] = 0
    pairs = pd.DataFrame({"image_index": [0, 1], "eval_mask_index": [0, 1],
                          "bucket": ["small", "large"]})
    return TrainingData(images, images[:2], masks, masks, pairs)


def _run(folder: Path, stage: str, kill_at: int | None = None) -> dict[str, torch.Tensor]:
    """Train `stage` in `folder`; with `kill_at`, the process 'dies' when that epoch starts."""
    folder.mkdir(exist_ok=True)
    (folder / "params.yaml").write_text(yaml.safe_dump(TINY))
    (folder / "inputs.bin").write_bytes(b"data")
    trainer = untrained(stage, _data(), torch.device("cpu"), folder / "params.yaml")
    if kill_at is not None:
        steps = trainer.train_epoch

        def dies(epoch: int, progress):
            if epoch == kill_at:
                raise KeyboardInterrupt
            return steps(epoch, progress)
        trainer.train_epoch = dies
    train(trainer, [folder / "inputs.bin"])
    return {f"{name}.{k}": v.clone() for name, module in trainer.modules.items()
            for k, v in module.state_dict().items()}


@pytest.mark.parametrize("stage", ["train_comodgan", "train_hifill", "train_lama"])
def test_a_killed_run_resumes_to_the_weights_of_a_whole_run(tmp_path, monkeypatch, stage):
    runs = {}
    (tmp_path / "whole").mkdir()
    monkeypatch.chdir(tmp_path / "whole")
    runs["whole"] = _run(tmp_path / "whole", stage)
    (tmp_path / "killed").mkdir()
    monkeypatch.chdir(tmp_path / "killed")
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "killed", stage, kill_at=1)
    assert (tmp_path / "killed" / "checkpoints" / f"{stage}.pt").exists()
    runs["resumed"] = _run(tmp_path / "killed", stage)
    assert runs["whole"].keys() == runs["resumed"].keys()
    for key, value in runs["whole"].items():
        assert torch.equal(value, runs["resumed"][key]), key
