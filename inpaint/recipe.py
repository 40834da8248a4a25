"""Run the pipeline with a recipe: a YAML file of params that differ from params.yaml.

    python -m inpaint.recipe recipes/celebahq64.yaml [--seed N] [--jobs J] [--serial]
                                                     [--targets STAGE ...]

checks every key of the recipe against the params' dataclasses (an unknown section or key, or
a value out of range, stops it before anything runs, naming the key), writes the recipe's
values into params.yaml as `dvc exp run -S` does, brings the stages up to date `--jobs` at a
time, one thread each (`inpaint.parallel`; the cores by default; on a machine that has not
timed them yet, the longest chain first by the committed seed records' stage times), and
finally records the result as a DVC experiment with `dvc exp run -S section.key=value ...`,
which finds every stage up to date: `dvc exp show` and `dvc params diff` list what the
recipe changes, and `dvc.lock` is what one `dvc exp run` would have written. `--serial`
leaves the stages to `dvc exp run` alone (one after another).

`--seed N` is the replicate seed: it sets the `seed` of every training stage's section
(`ae`, `gan`, `inversion`, ... : the params of the stages named `train_*` in dvc.yaml) to N
and nothing else, so the test faces, masks and pairs stay the same; the experiment is named
`<recipe>-seed<N>`. `--targets STAGE ...` runs only those stages and what they need (a
study's later seeds: `benchmark diagnose`, without the pixel-space GAN of Figure 6 and the
report, which one seed gives).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import yaml

from inpaint.config import PARAMS_FILE, SECTIONS, ParamsError, from_dict, training_sections


def overrides(path: str | Path, seed: int | None = None) -> list[str]:
    """`section.key=value` for every value of the recipe at `path` (and the replicate seed of
    every training section), validated."""
    recipe = yaml.safe_load(Path(path).read_text()) or {}
    if seed is not None:
        if seed < 0:
            raise ParamsError(f"--seed must be a non-negative integer, got {seed}")
        for section in training_sections():
            if "seed" in recipe.get(section, {}):
                raise ParamsError(f"{path}: {section}.seed is set by the recipe; --seed "
                                  "would override it")
            recipe[section] = {**recipe.get(section, {}), "seed": seed}
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


def experiment_command(settings: list[str], name: str | None, extra: list[str]) -> list[str]:
    command = ["dvc", "exp", "run", *(["--name", name] if name else []), *extra]
    for setting in settings:
        command += ["-S", setting]
    return command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inpaint.recipe",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("recipe", help="YAML file of params that differ from params.yaml")
    parser.add_argument("--seed", type=int, help="replicate seed of every training stage")
    parser.add_argument("--jobs", type=int, help="stages at once (default: the cores)")
    parser.add_argument("--targets", nargs="+", metavar="STAGE",
                        help="only these stages and what they need (default: every stage)")
    parser.add_argument("--serial", action="store_true",
                        help="no parallel phase: `dvc exp run` runs the stages one by one")
    args, extra = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = overrides(args.recipe, args.seed)
    except (OSError, ParamsError, yaml.YAMLError) as err:
        print(f"recipe: {err}", file=sys.stderr)
        return 2
    name = f"{Path(args.recipe).stem}-seed{args.seed}" if args.seed is not None else None
    if not args.serial:
        from dvc.utils.hydra import apply_overrides

        from inpaint import parallel
        from inpaint.evaluation.study import recorded_durations
        apply_overrides(PARAMS_FILE, settings)  # what `dvc exp run -S` does first
        if not parallel.run_stages(args.jobs or parallel.default_jobs(),
                                   targets=args.targets, estimates=recorded_durations()):
            return 1
    command = experiment_command(settings, name, [*extra, *(args.targets or [])])
    print(" ".join(command), flush=True)
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
