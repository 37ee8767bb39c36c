"""Layer health: per layer, what the activations and gradients of a running network do.

Hooks cost time on every step they are on, so none are on most of the time: every
``every_steps`` steps (and at most once per ``min_interval_s``) the callback arms ONE
step. That step's forward hooks reduce each layer's output on the device (mean, std,
and for ReLU outputs which units fired at all); the optimizer's step pre-hook takes the
gradient norms and a copy of the weights, its post-hook the size of the update, and
then every hook is removed. The numbers stay on the device until the next batch record,
where the trainer reads its losses anyway: one transfer, no extra synchronisation.

"Dead" is the share of a ReLU layer's units (channels x positions, or features) that
were never above zero in any sampled batch of the last ``window`` samples: a unit that
never fires passes no gradient and never recovers by itself.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from visionstudio.core.build import BlockModule
from visionstudio.core.training.callbacks import Callback
from visionstudio.core.training.nonfinite import layer_label
from visionstudio.core.training.records import BatchRecord, FailureRecord, _Record

DEAD_SHARE = 0.5          # more than half of a ReLU layer's units never fire: a finding
GRADIENT_SPREAD = 1000.0  # first vs last parameterised layer's gradient norms
RELU_TYPES = (nn.ReLU, nn.ReLU6)


@dataclass(frozen=True)
class LayerHealth:
    layer: str                     # the node's name as the user sees it
    mean: float | None = None      # activation mean over the sampled batch
    std: float | None = None
    dead: float | None = None      # ReLU outputs only: share of units that never fired
    grad_norm: float | None = None  # layers with parameters only
    update_ratio: float | None = None  # |weight change of one step| / |weights|


@dataclass(frozen=True)
class LayerHealthRecord(_Record):
    step: int                      # the step the numbers were measured on
    layers: tuple[LayerHealth, ...]
    findings: tuple[tuple[str, str], ...] = ()   # (layer, the problem in words)
    nonfinite_layer: str | None = None


def is_relu_output(module: nn.Module) -> bool:
    """A ReLU node, or a Conv2d/Dense whose fused ``activation`` is a ReLU."""
    return isinstance(module, RELU_TYPES) or isinstance(getattr(module, "activation", None), RELU_TYPES)


def findings_for(layers: tuple[LayerHealth, ...]) -> tuple[tuple[str, str], ...]:
    """The problems in words, one per layer at most for dead units, one for the gradient spread."""
    out: list[tuple[str, str]] = []
    for h in layers:
        if h.dead is not None and h.dead > DEAD_SHARE:
            out.append((h.layer, f"{h.layer}: {h.dead:.0%} of its ReLU units never fire — lower the "
                                 "learning rate or use LeakyReLU"))
    # the network's own layers only: a block instance's gradient already covers its insides
    graded = [h for h in layers if h.grad_norm is not None and "." not in h.layer]
    if len(graded) >= 2:
        first, last = graded[0], graded[-1]
        a, b = first.grad_norm or 0.0, last.grad_norm or 0.0
        if a == 0 and b > 0:
            out.append((first.layer, f"{first.layer}: no gradient reaches it ({last.layer} gets one) — "
                                     "vanishing"))
        elif b == 0 and a > 0:
            out.append((last.layer, f"{last.layer}: no gradient reaches it ({first.layer} gets one)"))
        elif a > 0 and b / a > GRADIENT_SPREAD:
            out.append((first.layer, f"{first.layer}: gradients {b / a:,.0f}× smaller than in "
                                     f"{last.layer} — vanishing"))
        elif b > 0 and a / b > GRADIENT_SPREAD:
            out.append((first.layer, f"{first.layer}: gradients {a / b:,.0f}× larger than in "
                                     f"{last.layer} — exploding"))
    return tuple(out)


class _Layer:
    def __init__(self, label: str, module: nn.Module) -> None:
        self.label, self.module = label, module
        self.relu = is_relu_output(module)
        self.params = [p for p in module.parameters() if p.requires_grad]
        self.fired: deque[torch.Tensor] = deque()


def monitored_layers(root: nn.Module, prefix: str = "") -> list[_Layer]:
    """Every node's module, and inside a block instance its definition's layers too,
    labelled by the path of node names ("block1.conv1"), so the canvas can badge the
    layers of an opened block."""
    layers: list[_Layer] = []
    for attr, module in root.named_children():
        label = prefix + (layer_label(root, attr) if not prefix else
                          getattr(root, "node_names", {}).get(attr, attr))
        layers.append(_Layer(label, module))
        if isinstance(module, BlockModule):
            layers.extend(monitored_layers(module, label + "."))
    return layers


class LayerHealthMonitor(Callback):
    """Samples one step in ``every_steps`` and hands a LayerHealthRecord to ``sink``
    (on the training thread: a GUI sink only forwards it)."""

    def __init__(self, sink: Callable[[LayerHealthRecord], None], *, every_steps: int = 50,
                 min_interval_s: float = 1.0, window: int = 8) -> None:
        self.sink, self.every_steps, self.min_interval_s = sink, max(1, every_steps), min_interval_s
        self.window = max(1, window)
        self.layers: list[_Layer] = []
        self._handles: list[Any] = []
        self._stats: dict[int, tuple[torch.Tensor, ...]] = {}
        self._grad_list: list[torch.Tensor | None] = []
        self._ratio_list: list[torch.Tensor | None] = []
        self._before: list[list[torch.Tensor]] = []
        self._sampled_step: int | None = None
        self._done = False
        self._last_step = -10**9
        self._last_time = -float("inf")
        self.last: LayerHealthRecord | None = None

    # -- callback hooks -----------------------------------------------------------
    def on_fit_start(self, trainer: Any, record: Any) -> None:
        self.layers = monitored_layers(trainer.train_model)
        if self.layers and trainer.optimizer is not None:
            self._arm(trainer)   # the first step is sampled: a short run still gets its record

    def on_batch_end(self, trainer: Any, record: BatchRecord) -> None:
        if self._done:
            self._publish()
        elif self._handles and trainer.step >= (self._sampled_step or 0):
            # the step ran but its optimizer step did not (fp16's scaler skipped it, or the
            # optimizer was replaced while paused): drop this sample, arm again later
            self._disarm()
        if not self._handles and self._due(trainer.step):
            self._arm(trainer)

    def on_failure(self, trainer: Any, failure: FailureRecord) -> None:
        self._disarm()
        origin = getattr(trainer, "nonfinite_origin", None)
        if failure.kind == "nan" and origin is not None and origin.layer:
            layers = self.last.layers if self.last is not None else ()
            self._send(LayerHealthRecord(
                step=failure.step, layers=layers, nonfinite_layer=origin.layer,
                findings=((origin.layer, f"first non-finite values in {origin.layer}"),)))

    def on_fit_end(self, trainer: Any, result: Any) -> None:
        if self._done:   # a sample taken after the last batch record: still shown
            self._publish()
        self._disarm()

    # -- sampling -------------------------------------------------------------------
    def _due(self, step: int) -> bool:
        return (step - self._last_step >= self.every_steps
                and time.perf_counter() - self._last_time >= self.min_interval_s)

    def _arm(self, trainer: Any) -> None:
        self._stats, self._done = {}, False
        self._grad_list: list[torch.Tensor | None] = [None] * len(self.layers)
        self._ratio_list: list[torch.Tensor | None] = [None] * len(self.layers)
        self._sampled_step = trainer.step + 1
        for i, layer in enumerate(self.layers):
            self._handles.append(layer.module.register_forward_hook(self._forward_hook(i)))
        opt = trainer.optimizer
        self._handles.append(opt.register_step_pre_hook(lambda *_: self._before_step()))
        self._handles.append(opt.register_step_post_hook(lambda *_: self._after_step()))

    def _disarm(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._before = []

    def _forward_hook(self, index: int):
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            # validation and the NaN diagnosis run without gradients: not a training step
            if index in self._stats or not torch.is_grad_enabled() or not isinstance(output, torch.Tensor):
                return
            with torch.no_grad():
                out = output.detach()
                std, mean = torch.std_mean(out.float()) if out.numel() > 1 else (out.float().sum() * 0,
                                                                                 out.float().sum())
                stats: tuple[torch.Tensor, ...] = (mean, std)
                if self.layers[index].relu and out.dim() >= 2:
                    stats += ((out > 0).flatten(1).any(0),)
                self._stats[index] = stats
        return hook

    def _before_step(self) -> None:
        with torch.no_grad():
            norms = []
            for layer in self.layers:
                grads = [p.grad.detach().float().norm() for p in layer.params if p.grad is not None]
                norms.append(torch.linalg.vector_norm(torch.stack(grads)) if grads else None)
            self._grad_list = norms
            self._before = [[p.detach().clone() for p in layer.params] for layer in self.layers]

    def _after_step(self) -> None:
        with torch.no_grad():
            ratios = []
            for layer, before in zip(self.layers, self._before):
                if not before:
                    ratios.append(None)
                    continue
                delta = torch.stack([(p.detach() - b).float().norm() for p, b in zip(layer.params, before)])
                weight = torch.stack([p.detach().float().norm() for p in layer.params])
                size = torch.linalg.vector_norm(weight).clamp_min(1e-12)
                ratios.append(torch.linalg.vector_norm(delta) / size)
            self._ratio_list = ratios
        self._disarm()
        self._done = True

    def _publish(self) -> None:
        """Read the sampled step's numbers in one transfer and send the record."""
        self._done = False
        device_values: list[torch.Tensor] = []
        slots: list[list[int | None]] = []
        for i, layer in enumerate(self.layers):
            row: list[int | None] = []
            stats = self._stats.get(i)
            parts: list[torch.Tensor | None] = [
                stats[0] if stats else None, stats[1] if stats else None,
                self._dead_share(layer, stats), self._grad_list[i], self._ratio_list[i]]
            for t in parts:
                if t is None:
                    row.append(None)
                else:
                    row.append(len(device_values))
                    device_values.append(t.detach().float().reshape(()))
            slots.append(row)
        values = torch.stack(device_values).tolist() if device_values else []   # the one transfer
        layers = tuple(
            LayerHealth(layer.label, *[values[j] if j is not None else None for j in row])
            for layer, row in zip(self.layers, slots) if any(j is not None for j in row))
        self._last_step, self._last_time = self._sampled_step or 0, time.perf_counter()
        self._send(LayerHealthRecord(step=self._sampled_step or 0, layers=layers,
                                     findings=findings_for(layers)))

    def _dead_share(self, layer: _Layer, stats: tuple[torch.Tensor, ...] | None) -> torch.Tensor | None:
        if not layer.relu or stats is None or len(stats) < 3:
            return None
        fired = stats[2]
        if layer.fired and layer.fired[0].shape != fired.shape:
            layer.fired.clear()
        layer.fired.append(fired)
        while len(layer.fired) > self.window:
            layer.fired.popleft()
        ever = layer.fired[0].clone()
        for f in list(layer.fired)[1:]:
            ever |= f
        return 1.0 - ever.float().mean()

    def _send(self, record: LayerHealthRecord) -> None:
        self.last = record
        self.sink(record)
