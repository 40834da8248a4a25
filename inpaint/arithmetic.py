"""Pinned CPU arithmetic: a stage gives the same bits from a seed on x86-64 CPUs of one vendor,
with or without AVX-512.

At one thread a stage's floating-point results still depend on the CPU, because three
libraries pick their vectorised kernels by instruction set at run time, and wider vectors
sum in another order: ATen's own kernels (AVX-512 where the CPU has it), oneDNN's
convolutions, and MKL's matrix products and FFTs (whose code path also differs between
Intel and AMD). Each has a switch that fixes its choice; `PINNED` sets all three to AVX2,
the widest set every supported CPU has. OpenBLAS (numpy's and SciPy's: FID's SVD, the
Poisson solve) gets its Haswell kernels unless the machine already chose a core type.
That is not enough across vendors: pinned alike, an AMD EPYC's default `make repro` agrees
with an Intel Xeon's through the autoencoder's first epoch and differs in late digits from
its second (2026-12-07), by a choice that none of these switches fixes.

The switches are read from the environment when a library first computes, so `pin_process`
re-executes the stage once with them set: `dvc repro`, `dvc exp run` and `python stages/x.py`
are all pinned, and torchrun's processes inherit them. `INPAINT_NATIVE_KERNELS=1` opts out
for speed: results then differ from the committed `dvc.lock` in late digits on a CPU with
AVX-512 (the cost per stage is in the README's development notes).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping

PINNED = {
    "ATEN_CPU_CAPABILITY": "avx2",  # ATen's vectorised CPU kernels
    "ONEDNN_MAX_CPU_ISA": "AVX2",   # oneDNN (convolutions, some matrix products)
    "MKL_CBWR": "AVX2",             # MKL's conditional numerical reproducibility mode
}
# Some machines set OPENBLAS_CORETYPE because older OpenBLAS builds miscompute on their CPU:
# their choice is kept.
MACHINE_DEFAULTS = {"OPENBLAS_CORETYPE": "Haswell"}
OPT_OUT = "INPAINT_NATIVE_KERNELS"


def pinned_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` with the pinned kernel choices (overriding any other value of theirs)."""
    return {**MACHINE_DEFAULTS, **environ, **PINNED}


def is_pinned(environ: Mapping[str, str]) -> bool:
    return all(environ.get(key) == value for key, value in PINNED.items())


def pin_process() -> None:
    """Re-execute this process with the pinned environment unless it has it already or
    `INPAINT_NATIVE_KERNELS=1` asks for the CPU's own kernels. Call it first in a stage's
    `__main__` block, before anything is computed."""
    if os.environ.get(OPT_OUT) == "1":
        print(f"{OPT_OUT}=1: the CPU's own kernels; results will differ from dvc.lock in "
              "late digits on a CPU with AVX-512", file=sys.stderr, flush=True)
        return
    if is_pinned(os.environ):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    # orig_argv: the interpreter's own options and `-c`/`-m` too, not only the script's
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]],
              pinned_environment(os.environ))
