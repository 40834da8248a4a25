"""`prepare` and `masks` through the real stage scripts on tiny configurations."""
import json

import numpy as np
import pandas as pd
import yaml
from PIL import Image

from conftest import run_stage

TINY = {
    "data": {"source": "synthetic", "synthetic_count": 40, "resolution": 32,
             "test_fraction": 0.25, "seed": 1},
    "masks": {"source": "generated", "generated_count": 200, "eval_fraction": 0.5, "seed": 1},
}


def _write_params(folder, params):
    (folder / "params.yaml").write_text(yaml.safe_dump(params))


def test_prepare_then_masks_on_the_synthetic_default(tmp_path):
    _write_params(tmp_path, TINY)
    for stage in ("prepare", "masks"):
        result = run_stage(stage, tmp_path)
        assert result.returncode == 0, result.stderr
    train = np.load(tmp_path / "data/prepared/train.npy")
    val = np.load(tmp_path / "data/prepared/val.npy")
    test = np.load(tmp_path / "data/prepared/test.npy")
    assert train.shape == (27, 32, 32, 3) and test.shape == (10, 32, 32, 3)
    assert val.shape == (3, 32, 32, 3), "val_fraction 0.1 of the 30 non-test images"
    manifest = pd.read_csv(tmp_path / "data/prepared/manifest.csv")
    assert manifest.split.value_counts().to_dict() == {"train": 27, "test": 10, "val": 3}
    assert manifest.source.is_unique, "the three splits share no image"

    summary = json.loads((tmp_path / "metrics/masks.json").read_text())
    assert set(summary["buckets"]) == {"1-10%", "10-20%", "20-30%", "30-40%", "40-50%", "50-60%"}
    pairs = pd.read_csv(tmp_path / "data/masks/eval_pairs.csv")
    assert len(pairs) == 10 * 6 and summary["eval_pairs"] == 60
    masks = pd.read_csv(tmp_path / "data/masks/manifest.csv")
    eval_masks = masks[masks.pool == "eval"].set_index("pool_index")
    assert (eval_masks.loc[pairs.eval_mask_index, "bucket"].values == pairs.bucket.values).all()
    stored = np.load(tmp_path / "data/masks/eval.npy")
    assert set(np.unique(stored)) <= {0, 1}
    ratios = 1 - stored.reshape(len(stored), -1).mean(1)
    assert np.allclose(ratios, eval_masks.sort_index().hole_ratio, atol=1e-4)

    val_pairs = pd.read_csv(tmp_path / "data/masks/val_pairs.csv")
    assert len(val_pairs) == 3 * 6 and summary["val_pairs"] == 18
    assert (eval_masks.loc[val_pairs.eval_mask_index, "bucket"].values
            == val_pairs.bucket.values).all()

    first = (tmp_path / "data/masks/eval_pairs.csv").read_bytes()
    assert run_stage("masks", tmp_path).returncode == 0
    assert (tmp_path / "data/masks/eval_pairs.csv").read_bytes() == first, "pairing is stable"


def test_prepare_on_a_folder_reports_bad_files(tmp_path):
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(20):
        array = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
        Image.fromarray(array).save(images / ("sub" if i % 2 else "") / f"{i}.png")
    (images / "corrupt.jpg").write_bytes(b"not a jpeg")
    _write_params(tmp_path, {"data": {"source": str(images), "resolution": 32,
                                      "test_count": 5, "min_images": 10}})
    result = run_stage("prepare", tmp_path)
    assert result.returncode == 0, result.stderr
    skipped = pd.read_csv(tmp_path / "data/prepared/skipped.csv")
    assert skipped.source.str.endswith("corrupt.jpg").tolist() == [True]
    assert "cannot decode" in skipped.reason[0]
    assert np.load(tmp_path / "data/prepared/test.npy").shape == (5, 32, 32, 3)


def test_prepare_errors_name_the_problem(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    _write_params(tmp_path, {"data": {"source": str(empty)}})
    result = run_stage("prepare", tmp_path)
    assert result.returncode != 0 and "no images" in result.stderr
    _write_params(tmp_path, {"data": {"resolution": 48}})
    result = run_stage("prepare", tmp_path)
    assert result.returncode != 0 and "data.resolution = 48" in result.stderr
    assert not (tmp_path / "data").exists(), "nothing half-written"
