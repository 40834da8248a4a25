"""dvc.yaml against the code: every stage depends on the library files its script runs.

A module a stage imports, directly or through other modules (imports inside functions
included: the method registry imports each method's code where it is built), changes what
the stage computes, so editing it must re-run the stage. Package `__init__.py` files hold only
docstrings and the lazy `inpaint.Inpainter`, and are left out.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

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


def library_files(script: Path) -> set[str]:
    """The library files `script` runs, transitively, relative to the repository root."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        for name in inpaint_imports(todo.pop()):
            path = module_file(name)
            if path is not None and path not in seen:
                seen.add(path)
                todo.append(path)
    return {path.relative_to(ROOT).as_posix() for path in seen if path.name != "__init__.py"}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_deps_list_the_library_code_it_runs(stage):
    spec = STAGES[stage]
    script = re.search(r"python (stages/\S+\.py)", spec["cmd"]).group(1)
    deps = set(spec.get("deps", []))
    assert script in deps, f"{stage}: its script {script} is not a dependency"
    missing = sorted(library_files(ROOT / script) - deps)
    assert not missing, f"{stage}: add to its deps in dvc.yaml: {', '.join(missing)}"
    stale = sorted(dep for dep in deps if dep.startswith("inpaint/") and not (ROOT / dep).exists())
    assert not stale, f"{stage}: deps that no longer exist: {', '.join(stale)}"


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_deps_list_no_code_it_does_not_run(stage):
    """An extra code dependency would re-run the stage for edits that cannot change it."""
    spec = STAGES[stage]
    script = re.search(r"python (stages/\S+\.py)", spec["cmd"]).group(1)
    code = {dep for dep in spec.get("deps", []) if dep.startswith(("inpaint/", "stages/"))}
    extra = sorted(code - library_files(ROOT / script) - {script})
    assert not extra, f"{stage}: deps it does not import: {', '.join(extra)}"
