"""Normalisation layers beyond BatchNorm: GroupNorm, LayerNorm over channels and
InstanceNorm2d. None of them depends on the batch, so they suit small batches and
detection/segmentation nets (GroupNorm), ConvNeXt-style blocks (LayerNorm) and style
transfer (InstanceNorm)."""

from __future__ import annotations

import math

from visionstudio.core.layers.base import (
    Emitted,
    LayerCode,
    LayerSpec,
    Params,
    Shape,
    ShapeError,
    fmt_shape,
    register,
    require_image,
)
from visionstudio.core.layers.source import constructor, integer, num
from visionstudio.core.params import ParamSpec


def _eps_param(default: float) -> ParamSpec:
    return ParamSpec("eps", "float", default, minimum=1e-12, maximum=1.0, advanced=True,
                     help="Added to the variance to avoid division by zero.")


def _affine_param(what: str) -> ParamSpec:
    return ParamSpec("affine", "bool", True, help=f"Learn a scale and shift per {what}.")


def _eps_kwargs(p: Params, default: float) -> list[tuple[str, str]]:
    return [("eps", num(float(p["eps"])))] if float(p["eps"]) != default else []


def _channels_or_features(inputs: list[Shape], what: str) -> Shape:
    shape = inputs[0]
    if len(shape) not in (1, 3):
        raise ShapeError(f"needs a feature map (channels×height×width) or a vector but receives "
                         f"{fmt_shape(shape)}", hint=f"connect {what} after a layer with such an output")
    return shape


def _nn(name: str):
    """A torch.nn class by name, imported on first build rather than at start-up."""
    from torch import nn

    return getattr(nn, name)


# -- GroupNorm -----------------------------------------------------------------------
def _divisors(n: int) -> str:
    found = [d for d in range(1, n + 1) if n % d == 0]
    return ", ".join(str(d) for d in found[:12]) + (", ..." if len(found) > 12 else "")


def _group_infer(inputs: list[Shape], p: Params) -> Shape:
    shape = _channels_or_features(inputs, "GroupNorm")
    c, g = shape[0], p["num_groups"]
    if c % g:
        raise ShapeError(f"its {c} channels cannot be split into {g} groups",
                         hint=f"set groups to a number that divides {c} ({_divisors(c)}), "
                              f"or give the layer before it a multiple of {g} channels")
    if math.prod(shape) == g:
        where = "channel" if len(shape) == 1 else f"channel of a {shape[1]}×{shape[2]} map"
        raise ShapeError(f"each of its {g} groups would hold a single value (one {where}), "
                         "which cannot be normalised",
                         hint="use fewer groups, or move it to where the image is larger than 1×1")
    return shape


def _group_emit(code: LayerCode) -> Emitted:
    p = code.params
    kw = _eps_kwargs(p, 1e-5) + ([] if p["affine"] else [("affine", "False")])
    args = [integer(p["num_groups"]), integer(code.inputs[0][0])]
    return Emitted(code.call(), init=constructor("nn.GroupNorm", args, kw))


GROUPNORM = register(LayerSpec(
    key="groupnorm", title="GroupNorm", category="Normalization",
    description="Normalises groups of channels within each sample; unlike BatchNorm it works "
                "the same for any batch size (1 included).",
    params=(
        ParamSpec("num_groups", "int", 1, title="groups", minimum=1, maximum=65536, key=True,
                  help="Number of channel groups; must divide the channels (32 is common in "
                       "wide networks). 1 normalises all channels together, one group per "
                       "channel is InstanceNorm."),
        _eps_param(1e-5),
        _affine_param("channel"),
    ),
    infer=_group_infer,
    build=lambda inputs, p: _nn("GroupNorm")(p["num_groups"], inputs[0][0], eps=p["eps"],
                                             affine=p["affine"]),
    emit=_group_emit,
    count_params=lambda inputs, out, p: 2 * inputs[0][0] if p["affine"] else 0,
    summary=lambda p: f"{p['num_groups']} groups",
    name_prefix="gn", icon="groupnorm",
))


# -- LayerNorm over channels -----------------------------------------------------------
# model.py's own copy of pointwise_modules.LayerNorm2d (same state-dict keys).
LAYER_NORM_2D_SOURCE = '''\
class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels at every position of an N×C×H×W tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)
'''


def _layer_build(inputs: list[Shape], p: Params):
    if len(inputs[0]) == 1:
        return _nn("LayerNorm")(inputs[0][0], eps=p["eps"], elementwise_affine=p["affine"])
    from visionstudio.core.layers.pointwise_modules import LayerNorm2d

    return LayerNorm2d(inputs[0][0], eps=p["eps"], elementwise_affine=p["affine"])


def _layer_emit(code: LayerCode) -> Emitted:
    p = code.params
    kw = _eps_kwargs(p, 1e-5) + ([] if p["affine"] else [("elementwise_affine", "False")])
    cls = "nn.LayerNorm" if len(code.inputs[0]) == 1 else "LayerNorm2d"
    return Emitted(code.call(), init=constructor(cls, [integer(code.inputs[0][0])], kw))


LAYERNORM = register(LayerSpec(
    key="layernorm", title="LayerNorm", category="Normalization",
    description="Normalises each position's channel vector (ConvNeXt's LayerNorm2d); on a "
                "vector, its features. Independent of the batch.",
    params=(_eps_param(1e-5), _affine_param("channel")),
    infer=lambda inputs, p: _channels_or_features(inputs, "LayerNorm"),
    build=_layer_build,
    emit=_layer_emit,
    count_params=lambda inputs, out, p: 2 * inputs[0][0] if p["affine"] else 0,
    name_prefix="ln", icon="layernorm",
    code_helpers=(("LayerNorm2d", LAYER_NORM_2D_SOURCE),),
))


# -- InstanceNorm2d --------------------------------------------------------------------
def _instance_infer(inputs: list[Shape], p: Params) -> Shape:
    c, h, w = require_image(inputs)
    if h * w == 1:
        raise ShapeError(
            "normalises each channel over its height and width, but receives a 1×1 feature map: "
            "a single value per channel cannot be normalised",
            hint="move it to where the image is larger than 1×1 (before the last pooling "
                 "layers), or use LayerNorm or GroupNorm here",
        )
    return (c, h, w)


def _instance_emit(code: LayerCode) -> Emitted:
    p = code.params
    kw = _eps_kwargs(p, 1e-5)
    if float(p["momentum"]) != 0.1:
        kw.append(("momentum", num(float(p["momentum"]))))
    if p["affine"]:
        kw.append(("affine", "True"))
    if p["track_running_stats"]:
        kw.append(("track_running_stats", "True"))
    return Emitted(code.call(), init=constructor("nn.InstanceNorm2d", [integer(code.inputs[0][0])], kw))


INSTANCENORM2D = register(LayerSpec(
    key="instancenorm2d", title="InstanceNorm2d", category="Normalization",
    description="Normalises each channel of each image over its height and width (style "
                "transfer, image generation).",
    params=(
        _eps_param(1e-5),
        ParamSpec("momentum", "float", 0.1, minimum=0.0, maximum=1.0, advanced=True,
                  help="How fast the running statistics follow the batches (only with "
                       "running statistics on)."),
        ParamSpec("affine", "bool", False, help="Learn a scale and shift per channel."),
        ParamSpec("track_running_stats", "bool", False, title="running statistics",
                  help="Keep running means and variances while training and use them for "
                       "predictions, as BatchNorm does; off, every image uses its own."),
    ),
    infer=_instance_infer,
    build=lambda inputs, p: _nn("InstanceNorm2d")(
        inputs[0][0], eps=p["eps"], momentum=p["momentum"], affine=p["affine"],
        track_running_stats=p["track_running_stats"]),
    emit=_instance_emit,
    count_params=lambda inputs, out, p: 2 * inputs[0][0] if p["affine"] else 0,
    summary=lambda p: " · ".join(w for w, on in (("affine", p["affine"]),
                                                  ("running stats", p["track_running_stats"])) if on),
    name_prefix="inorm", icon="instancenorm",
))
