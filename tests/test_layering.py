"""The package's import graph runs one way: from what users run and what trains, down to the
networks, data and configuration. Inference (the API, the command, the page, and the methods'
inference code) imports nothing from `inpaint.training`, so that using a model never loads
the training loop, its losses or torch.distributed.

Imports inside functions count (the registry imports each method's code lazily).
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Bottom to top; a module may import from its own layer and the layers below.
LAYERS = [
    # the shared bottom: configuration, device, data, network building blocks and measures,
    # the model records (data only: they name code by module path) and the model file format
    ["inpaint.config", "inpaint.device", "inpaint.tensors", "inpaint.data", "inpaint.nn",
     "inpaint.registry", "inpaint.pretrained"],
    ["inpaint.paper.networks", "inpaint.baselines.networks", "inpaint.baselines.comodgan",
     "inpaint.baselines.hifill", "inpaint.baselines.lama", "inpaint.baselines.classical",
     "inpaint.evaluation.weights", "inpaint.api.blending", "inpaint.api.regions",
     "inpaint.api.upsampling"],
    ["inpaint.evaluation.metrics", "inpaint.evaluation.compare", "inpaint.evaluation.scoring"],
    ["inpaint.paper.inversion", "inpaint.baselines.learned"],
    ["inpaint.api.methods", "inpaint.api.inpainter", "inpaint.training",
     "inpaint.evaluation.diagnosis", "inpaint.evaluation.benchmark",
     "inpaint.evaluation.report"],
    ["inpaint.api.serve", "inpaint.api.cli", "inpaint.recipe", "inpaint"],
]
INFERENCE = ("inpaint.api", "inpaint.paper.inversion", "inpaint.baselines")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    """The layer of the longest listed prefix of `module`."""
    matches = [(len(prefix), i) for i, group in enumerate(LAYERS) for prefix in group
               if module == prefix or module.startswith(prefix + ".")]
    assert matches, f"{module} is in no layer: add it to LAYERS"
    return max(matches)[1]


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from a import b` imports module a.b when there is one, else names of a
            names |= {f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES
                      else node.module for alias in node.names}
    return {name for name in names if name.split(".")[0] == "inpaint"}


MODULES = {module_name(path): path for path in sorted((ROOT / "inpaint").rglob("*.py"))}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_run_down_the_layers(module):
    upward = sorted(name for name in imported(MODULES[module])
                    if name != "inpaint" and layer(name) > layer(module))
    assert not upward, f"{module} (layer {layer(module)}) imports from above: {upward}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith(INFERENCE)))
def test_inference_imports_nothing_from_training(module):
    training = sorted(name for name in imported(MODULES[module])
                      if name.startswith("inpaint.training"))
    assert not training, f"{module} imports {training}"


def test_loading_the_inference_code_loads_no_training_code_nor_pandas():
    code = ("import sys\n"
            "import inpaint.api.cli, inpaint.api.serve, inpaint.api.inpainter\n"
            "import inpaint.paper.inversion, inpaint.baselines.learned\n"
            "print(sorted(m for m in sys.modules if m == 'pandas'"
            " or m.startswith('inpaint.training')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"
