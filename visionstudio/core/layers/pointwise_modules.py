"""Torch modules for the element-wise merges and the channel LayerNorm, which torch
has no ready-made module for. Imported only when a model is built."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Multiply(nn.Module):
    """Element-wise product with torch's broadcasting (x: N×C×H×W times s: N×C×1×1)."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Maximum(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = torch.maximum(out, x)
        return out


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm of each position's channel vector in N×C×H×W (ConvNeXt's LayerNorm2d),
    with nn.LayerNorm's state-dict keys; model.py carries the same class
    (normalization.LAYER_NORM_2D_SOURCE)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)

