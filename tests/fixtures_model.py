"""A tiny exported model for end-to-end tests, trained once per session by the real stages.

Use it from a test module with `pytest_plugins = ["fixtures_model"]`; the fixture runs
prepare, masks, metric_weights, train_ae, train_gan, train_inversion and train_extended in a
temporary work folder on a
32-pixel synthetic set, one epoch each, then the five retrained baselines (train_pconv,
train_gatedconv, train_comodgan, train_hifill, train_lama; width 4, one epoch): about a
minute on one core. The models are poor, but
every code path of loading and inpainting is the one a real model takes.

train_gan's sample FID needs the Inception network and PConv's loss the LPIPS AlexNet, so
`metric_weights` runs first (from its download cache) and its output is removed again once
the models are trained: the work folder is then a
pipeline that has not run `metric_weights`, as the benchmark's missing-weights test expects.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import run_stage

TINY_PARAMS = {
    "data": {"source": "synthetic", "synthetic_count": 64, "resolution": 32,
             "test_fraction": 0.25, "seed": 0},
    "masks": {"source": "generated", "generated_count": 200, "eval_fraction": 0.5, "seed": 0},
    "ae": {"epochs": 1, "batch_size": 16, "lr": 0.001, "betas": [0.9, 0.999], "seed": 0},
    "gan": {"epochs": 1, "batch_size": 16, "lr": 0.0002, "betas": [0.5, 0.999], "seed": 0,
            "z_dim": 16, "width": 8},
    "inversion": {"epochs": 1, "batch_size": 16, "lr": 0.0003, "betas": [0.9, 0.999],
                  "seed": 0, "width": 0.05, "lambda_r": 20.0,
                  "realism_loss": "nonsaturating", "hole_fill": 0.0},
    "extended": {"epochs": 1, "batch_size": 16, "lr": 0.0003, "betas": [0.9, 0.999],
                 "seed": 0, "width": 0.05, "lambda_r": 20.0, "realism_loss": "nonsaturating",
                 "hole_fill": 0.0, "mask_input": True, "feature_weight": 1.0},
    "pconv": {"epochs": 1, "batch_size": 16, "lr": 0.001, "betas": [0.9, 0.999], "seed": 0,
              "width": 4},
    "gatedconv": {"epochs": 1, "batch_size": 16, "lr": 0.001, "betas": [0.5, 0.999], "seed": 0,
                  "width": 4, "disc_width": 4, "gan_weight": 1.0},
    "comodgan": {"epochs": 1, "batch_size": 16, "width": 4, "disc_width": 4, "z_dim": 8,
                 "mapping_layers": 1, "reconstruction_weight": 1.0},
    "hifill": {"epochs": 1, "batch_size": 16, "width": 4, "disc_width": 4},
    "lama": {"epochs": 1, "batch_size": 16, "width": 4, "blocks": 2, "disc_width": 4},
}
STAGES = (("prepare", ()), ("masks", ()), ("metric_weights", ()), ("train_ae", ()),
          ("train_gan", ()), ("train_inversion", ()),
          ("train_inversion", ("--code", "extended")),
          *(("train_baseline", ("--method", m)) for m in ("pconv", "gatedconv", "comodgan",
                                                           "hifill", "lama")))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The exported model folder (`<work>/models/inpainter`, resolution 32); beside it
    `<work>/models/inpainter_extended` and `<work>/models/<baseline>.pt` of each retrained
    baseline."""
    work = tmp_path_factory.mktemp("tiny_model")
    (work / "params.yaml").write_text(yaml.safe_dump(TINY_PARAMS))
    for stage, args in STAGES:
        result = run_stage(stage, work, env={"OMP_NUM_THREADS": "1"}, args=args)
        if result.returncode != 0:
            pytest.fail(f"stage {stage} {' '.join(args)} failed while building the test "
                        f"models:\n{result.stderr[-4000:]}")
    shutil.rmtree(work / "models" / "metric_weights")
    return work / "models" / "inpainter"
