"""Attention transfer (Yi et al. 2020, HiFill): the hole borrows from the known region.

`attention_scores` compares every cell of a coarse feature map with every fully known cell
(cosine similarity of their 3 x 3 neighbourhoods, softmax with scale 10 over the known cells);
`transfer` applies those scores to any finer map whose cells are s x s patches of the coarse
grid, so that one set of scores moves features at several resolutions (HiFill's attention
transfer module) or high-frequency residuals of a large photo (its contextual residual
aggregation, `inpaint.api.upsampling`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

SOFTMAX_SCALE = 10.0  # HiFill's (and DeepFill's) scale of cosine similarities before softmax


def known_cells(known: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """N x 1 x h x w: 1 where every pixel of the cell is known (known N x 1 x H x W, H = s h)."""
    return (-F.adaptive_max_pool2d(-known, grid) > 0.5).to(known.dtype)


def attention_scores(features: torch.Tensor, source: torch.Tensor,
                     scale: float = SOFTMAX_SCALE) -> torch.Tensor:
    """N x L x L scores (L = h w): row i is how much cell i borrows from each cell j, nonzero
    only where `source` (N x 1 x h x w, 1 = may be borrowed from) is 1; rows sum to 1, or to 0
    for an image without any source cell. `features`: N x C x h x w."""
    patches = F.unfold(features, 3, padding=1)  # N x (C 9) x L
    patches = patches / patches.norm(dim=1, keepdim=True).clamp_min(1e-4)
    similarity = scale * patches.transpose(1, 2) @ patches  # N x L x L
    allowed = source.flatten(1)[:, None, :] > 0.5
    similarity = similarity.masked_fill(~allowed, float("-inf"))
    scores = torch.softmax(similarity, dim=2)
    return torch.nan_to_num(scores, nan=0.0)  # rows without any source cell


def transfer(values: torch.Tensor, scores: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """`values` (N x C x H x W, H and W multiples of the grid h x w) aggregated cell by cell:
    each s x s patch becomes the score-weighted sum of the source patches."""
    n, c, height, width = values.shape
    cell = (height // grid[0], width // grid[1])
    patches = F.unfold(values, cell, stride=cell)  # N x (C s s) x L
    mixed = patches @ scores.transpose(1, 2)
    return F.fold(mixed, (height, width), cell, stride=cell)
