"""What each layer makes of one sample: activations through forward hooks.

Hooks sit on the built GraphModule's sub-modules, so the arrays are exactly what the
network computes (no re-implementation). Inputs pass through untouched; merges and
activations are captured like any other layer. Work happens on whatever device the
model is on; pass a CPU copy when the GPU is busy training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: the viewer's module loads at start-up
    import torch
    from torch import nn

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ChannelStats:
    minimum: float
    maximum: float
    mean: float
    zero_fraction: float  # share of exact zeros: dead units after ReLU


class Activation:
    """One layer's output for one sample: ``array`` is C×H×W for feature maps, (F,) for
    vectors (float32); ``stats`` (one ChannelStats per channel, or one for a vector) is
    computed on first use, so capturing every layer stays cheap."""

    __slots__ = ("node_name", "array", "_stats")

    def __init__(self, node_name: str, array: np.ndarray,
                 stats: tuple[ChannelStats, ...] | None = None) -> None:
        self.node_name = node_name
        self.array = array
        self._stats = stats

    @property
    def stats(self) -> tuple[ChannelStats, ...]:
        if self._stats is None:
            self._stats = channel_stats(self.array)
        return self._stats

    @property
    def is_image(self) -> bool:
        return self.array.ndim == 3

    def __repr__(self) -> str:
        return f"Activation({self.node_name!r}, shape={self.array.shape})"


def channel_stats(array: np.ndarray) -> tuple[ChannelStats, ...]:
    if array.ndim == 1:
        flat = array.reshape(1, -1)
    else:
        flat = array.reshape(array.shape[0], -1)
    mins, maxs, means = flat.min(axis=1), flat.max(axis=1), flat.mean(axis=1)
    zeros = (flat == 0).mean(axis=1)
    return tuple(ChannelStats(float(a), float(b), float(c), float(d))
                 for a, b, c, d in zip(mins, maxs, means, zeros))


def modules_by_node(model: nn.Module, prefix: str = "") -> dict[str, nn.Module]:
    """{node name: module} for every layer, a block's inner layers included.

    A block instance builds to a sub-network of the same kind (it has ``node_names``
    too); its layers are named by the path of node names, ``block1.conv1``, nested
    ``stage1.block1.conv1`` (node names are identifiers, so the dot is unambiguous),
    and the instance itself is listed under its own name (the block's output).
    """
    names = getattr(model, "node_names", {})
    out = {}
    for attr, module in model.named_children():
        name = prefix + names.get(attr, attr)
        out[name] = module
        if isinstance(getattr(module, "node_names", None), dict):
            out.update(modules_by_node(module, name + "."))
    return out


def input_node_name(model: nn.Module) -> str | None:
    names = getattr(model, "node_names", {})
    attr = getattr(model, "input_name", None)
    return names.get(attr, attr) if attr else None


def capture_activations(model: nn.Module, sample: torch.Tensor,
                        nodes: Iterable[str] | None = None) -> tuple[dict[str, Activation], torch.Tensor]:
    """Run one sample (C×H×W or 1×C×H×W) and return ({node name: Activation}, output).

    ``nodes`` limits the capture to some node names (None: every layer, the layers inside
    blocks included under their dotted names, ``block1.conv1``). The input node is
    included as itself when asked for.
    """
    import torch
    x = sample if sample.dim() == 4 else sample.unsqueeze(0)
    modules = modules_by_node(model)
    inp = input_node_name(model)
    wanted = set(modules) | ({inp} if inp else set()) if nodes is None else set(nodes)
    captured: dict[str, torch.Tensor] = {}
    handles = []
    for name, module in modules.items():
        if name in wanted:
            def hook(_mod, _inp, out, _name=name):
                captured[_name] = out.detach()
            handles.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            param = next(model.parameters(), None)
            device = param.device if param is not None else torch.device("cpu")
            output = model(x.to(device=device, dtype=torch.float32))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    if inp is not None and inp in wanted:
        captured[inp] = x.detach()
    result = {}
    for name, tensor in captured.items():
        array = tensor[0].float().cpu().numpy()
        result[name] = Activation(name, array)
    if isinstance(output, (tuple, list)):   # several heads: one tensor each
        return result, tuple(o.detach().cpu() for o in output)
    return result, output.detach().cpu()


def conv_filters(module: nn.Module) -> np.ndarray:
    """A conv layer's kernels as out×in×kh×kw float32 (RGB-displayable when in == 3)."""
    weight = getattr(module, "weight", None)
    if weight is None or weight.dim() != 4:
        raise ValueError("only convolution layers have filters to show")
    return weight.detach().float().cpu().numpy()


def class_probabilities(output: torch.Tensor) -> np.ndarray:
    """Probabilities from a network output: softmax unless it already sums to one."""
    import torch
    out = output.float().reshape(output.shape[0], -1)[0]
    if bool((out >= 0).all()) and abs(float(out.sum()) - 1.0) < 1e-4:
        return out.cpu().numpy()
    return torch.softmax(out, dim=0).cpu().numpy()
