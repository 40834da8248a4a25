"""Shared fixtures: the repository root, ../shared (skipped when absent), thread limits."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from inpaint.arithmetic import OPT_OUT, pinned_environment

# The tests compute with the stages' pinned CPU kernels (inpaint/arithmetic.py), set here
# before torch computes anything, so that what runs in this process matches a stage's output.
if os.environ.get(OPT_OUT) != "1":
    os.environ.update(pinned_environment(os.environ))

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (only on the project's own machines)")
    return path


def run_stage(name: str, cwd: Path, env: dict | None = None,
              args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run `stages/<name>.py` as DVC would, from a work folder holding its params.yaml."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "2", **(env or {})}
    return subprocess.run([sys.executable, str(ROOT / "stages" / f"{name}.py"), *args],
                          cwd=cwd, env=full_env, capture_output=True, text=True, timeout=900)


@pytest.fixture
def one_thread():
    """Torch at one thread for the test, as the stages run under `make repro` (results change
    in late digits with the thread count), then restored for the tests after it."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def one_thread_seeded(one_thread) -> None:
    """`one_thread`, and torch's global generator seeded, for networks built in the test."""
    import torch
    torch.manual_seed(0)
