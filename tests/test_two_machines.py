"""Seeds spread over machines with DVC's own experiment machinery (docs/scaling.md): two
clones stand in for two machines, local bare repositories for the shared Git and DVC
remotes. Each machine runs the embedded default at a tiny size with its own replicate seed
and pushes the experiment; a third clone pulls both, records each seed and writes the study.

Uses the committed HEAD (a clone), as a machine would.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY = {  # the embedded default, small enough for a test
    "data": {"synthetic_count": 60, "resolution": 32, "test_fraction": 0.2},
    "masks": {"generated_count": 300},
    "ae": {"epochs": 1}, "gan": {"epochs": 1, "width": 8, "z_dim": 16, "pixel_width": 8},
    "inversion": {"epochs": 1, "width": 0.05}, "extended": {"epochs": 1, "width": 0.05},
    "pconv": {"epochs": 1, "width": 4}, "gatedconv": {"epochs": 1, "width": 4},
    "comodgan": {"epochs": 1, "width": 8, "disc_width": 8, "z_dim": 16},
    "hifill": {"epochs": 1, "width": 4}, "lama": {"epochs": 1, "width": 8, "blocks": 1},
    "benchmark": {"pairs_per_bucket": 2, "optimisation_pairs_per_bucket": 2,
                  "refine_steps": 2, "optim_steps": 2},
    "diagnosis": {"images": 4, "pairs_per_bucket": 2, "range_steps": 2, "range_restarts": 1},
    "report": {"bootstrap_resamples": 20},
}


def _run(command: list[str], cwd: Path) -> str:
    identity = {f"GIT_{who}_{what}": value for who in ("AUTHOR", "COMMITTER")
                for what, value in (("NAME", "test"), ("EMAIL", "test@example.com"))}
    env = {**os.environ, "PYTHONPATH": str(cwd), **identity}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=1200)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout[-3000:]}\n" \
                                   f"{result.stderr[-3000:]}"
    return result.stdout


def _machine(tmp: Path, name: str, origin: Path, storage: Path) -> Path:
    """A clone of the shared Git remote with the shared DVC remote as its default."""
    folder = tmp / name
    _run(["git", "clone", "-q", str(origin), str(folder)], tmp)
    _run(["dvc", "remote", "add", "--local", "-d", "shared", str(storage)], folder)
    return folder


@pytest.mark.slow
def test_two_machines_share_their_seeds_through_the_remotes(tmp_path):
    if shutil.which("dvc") is None:
        pytest.skip("dvc not on PATH")
    origin, storage = tmp_path / "origin.git", tmp_path / "storage"
    _run(["git", "clone", "-q", "--bare", str(ROOT), str(origin)], tmp_path)
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(yaml.safe_dump(TINY))
    # machine b runs what `make celebahq64 SEED=2` runs: up to the benchmark and diagnose
    for machine, seed, targets in (("machine_a", 1, []),
                                   ("machine_b", 2, ["--targets", "benchmark", "diagnose"])):
        folder = _machine(tmp_path, machine, origin, storage)
        _run(["python", "-m", "inpaint.recipe", str(recipe), "--seed", str(seed),
              "--jobs", "2", *targets], folder)
        _run(["dvc", "exp", "push", "origin", f"tiny-seed{seed}"], folder)

    collector = _machine(tmp_path, "collector", origin, storage)
    # the committed records are the real recipe's, and a study holds one recipe's replicates
    shutil.rmtree(collector / "reports/seeds", ignore_errors=True)
    listed = _run(["dvc", "exp", "list", "--names-only", "origin"], collector).split()
    assert {"tiny-seed1", "tiny-seed2"} <= set(listed)
    for seed in (1, 2):
        _run(["dvc", "exp", "pull", "origin", f"tiny-seed{seed}"], collector)
        # a branch, not `dvc exp apply`: a partial run's dvc.lock keeps the entries of the
        # stages it left out, whose outputs no remote holds, and apply's checkout fails on them
        _run(["dvc", "exp", "branch", f"tiny-seed{seed}", f"seed{seed}"], collector)
        _run(["git", "checkout", "-q", f"seed{seed}"], collector)
        _run(["dvc", "pull", "--allow-missing"], collector)
        assert yaml.safe_load((collector / "params.yaml").read_text())["lama"]["seed"] == seed
        _run(["python", "-m", "inpaint.evaluation.study", "record", "--seed", str(seed)],
             collector)
    recorded = {seed: {p.name for p in (collector / f"reports/seeds/seed{seed}/metrics").iterdir()}
                for seed in (1, 2)}
    assert {"benchmark.json", "pixel_gan.json", "lama.json"} <= recorded[1]
    # a stage the partial run left out holds another run's file: not recorded
    assert "pixel_gan.json" not in recorded[2] and {"benchmark.json", "lama.json"} <= recorded[2]
    _run(["python", "-m", "inpaint.evaluation.study", "report"], collector)
    study = (collector / "reports/seeds/study.md").read_text()
    assert study.startswith("# The seed study: 2 seed(s) (1, 2)")
    assert "## `ours+poisson` minus each entry" in study
