"""LayerSpec: everything the app knows about one kind of layer, declared once.

A spec carries its parameter schema, a shape rule (with errors phrased for users),
exact parameter and FLOP counts, and a torch builder. Shape inference never builds
torch modules, so re-checking a 200-node graph on every keystroke stays cheap; a
hypothesis test keeps the rules honest against real modules.
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
    """The layer cannot accept its inputs; the message is for the user."""


def fmt_shape(shape: Shape | None) -> str:
    if shape is None:
        return "?"
    return "×".join(str(d) for d in shape)


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


def require_image(inputs: list[Shape], what: str = "an image-like input (channels×height×width)") -> Shape:
    shape = inputs[0]
    if len(shape) != 3:
        raise ShapeError(
            f"needs {what} but receives a {fmt_shape(shape)} vector; "
            "remove the Flatten/Dense before it or move this layer earlier"
        )
    return shape
