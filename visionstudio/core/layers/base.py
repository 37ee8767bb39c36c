"""LayerSpec: everything the app knows about one kind of layer, declared once.

A spec carries its parameter schema, a shape rule (with errors phrased for users),
exact parameter and FLOP counts, a torch builder and a code emitter (its lines in an
exported model.py), so adding a layer kind touches the one module that defines it.
Shape inference never builds torch modules, so re-checking a 200-node graph on every
keystroke stays cheap; a hypothesis test keeps the rules honest against real modules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from visionstudio.core.params import ParamSpec
from visionstudio.core.registry import Registry

Shape = tuple[int, ...]  # one sample's shape, without the batch dimension
Params = Mapping[str, Any]


class ShapeError(ValueError):
    """The layer cannot accept its inputs; the message is for the user, and so is the
    hint: what to change so it can (the analysis adds one with layer names where the
    rule alone cannot name them)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


def fmt_shape(shape: Shape | None) -> str:
    if shape is None:
        return "?"
    return "×".join(str(d) for d in shape)


@dataclass(frozen=True)
class LayerCode:
    """One node as its code emitter sees it (names already checked by the exporter)."""

    module: str                    # "self.conv1": the attribute that holds its module
    args: tuple[str, ...]          # the names that hold its inputs, in port order
    inputs: tuple[Shape, ...]      # their shapes, one sample each
    params: Params                 # validated, defaults filled in

    @property
    def arg(self) -> str:
        return self.args[0] if self.args else "x"

    def call(self) -> str:
        """``self.conv1(x)``: this node's module applied to its inputs."""
        return f"{self.module}({', '.join(self.args or ('x',))})"


@dataclass(frozen=True)
class Emitted:
    """A node's lines in model.py: ``init`` becomes ``self.<name> = <init>``, ``expr`` its
    value in forward. ``logits`` is the expression before a final softmax, for layers
    whose output is one, so ``forward(x, logits=True)`` can hand a loss the raw scores."""

    expr: str
    init: str | None = None
    logits: str | None = None


def no_params(inputs: list[Shape], output: Shape, p: Params) -> int:
    return 0


def no_flops(inputs: list[Shape], output: Shape, p: Params) -> int:
    return 0


@dataclass(frozen=True)
class LayerSpec:
    key: str
    title: str
    category: str
    description: str
    params: tuple[ParamSpec, ...]
    infer: Callable[[list[Shape], Params], Shape]
    build: Callable[[list[Shape], Params], Any]
    # The layer's code in an exported model.py, written with core.layers.source's literals.
    emit: Callable[[LayerCode], Emitted]
    count_params: Callable[[list[Shape], Shape, Params], int] = no_params
    # FLOPs as torch.utils.flop_counter counts them: 2 x multiply-adds of
    # convolutions and matrix products, per sample.
    count_flops: Callable[[list[Shape], Shape, Params], int] = no_flops
    summary: Callable[[Params], str] = lambda p: ""
    name_prefix: str = "layer"
    min_inputs: int = 1
    max_inputs: int | None = 1
    version: int = 1
    aliases: tuple[str, ...] = ()
    # migrate(old_version, params) -> params for this version
    migrate: Callable[[int, dict[str, Any]], dict[str, Any]] | None = None
    icon: str = ""
    # Classes the emitted code needs in model.py besides torch: (class name, source text).
    code_helpers: tuple[tuple[str, str], ...] = ()
    # A head ends the network and feeds one target of the task (Output, Detect): a graph
    # with heads may have several outputs, one per head.
    is_head: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_merge(self) -> bool:
        return self.max_inputs is None or self.max_inputs > 1

    @property
    def is_source(self) -> bool:
        return self.max_inputs == 0

    def param(self, name: str) -> ParamSpec:
        for spec in self.params:
            if spec.name == name:
                return spec
        raise KeyError(name)


LAYERS: Registry[LayerSpec] = Registry("layer kind")


def register(spec: LayerSpec) -> LayerSpec:
    return LAYERS.register(spec.key, spec, category=spec.category, aliases=spec.aliases)


MOVE_BEFORE_FLATTEN = ("connect this layer where the image still has channels, height and width "
                       "(above the Flatten or Dense), or delete the Flatten in front of it")


def require_image(inputs: list[Shape], what: str = "an image-like input (channels×height×width)") -> Shape:
    shape = inputs[0]
    if len(shape) != 3:
        raise ShapeError(
            f"needs {what} but receives a {fmt_shape(shape)} vector; "
            "remove the Flatten/Dense before it or move this layer earlier",
            hint=MOVE_BEFORE_FLATTEN,
        )
    return shape
