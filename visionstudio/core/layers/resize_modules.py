"""torch modules the resize layers build where plain torch cannot be exported.

Neither ONNX exporter handles ``adaptive_max_pool2d`` when the output size does not divide
the input size. The windows are known once the input size is, and a maximum over a
rectangle is the maximum over its rows of the maxima over its columns, so while exporting
the layer is written as one slice-and-max per output column and per output row: exactly
torch's windows (start ``floor(i·n/m)``, end ``ceil((i+1)·n/m)``), exactly its values.
Outside an export it is plain ``nn.AdaptiveMaxPool2d``; the exported model.py uses that.
"""

from __future__ import annotations

import torch
from torch import nn


def _windows(size: int, out: int) -> list[tuple[int, int]]:
    return [((i * size) // out, -((-(i + 1) * size) // out)) for i in range(out)]


def _max_along(x: torch.Tensor, dim: int, out: int) -> torch.Tensor:
    size = x.shape[dim]
    parts = [x.narrow(dim, start, end - start).amax(dim=dim, keepdim=True)
             for start, end in _windows(size, out)]
    return torch.cat(parts, dim=dim)


class AdaptiveMaxPool2d(nn.AdaptiveMaxPool2d):
    """nn.AdaptiveMaxPool2d that an ONNX export can always write down (no parameters)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.onnx.is_in_onnx_export():
            return super().forward(x)
        oh, ow = self.output_size
        return _max_along(_max_along(x, 3, ow), 2, oh)
