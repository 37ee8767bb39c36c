"""Where a NaN came from: the network, its weights, or the data.

A loss that turns NaN is usually blamed on the learning rate, but a network can make
non-finite values on its own (a Weighted sum with huge fixed weights, fp16 overflow, a
long chain without normalisation), and no learning rate fixes that. Once — only after a
non-finite loss, so the normal path pays nothing — the failing batch is run again with
forward hooks on every module, and the first module (in the order the forward pass
runs them) that turns finite inputs into non-finite outputs is named:

    "layer"    its inputs and weights are finite: the architecture itself overflows
    "weights"  a layer it ran through has non-finite weights, or weights grown past
               GROWN_WEIGHT (1e6): earlier updates diverged (learning rate). Measured: SGD
               diverging at lr 3-30 leaves weights near 1e19 before the first NaN; healthy
               runs (RMSprop at lr 30 included) stay below 1e3, initialisations below 3
    "input"    the batch itself holds NaN/inf (the dataset)
    "loss"     the whole forward pass is finite: the loss or the gradients blew up

Buffers (BatchNorm's running statistics) are put back afterwards, and any error while
diagnosing just means "no diagnosis": it must never hide the failure being reported.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

GROWN_WEIGHT = 1e6


@dataclass(frozen=True)
class NonFiniteOrigin:
    kind: str                    # "layer", "weights", "input" or "loss"
    layer: str | None = None     # the node's name as the user sees it ("conv3")
    values: str = "NaN"          # "NaN" or "infinite"
    peak: float | None = None    # "weights": the largest finite |weight|, when they grew


def _tensors(value: Any):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _tensors(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)


def _finite(value: Any) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in _tensors(value) if t.is_floating_point())


def _what(value: Any) -> str:
    return "NaN" if any(bool(torch.isnan(t).any()) for t in _tensors(value) if t.is_floating_point()) \
        else "infinite"


def layer_label(root: nn.Module, qualified: str) -> str:
    """A module's name for the user: the graph node's name (GraphModule.node_names maps
    attributes back to node names), with any inner part kept ("block.0")."""
    head, _, rest = qualified.partition(".")
    head = getattr(root, "node_names", {}).get(head, head)
    return f"{head}.{rest}" if rest else head


def find_origin(model: nn.Module, inputs: torch.Tensor,
                autocast: Callable[[], AbstractContextManager[Any]]) -> NonFiniteOrigin | None:
    """Run ``inputs`` through ``model`` (as it is: train mode, same autocast) and say where
    the first non-finite value appeared; None when that cannot be told."""
    if not _finite(inputs):
        return NonFiniteOrigin("input", None, _what(inputs))
    found: list[tuple[str, nn.Module, Any]] = []
    ran: list[tuple[str, nn.Module]] = []    # modules in the order they finished, up to found

    def hook(name: str):
        def check(module: nn.Module, args: Any, output: Any) -> None:
            if found:
                return
            ran.append((name, module))
            if _finite(args) and not _finite(output):
                found.append((name, module, output))
        return check

    saved = {name: b.detach().clone() for name, b in model.named_buffers()}
    handles = [m.register_forward_hook(hook(name)) for name, m in model.named_modules() if name]
    try:
        with torch.no_grad(), autocast():
            model(inputs)
    except Exception:  # noqa: BLE001 - out of memory or the like: no diagnosis, the failure stands
        return None
    finally:
        for h in handles:
            h.remove()
        with torch.no_grad():
            for name, b in model.named_buffers():
                if name in saved:
                    b.copy_(saved[name])
    if not found:
        return NonFiniteOrigin("loss")
    name, module, output = found[0]
    for ran_name, ran_module in ran:   # weights that diverged, first in forward order
        for p in ran_module.parameters(recurse=False):
            if not bool(torch.isfinite(p).all()):
                return NonFiniteOrigin("weights", layer_label(model, ran_name), _what(p))
            peak = float(p.detach().abs().max()) if p.numel() else 0.0
            if peak > GROWN_WEIGHT:
                return NonFiniteOrigin("weights", layer_label(model, ran_name), _what(output), peak)
    return NonFiniteOrigin("layer", layer_label(model, name), _what(output))
