"""What a network costs: its parameters and forward FLOPs per image, and the one line the
training stages print for each network (`describe`). Every family's networks are counted the
same way, so this sits below them all."""
from __future__ import annotations

import math

import torch
from torch import nn


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def flops_per_image(module: nn.Module, example: torch.Tensor) -> int:
    """Multiply-accumulates x 2 of the convolutions and linear layers for one input."""
    total = 0

    def count(m: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            # k*k*in*out/groups MACs per output (conv) or input (transposed conv) position
            positions = (output if isinstance(m, nn.Conv2d) else inputs[0])[0, 0].numel()
            total += (2 * positions * m.out_channels * m.in_channels // m.groups
                      * math.prod(m.kernel_size))
        elif isinstance(m, nn.Linear):
            total += 2 * m.in_features * m.out_features

    hooks = [m.register_forward_hook(count) for m in module.modules()]
    was_training = module.training
    module.eval()
    with torch.no_grad():
        module(example[:1])
    module.train(was_training)
    for h in hooks:
        h.remove()
    return total


def describe(name: str, module: nn.Module, example: torch.Tensor) -> str:
    """'name: N params, F MFLOPs/image' — printed by the training stages."""
    return (f"{name}: {parameter_count(module) / 1e6:.2f} M params, "
            f"{flops_per_image(module, example) / 1e6:.1f} MFLOPs/image")
