"""Peak memory of one training step of each stage at the paper's scale (batch 4, Table 1
widths), for planning GPU runs. Each stage is measured in a fresh process, on the CPU:
peak resident memory minus the process's resident memory before the networks were built.
On a GPU the figure is close to torch.cuda.max_memory_allocated plus the CUDA context.

    OMP_NUM_THREADS=2 python profiling/paper_scale_memory.py --resolution 512 1024
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

import torch
import torch.nn.functional as F

from inpaint.paper.inversion import GanInverter, realism_loss
from inpaint.paper.networks import (AutoencoderConfig, Decoder, Discriminator, Encoder, GanConfig,
                                    Generator, InversionConfig, InversionEncoder)

STAGES = ("train_ae", "train_gan", "train_inversion")


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def one_step(stage: str, res: int, batch: int, gan_width: int) -> None:
    """Build the stage's networks and run one forward/backward/Adam step."""
    ae = AutoencoderConfig(resolution=res)
    encoder, decoder = Encoder(ae), Decoder(ae)
    x = torch.rand(batch, 3, res, res) * 2 - 1
    gan = GanConfig(size=res // 8, width=gan_width)
    generator, discriminator = Generator(gan), Discriminator(gan)
    if stage == "train_ae":
        params = [*encoder.parameters(), *decoder.parameters()]
        loss = F.l1_loss(decoder(encoder(x)), x)
    elif stage == "train_gan":
        params = [*generator.parameters(), *discriminator.parameters()]
        with torch.no_grad():
            real = encoder(x)
        fake = generator(torch.randn(batch, gan.z_dim))
        loss = (F.softplus(-discriminator(real)).mean() + F.softplus(discriminator(fake)).mean())
    else:
        inversion = InversionEncoder(InversionConfig(resolution=res, width=1.0))
        model = GanInverter(inversion, generator.eval(), decoder, discriminator.eval(), 0.0)
        params = list(inversion.parameters())
        known = (torch.rand(batch, 1, res, res) > 0.3).float()
        maps = model.generator(model.encode(x, known))
        loss = (realism_loss(model.discriminator, maps).mean()
                + 20 * (model.decoder(maps) - x).abs().mean())
    optimizer = torch.optim.Adam(params, lr=1e-4)
    loss.backward()
    optimizer.step()


def measure(stage: str, res: int, batch: int, gan_width: int) -> dict:
    before = peak_mib()
    one_step(stage, res, batch, gan_width)
    return {"stage": stage, "resolution": res, "batch": batch,
            "peak_mib_above_baseline": round(peak_mib() - before, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, nargs="+", default=[512])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--gan-width", type=int, default=64)
    parser.add_argument("--child", nargs=2, metavar=("STAGE", "RES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]), args.batch, args.gan_width)))
        return
    print("| stage | resolution | batch | peak memory above baseline (MiB) |")
    print("|---|---|---|---|")
    for res in args.resolution:
        for stage in STAGES:
            out = subprocess.run([sys.executable, __file__, "--child", stage, str(res),
                                  "--batch", str(args.batch), "--gan-width", str(args.gan_width)],
                                 capture_output=True, text=True, check=True).stdout
            row = json.loads(out)
            print(f"| {stage} | {res} | {args.batch} | {row['peak_mib_above_baseline']:.0f} |")


if __name__ == "__main__":
    main()
