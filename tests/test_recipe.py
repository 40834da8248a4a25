"""The recipe runner: the replicate seed, and stages run side by side through DVC
(`inpaint.recipe`, `inpaint.parallel`)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from inpaint import parallel
from inpaint.config import ParamsError, training_sections
from inpaint.recipe import overrides

ROOT = Path(__file__).resolve().parents[1]


def test_the_replicate_seed_sets_every_training_seed_and_nothing_else(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    recipe = tmp_path / "r.yaml"
    recipe.write_text("gan:\n  epochs: 3\n")
    settings = overrides(recipe, seed=7)
    seeds = {s.split(".")[0] for s in settings if s.endswith(".seed=7")}
    assert seeds == set(training_sections())
    assert {"ae", "gan", "inversion", "extended", "pconv", "gatedconv", "comodgan", "hifill",
            "lama"} <= seeds
    assert not seeds & {"data", "masks", "benchmark", "diagnosis", "report"}  # same pairs
    assert "gan.epochs=3" in settings and len(settings) == len(seeds) + 1
    assert overrides(recipe) == ["gan.epochs=3"]


def test_a_bad_seed_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    recipe = tmp_path / "r.yaml"
    recipe.write_text("ae:\n  seed: 3\n")
    with pytest.raises(ParamsError, match="ae.seed is set by the recipe"):
        overrides(recipe, seed=1)
    with pytest.raises(ParamsError, match="non-negative"):
        overrides(recipe, seed=-1)


def test_the_schedule_starts_the_critical_path_first_and_blocks_after_a_failure():
    needs = {"a": set(), "b": {"a"}, "c": {"a"}, "d": {"b", "c"}, "e": set()}
    priority = parallel.priorities(needs, {"c": 100.0, "e": 5.0})
    assert priority["a"] > priority["c"] > priority["e"] > priority["b"]
    schedule = parallel.Schedule(needs, priority)
    assert schedule.ready(set()) == ["a", "e"]
    schedule.done.append("a")
    assert schedule.ready({"e"}) == ["c", "b"]
    schedule.failed.append("c")
    assert schedule.blocked() == {"c", "d"}
    assert schedule.ready({"e"}) == ["b"]


STAGE = """import os, sys, time, pathlib
name, wait = sys.argv[1], float(sys.argv[2])
start = time.time(); time.sleep(wait)
if pathlib.Path("fail_" + name).exists(): sys.exit(3)
pathlib.Path(name + ".out").write_text(f"{start} {time.time()}")
pathlib.Path(name + ".workers").write_text(os.environ.get("TOY_WORKERS", "unset"))
"""


@pytest.fixture
def toy_repo(tmp_path):
    """A git + DVC repository whose pipeline is a -> (b, c) -> d, b and c slow."""
    if shutil.which("dvc") is None or shutil.which("git") is None:
        pytest.skip("dvc or git not on PATH")
    (tmp_path / "stage.py").write_text(STAGE)

    def stage(name, wait, deps=()):
        return {"cmd": f"python stage.py {name} {wait}",
                "deps": ["stage.py", *[f"{d}.out" for d in deps]], "outs": [f"{name}.out"]}
    pipeline = {"stages": {"a": stage("a", 0), "b": stage("b", 3, ["a"]),
                           "c": stage("c", 3, ["a"]), "d": stage("d", 0, ["b", "c"])}}
    pipeline["stages"]["d"]["meta"] = {"workers_env": "TOY_WORKERS"}  # as the benchmark
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(pipeline))
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(command, cwd=tmp_path, check=True)
    return tmp_path


def test_independent_stages_run_side_by_side_and_dvc_lock_records_them(toy_repo, monkeypatch):
    monkeypatch.chdir(toy_repo)
    assert parallel.run_stages(jobs=2, poll=0.2)
    spans = {s: [float(t) for t in Path(f"{s}.out").read_text().split()] for s in "bc"}
    assert spans["b"][0] < spans["c"][1] and spans["c"][0] < spans["b"][1]  # overlapped
    lock = yaml.safe_load(Path("dvc.lock").read_text())
    assert set(lock["stages"]) == {"a", "b", "c", "d"}
    status = subprocess.run(["dvc", "status"], capture_output=True, text=True, check=True)
    assert "up to date" in status.stdout
    assert set(json.loads(parallel.DURATIONS.read_text())) == {"a", "b", "c", "d"}
    # d divides its work over processes (meta: workers_env): it got both free cores
    assert [Path(f"{s}.workers").read_text() for s in "abcd"] == ["unset"] * 3 + ["2"]


def test_a_failed_stage_stops_its_downstream_and_a_rerun_carries_on(toy_repo, monkeypatch,
                                                                    capsys):
    monkeypatch.chdir(toy_repo)
    Path("fail_c").touch()
    assert not parallel.run_stages(jobs=2, poll=0.2)
    out = capsys.readouterr().out
    assert "FAILED c" in out and "not run: d" in out
    assert set(yaml.safe_load(Path("dvc.lock").read_text())["stages"]) == {"a", "b"}
    b_made = Path("b.out").read_text()
    b_took = json.loads(parallel.DURATIONS.read_text())["b"]
    os.remove("fail_c")
    assert parallel.run_stages(jobs=2, poll=0.2)
    assert Path("b.out").read_text() == b_made  # the finished stage was not run again
    assert json.loads(parallel.DURATIONS.read_text())["b"] == b_took  # nor its time replaced
    assert Path("d.out").is_file()


def test_estimates_start_the_longest_stage_first_until_the_workspace_has_timed_it(
        toy_repo, monkeypatch):
    monkeypatch.chdir(toy_repo)
    assert parallel.run_stages(jobs=1, poll=0.2, estimates={"c": 100.0, "b": 1.0})
    starts = {s: float(Path(f"{s}.out").read_text().split()[0]) for s in "bc"}
    assert starts["c"] < starts["b"]  # b comes first in dvc.yaml and by name
    measured = json.loads(parallel.DURATIONS.read_text())
    assert measured["c"] < 100.0  # what this workspace measured, not the estimate


def test_targets_run_only_what_they_need(toy_repo, monkeypatch):
    monkeypatch.chdir(toy_repo)
    assert sorted(parallel.pipeline_graph(["b"])) == ["a", "b"]
    with pytest.raises(ValueError, match="unknown stage"):
        parallel.pipeline_graph(["nope"])
    assert parallel.run_stages(jobs=2, poll=0.2, targets=["b"])
    assert Path("b.out").is_file() and not Path("c.out").exists()
