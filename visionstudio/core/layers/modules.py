"""Small torch modules the builder uses where torch has no ready-made equivalent.

They keep parameter names identical to plain ``nn.Conv2d``/``nn.Linear`` (a fused
activation owns no parameters), so exported code and safetensors weights line up
key for key with the app's model.
"""

from __future__ import annotations

import torch
from torch import nn


class Conv2dAct(nn.Conv2d):
    """nn.Conv2d followed by an optional activation, with Conv2d's state-dict keys."""

    def __init__(self, *args, activation: nn.Module | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)
        return self.activation(y) if self.activation is not None else y


class LinearAct(nn.Linear):
    """nn.Linear followed by an optional activation, with Linear's state-dict keys."""

    def __init__(self, *args, activation: nn.Module | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)
        return self.activation(y) if self.activation is not None else y


class GlobalAvgPool2d(nn.Module):
    """Mean over height and width: N×C×H×W -> N×C (Keras GlobalAveragePooling2D)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


class Add(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Average(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out / len(xs)


class Concat(nn.Module):
    """Concatenation along the channel (feature) axis."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=1)


class WeightedSum(nn.Module):
    """sum_i w_i * x_i with fixed weights (a buffer) or learnable ones (a parameter)."""

    def __init__(self, weights: list[float], learnable: bool) -> None:
        super().__init__()
        tensor = torch.tensor(weights, dtype=torch.float32)
        if learnable:
            self.weight = nn.Parameter(tensor)
        else:
            self.register_buffer("weight", tensor)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0] * self.weight[0]
        for i, x in enumerate(xs[1:], start=1):
            out = out + x * self.weight[i]
        return out
