"""How long the `inpaint` command takes to answer before any method runs: `--help`,
`--version` and a usage error (a misspelt flag), with `python -c "import torch"` and the
command's own first import of a method's libraries beside them for scale.

Each command runs --runs times as a fresh process (the installed console script, as a user
calls it); prints the median and the fastest wall time. The bare interpreter's start is the
first line.

    python profiling/startup.py --runs 7
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = str(Path(sys.executable).with_name("inpaint"))
COMMANDS = {
    "python -c pass (interpreter start)": [sys.executable, "-c", "pass"],
    "inpaint --help": [SCRIPT, "--help"],
    "inpaint --version": [SCRIPT, "--version"],
    "inpaint --mehtod telea (usage error)": [SCRIPT, "a.png", "b.png", "-o", "c.png",
                                             "--mehtod", "telea"],
    "inpaint serve --help": [SCRIPT, "serve", "--help"],
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
    "import what `--method ours` needs": [sys.executable, "-c", "import inpaint.paper.inversion, "
                                          "inpaint.api.inpainter, scipy.sparse"],
}


def wall_times(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per command (default 7)")
    args = parser.parse_args()
    wall_times(COMMANDS["inpaint --help"], 1)  # warm the file cache first
    print(f"{'command':<42}{'median s':>10}{'fastest s':>11}")
    for name, command in COMMANDS.items():
        times = wall_times(command, args.runs)
        print(f"{name:<42}{statistics.median(times):>10.3f}{min(times):>11.3f}")


if __name__ == "__main__":
    main()
