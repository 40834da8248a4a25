"""dvc.yaml against the code: every stage depends on the library files its script runs.

A module a stage imports, directly or through other modules (imports inside functions
included), changes what the stage computes, so editing it must re-run the stage. The model
records (`inpaint.registry`) name code by module path instead of importing it: a stage runs
its own model's trainer, and a stage that loads retrained baselines (`inpaint.baselines.learned`)
runs the network module of each. Package `__init__.py` files hold only docstrings and the lazy
`inpaint.Inpainter`, and are left out. Every record's stage is in dvc.yaml with its params
section and its model.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from inpaint.registry import MODELS

ROOT = Path(__file__).resolve().parents[1]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def module_file(name: str) -> Path | None:
    """The file of module `name` in this repository, if it is one."""
    for candidate in (ROOT / f"{name.replace('.', '/')}.py",
                      ROOT / name.replace(".", "/") / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def inpaint_imports(path: Path) -> set[str]:
    """Every `inpaint...` module named by an import statement anywhere in `path`."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:  # `from a import b`: a, or a.b
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in names if name.split(".")[0] == "inpaint"}


def library_files(*starts: Path) -> set[str]:
    """The library files `starts` run, transitively, relative to the repository root."""
    seen: set[Path] = set()
    todo = list(starts)
    while todo:
        for name in inpaint_imports(todo.pop()):
            path = module_file(name)
            if path is not None and path not in seen:
                seen.add(path)
                todo.append(path)
    return {path.relative_to(ROOT).as_posix() for path in seen}


def stage_code(stage: str, script: str) -> set[str]:
    """What stage `stage` runs: its script's imports and the code its records name."""
    named = [module_file(model.trainer.partition(":")[0])
             for model in MODELS.values() if model.stage == stage]
    files = library_files(ROOT / script, *named) | {
        path.relative_to(ROOT).as_posix() for path in named}
    if "inpaint/baselines/learned.py" in files:
        networks = [module_file(model.networks) for model in MODELS.values() if model.inpainter]
        files |= library_files(*networks) | {p.relative_to(ROOT).as_posix() for p in networks}
    return {file for file in files if not file.endswith("__init__.py")}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_deps_list_the_library_code_it_runs(stage):
    spec = STAGES[stage]
    script = re.search(r"python (stages/\S+\.py)", spec["cmd"]).group(1)
    deps = set(spec.get("deps", []))
    assert script in deps, f"{stage}: its script {script} is not a dependency"
    missing = sorted(stage_code(stage, script) - deps)
    assert not missing, f"{stage}: add to its deps in dvc.yaml: {', '.join(missing)}"
    stale = sorted(dep for dep in deps if dep.startswith("inpaint/") and not (ROOT / dep).exists())
    assert not stale, f"{stage}: deps that no longer exist: {', '.join(stale)}"


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_deps_list_no_code_it_does_not_run(stage):
    """An extra code dependency would re-run the stage for edits that cannot change it."""
    spec = STAGES[stage]
    script = re.search(r"python (stages/\S+\.py)", spec["cmd"]).group(1)
    code = {dep for dep in spec.get("deps", []) if dep.startswith(("inpaint/", "stages/"))}
    extra = sorted(code - stage_code(stage, script) - {script})
    assert not extra, f"{stage}: deps it does not import: {', '.join(extra)}"


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_record_has_its_stage(model):
    record = MODELS[model]
    assert record.stage in STAGES, f"dvc.yaml has no stage {record.stage} for model {model}"
    spec = STAGES[record.stage]
    assert record.section in spec.get("params", []), f"{record.stage}: params {record.section}"
    assert f"models/{record.path}" in spec.get("outs", []), f"{record.stage}: models/{record.path}"
    assert ("models/metric_weights" in spec["deps"]) >= record.perceptual, \
        f"{record.stage}: its trainer uses LPIPS's AlexNet: add models/metric_weights to deps"
