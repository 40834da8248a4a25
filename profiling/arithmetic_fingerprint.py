"""Which kernel computes other bits on another CPU: a digest per operation, pinned, one thread.

The pinning (inpaint/arithmetic.py) makes an AVX-512 CPU compute what an AVX2 CPU of its
vendor computes, but an AMD EPYC's `make repro` still differs from an Intel Xeon's in late
digits. Run this on both and compare the lines: the first operation whose digest differs
names the library (oneDNN: convolutions; MKL: matrix products and FFTs; ATen: elementwise,
normalisation, Adam) and the shape at which it chooses another path. The last lines repeat
the autoencoder's steps with oneDNN off (convolutions as im2col and an MKL matrix product,
whose kernels `MKL_CBWR` pins): if that digest agrees across the two CPUs, so would a
pipeline that trains that way; and the median seconds of a step each way, its cost.

    python profiling/arithmetic_fingerprint.py > fingerprint-$(hostname).txt
"""
from __future__ import annotations

import hashlib
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from inpaint.arithmetic import pin_process
from inpaint.paper.networks import AutoencoderConfig, Decoder, Encoder


def digest(*tensors: torch.Tensor) -> str:
    return hashlib.sha256(b"".join(t.detach().contiguous().numpy().tobytes()
                                   for t in tensors)).hexdigest()[:16]


def conv(batch: int, channels: int, size: int) -> dict[str, Callable[[], tuple]]:
    """A 4x4 stride-2 convolution (the autoencoder's and DCGAN's layer) and its transpose:
    forward, gradient of the input, gradient of the weight."""
    generator = torch.Generator().manual_seed(batch * channels + size)
    x = torch.randn(batch, channels, size, size, generator=generator, requires_grad=True)
    w = torch.randn(2 * channels, channels, 4, 4, generator=generator, requires_grad=True)
    wt = torch.randn(channels, channels // 2 or 1, 4, 4, generator=generator,
                     requires_grad=True)

    def forward_backward(op, weight):
        out = op(x, weight, stride=2, padding=1)
        grads = torch.autograd.grad(out.square().sum(), (x, weight))
        return out, *grads

    name = f"{batch}x{channels}x{size}"
    return {f"conv2d {name}": lambda: forward_backward(F.conv2d, w),
            f"conv_transpose2d {name}": lambda: forward_backward(F.conv_transpose2d, wt)}


def others() -> dict[str, Callable[[], tuple]]:
    generator = torch.Generator().manual_seed(1)
    a = torch.randn(256, 1024, generator=generator)
    b = torch.randn(1024, 512, generator=generator)
    images = torch.randn(32, 3, 64, 64, generator=generator)
    norm = torch.nn.BatchNorm2d(3)
    return {"matmul 256x1024x512": lambda: (a @ b,),
            "addmm (nn.Linear) 256x1024->512": lambda: (F.linear(a, b.T, b[0]),),
            "rfft2 32x3x64x64": lambda: (torch.fft.rfft2(images).abs(),),
            "batch_norm train 32x3x64x64": lambda: (norm(images),),
            "l1 + mean 32x3x64x64": lambda: (F.l1_loss(images, images.flip(0)),)}


def autoencoder_steps(steps: int = 3, seconds: list[float] | None = None
                      ) -> tuple[torch.Tensor, ...]:
    """Adam steps of the paper's autoencoder at 64 px, batch 32: its weights after them (and
    each step's wall seconds appended to `seconds`)."""
    torch.manual_seed(0)
    cfg = AutoencoderConfig(resolution=64)
    encoder, decoder = Encoder(cfg), Decoder(cfg)
    params = [*encoder.parameters(), *decoder.parameters()]
    optimiser = torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999))
    images = torch.rand(32, 3, 64, 64, generator=torch.Generator().manual_seed(2)) * 2 - 1
    for _ in range(steps):
        start = time.perf_counter()
        optimiser.zero_grad()
        F.l1_loss(decoder(encoder(images)), images).backward()
        optimiser.step()
        if seconds is not None:
            seconds.append(time.perf_counter() - start)
    return tuple(params)


def main() -> None:
    torch.set_num_threads(1)
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor()) if Path("/proc/cpuinfo").is_file() else platform.processor()
    print(f"# {cpu}, torch {torch.__version__}, kernels "
          f"{torch.backends.cpu.get_cpu_capability()}")
    ops = {}
    for batch, channels, size in [(32, 3, 64), (32, 16, 32), (32, 64, 16), (7, 64, 16),
                                  (32, 128, 8)]:
        ops |= conv(batch, channels, size)
    ops |= others()
    ops["autoencoder, 3 Adam steps"] = autoencoder_steps
    for name, run in ops.items():
        print(f"{digest(*run())}  {name}")
    seconds = {}
    for onednn in (True, False):
        torch.backends.mkldnn.enabled = onednn
        seconds[onednn] = []
        weights = autoencoder_steps(6, seconds[onednn])
    print(f"{digest(*weights)}  autoencoder, 6 Adam steps, oneDNN off")
    print(f"# a step of it: {statistics.median(seconds[True][1:]):.3f} s with oneDNN, "
          f"{statistics.median(seconds[False][1:]):.3f} s without (medians of 5)")


if __name__ == "__main__":
    pin_process()
    main()
