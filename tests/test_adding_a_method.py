"""A method added through exactly the four steps of docs/layout.md's "Adding a method" (a
network module, a trainer module, its record, its params section) trains, is scored by the
benchmark's code, runs through the `inpaint` command, is listed by the page, and is asked
for by the dvc.yaml check. The toy's modules are tests/toy_network.py and tests/toy_trainer.py.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import yaml
from fastapi.testclient import TestClient
from PIL import Image

from inpaint import config, registry
from inpaint.api import cli
from inpaint.api.blending import composite
from inpaint.api.methods import MethodSettings, build_method, get_method
from inpaint.api.serve import create_app
from inpaint.config import TrainParams, spec
from inpaint.evaluation.benchmark import blend_modes, score
from inpaint.pretrained import save_networks
from inpaint.training.trainers import untrained
from inpaint.training.trainers.base import train
from test_baselines_resume import _data  # eight 32 px images, two validation pairs

pytestmark = pytest.mark.usefixtures("one_thread")


@dataclasses.dataclass(frozen=True)
class ToyParams(TrainParams):
    """Step 4, its params section: a dataclass listed in `config.SECTIONS` ..."""
    epochs: int = spec(1, low=1, high=100)
    lr: float = spec(1e-3, low=1e-7, high=1.0)
    width: int = spec(4, low=1, high=64)


TOY_PARAMS = {"toy": {"epochs": 2, "batch_size": 4, "width": 4}}  # ... and params.yaml's values


@pytest.fixture
def toy(monkeypatch):
    """Step 3, its record (a `baseline(...)` line in inpaint/registry.py), and step 4."""
    registry.baseline("toy", "a toy convolution, for the registry's test", "toy_network",
                      "toy_trainer:ToyTrainer", "toy_net")
    monkeypatch.setitem(config.SECTIONS, "toy", ToyParams)
    yield registry.MODELS["toy"]
    del registry.MODELS["toy"], registry.METHODS["toy"]


def test_a_method_added_in_four_places_trains_scores_runs_and_is_listed(toy, tmp_path,
                                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(TOY_PARAMS))
    (tmp_path / "inputs.bin").write_bytes(b"data")
    data = _data()

    # the stage's trainer, built from the record as stages/train_baseline.py builds it
    trainer = untrained(toy.stage, data, torch.device("cpu"), tmp_path / "params.yaml")
    history, _ = train(trainer, [tmp_path / "inputs.bin"])
    assert len(history) == 2 and (tmp_path / "plots" / "toy" / "losses.tsv").is_file()
    save_networks(tmp_path / "models" / toy.path, trainer.networks())

    # the benchmark's scoring, on a method built once from its default path
    built = build_method("toy", MethodSettings(models_dir=tmp_path / "models", device="cpu"))
    assert (built.model_path, built.resolution) == (tmp_path / "models" / "toy.pt", 32)
    assert blend_modes(get_method("toy"), ["paste", "poisson"]) == ["paste", "poisson"]
    images, known = data.val, data.eval_masks[:2]
    outputs = composite(images, known, built.fill(images, known), "paste")
    frame, fids, _ = score("toy", data.val_pairs, images, known, outputs, None, None)
    assert frame.method.eq("toy").all() and np.isfinite(frame.psnr).all() and fids == {}

    # the `inpaint` command
    Image.fromarray(images[0]).save(tmp_path / "photo.png")
    Image.fromarray(np.where(known[0] == 0, 255, 0).astype(np.uint8)).save(tmp_path / "hole.png")
    assert cli.main(["photo.png", "hole.png", "-o", "out.png", "--method", "toy"]) == 0
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert np.array_equal(out[known[0] == 1], images[0][known[0] == 1])
    assert "toy" in cli.methods_text()
    with pytest.raises(SystemExit):  # it does not refine: the record says so
        cli.main(["photo.png", "hole.png", "-o", "out.png", "--method", "toy",
                  "--refine-steps", "2"])

    # the page's method list
    listed = TestClient(create_app(models_dir=tmp_path / "models")).get("/api/methods").json()
    toy_entry = next(m for m in listed["methods"] if m["name"] == "toy")
    assert toy_entry["available"] and not toy_entry["refines"]


def test_the_dvc_yaml_check_asks_for_the_new_stage(toy):
    from test_dvc_yaml import test_every_model_record_has_its_stage
    with pytest.raises(AssertionError, match="dvc.yaml has no stage train_toy"):
        test_every_model_record_has_its_stage("toy")
