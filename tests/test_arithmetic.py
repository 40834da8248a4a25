"""Pinned CPU arithmetic (inpaint/arithmetic.py): a short training run gives the same weights
whatever instruction sets the CPU offers, once pinned, and different ones without the pinning.

Two CPUs are stood in for by capping this machine's: "an AVX2 CPU" is this one with ATen,
oneDNN and MKL limited to AVX2, as they would limit themselves on a CPU without AVX-512.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from inpaint.arithmetic import OPT_OUT, PINNED, is_pinned, pinned_environment

# What the libraries would pick by themselves on a CPU whose widest set is AVX2.
AVX2_CPU = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
            "MKL_ENABLE_INSTRUCTIONS": "AVX2"}

# A few Adam steps of the paper's autoencoder plus a linear head and an FFT: convolutions
# (oneDNN), a matrix product (MKL), elementwise kernels (ATen). Prints a hash of the weights.
TRAINING_RUN = textwrap.dedent("""
    import hashlib
    from inpaint.arithmetic import pin_process
    pin_process()
    import torch
    from inpaint.paper.networks import AutoencoderConfig, Decoder, Encoder
    torch.manual_seed(0)
    torch.set_num_threads(1)
    cfg = AutoencoderConfig(resolution=32, widths=(16, 32))
    encoder, decoder = Encoder(cfg), Decoder(cfg)
    head = torch.nn.Linear(3 * 32 * 32, 8)
    params = [*encoder.parameters(), *decoder.parameters(), *head.parameters()]
    optimiser = torch.optim.Adam(params, lr=1e-3)
    images = torch.rand(16, 3, 32, 32) * 2 - 1
    for _ in range(4):
        optimiser.zero_grad()
        output = decoder(encoder(images))
        spectrum = torch.fft.rfft2(output).abs().mean()
        loss = (output - images).abs().mean() + head(output.flatten(1)).pow(2).mean() + spectrum
        loss.backward()
        optimiser.step()
    weights = b"".join(p.detach().numpy().tobytes() for p in params)
    print(torch.backends.cpu.get_cpu_capability(), hashlib.sha256(weights).hexdigest())
""")


def _run(env: dict[str, str]) -> tuple[str, str]:
    base = {k: v for k, v in os.environ.items()
            if k not in (*PINNED, *AVX2_CPU, OPT_OUT, "MKL_CBWR")}
    result = subprocess.run([sys.executable, "-c", TRAINING_RUN], env={**base, **env},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    capability, digest = result.stdout.split()
    return capability, digest


def test_the_tests_compute_with_the_pinned_kernels():
    import torch
    assert torch.backends.cpu.get_cpu_capability() == "AVX2"  # conftest pinned this process


def test_pinned_environment_sets_every_switch_and_keeps_the_rest():
    env = pinned_environment({"PATH": "/bin", "MKL_CBWR": "AUTO", "OPENBLAS_CORETYPE": "Zen"})
    assert is_pinned(env) and env["PATH"] == "/bin"
    assert env["MKL_CBWR"] == "AVX2"              # a conflicting choice is overridden
    assert env["OPENBLAS_CORETYPE"] == "Zen"      # the machine's own OpenBLAS choice is kept
    assert pinned_environment({})["OPENBLAS_CORETYPE"] == "Haswell"
    assert not is_pinned({"ATEN_CPU_CAPABILITY": "avx2"})


def test_a_training_run_gives_the_same_weights_on_two_cpus_once_pinned():
    native_pinned = _run({})
    avx2_pinned = _run(AVX2_CPU)
    assert native_pinned[0] == avx2_pinned[0] == "AVX2"  # pin_process re-executed with it
    assert native_pinned[1] == avx2_pinned[1]
    native, avx2 = _run({OPT_OUT: "1"}), _run({**AVX2_CPU, OPT_OUT: "1"})
    assert avx2[1] == avx2_pinned[1]  # pinning here computes what an AVX2 CPU computes
    if native[0] != "AVX512":
        pytest.skip(f"this CPU's widest set is {native[0]}: no second instruction set to "
                    "show that the pinning changes anything")
    assert native[1] != avx2[1], "the caps changed nothing: the test would prove nothing"
