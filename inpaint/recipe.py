"""Run the pipeline with a recipe: a YAML file of params that differ from params.yaml.

    python -m inpaint.recipe recipes/celebahq64.yaml [DVC EXP RUN OPTIONS...]

checks every key of the recipe against the params' dataclasses (an unknown section or key, or
a value out of range, stops it before anything runs, naming the key) and then runs
`dvc exp run -S section.key=value ...` with those values, so that the experiment's params are
params.yaml plus the recipe: `dvc params diff` and `dvc exp show` list what the recipe changes.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from inpaint.config import PARAMS_FILE, SECTIONS, ParamsError, from_dict


def overrides(path: str | Path) -> list[str]:
    """`section.key=value` for every value of the recipe at `path`, validated."""
    recipe = yaml.safe_load(Path(path).read_text()) or {}
    base = yaml.safe_load(Path(PARAMS_FILE).read_text())
    result = []
    for section, values in recipe.items():
        if section not in SECTIONS:
            raise ParamsError(f"{path}: unknown section {section!r}; sections: "
                              f"{', '.join(SECTIONS)}")
        from_dict(SECTIONS[section], section, {**base.get(section, {}), **values})
        result += [f"{section}.{key}={_yaml(value)}" for key, value in values.items()]
    return result


def _yaml(value) -> str:
    """`value` as YAML on one line, as `dvc exp run -S` parses it."""
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    return text.removesuffix("...").strip()  # a lone scalar's document ends with '...'



def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    try:
        settings = overrides(argv[0])
    except (OSError, ParamsError, yaml.YAMLError) as err:
        print(f"recipe: {err}", file=sys.stderr)
        return 2
    command = ["dvc", "exp", "run", *argv[1:]]
    for setting in settings:
        command += ["-S", setting]
    print(" ".join(command), flush=True)
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
