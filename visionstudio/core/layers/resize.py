"""Layers that change an image's height and width without learning anything: upsampling,
zero padding and adaptive pooling (the transposed convolution, which learns, is in conv.py).

Their shape rules follow torch's own formulas (tests/core/test_layer_sweep.py compares
them with the real modules on every small size), and none of them has parameters or
FLOPs by torch.utils.flop_counter's count, which counts matrix products and convolutions
only.
"""

from __future__ import annotations

import math

from visionstudio.core.layers.base import (
    Emitted,
    LayerCode,
    LayerSpec,
    Params,
    Shape,
    ShapeError,
    register,
    require_image,
)
from visionstudio.core.layers.source import constructor, integer, num, pair_source, word
from visionstudio.core.params import ParamSpec, pair

UPSAMPLE_MODES = ("nearest", "bilinear")
RESIZE_BY = ("scale", "size")


# -- Upsample ---------------------------------------------------------------------------
def _upsample_infer(inputs: list[Shape], p: Params) -> Shape:
    c, h, w = require_image(inputs)
    if p["align_corners"] and p["mode"] != "bilinear":
        raise ShapeError("align corners only applies to bilinear upsampling",
                         hint="turn align corners off, or set mode to bilinear")
    if p["by"] == "size":
        return (c, *pair(p["size"]))
    scale = p["scale_factor"]
    # torch: floor(size × scale) in double precision
    oh, ow = math.floor(float(h) * scale), math.floor(float(w) * scale)
    if oh <= 0 or ow <= 0:
        raise ShapeError(f"scale {num(scale)} shrinks its {h}×{w} input to nothing ({oh}×{ow})",
                         hint=f"use a scale factor of at least {num(1 / min(h, w))}, or resize to "
                              "a fixed size instead")
    return (c, oh, ow)


def _upsample_kwargs(p: Params) -> dict:
    if p["by"] == "size":
        kwargs: dict = {"size": pair(p["size"])}
    else:
        kwargs = {"scale_factor": float(p["scale_factor"])}
    kwargs["mode"] = p["mode"]
    if p["mode"] == "bilinear":
        kwargs["align_corners"] = p["align_corners"]
    return kwargs


def _upsample_build(inputs: list[Shape], p: Params):
    from torch import nn  # late: torch loads only when a model is built

    return nn.Upsample(**_upsample_kwargs(p))


def _upsample_emit(code: LayerCode) -> Emitted:
    p = code.params
    if p["by"] == "size":
        kw = [("size", pair_source(p["size"]))]
    else:
        kw = [("scale_factor", num(float(p["scale_factor"])))]
    kw.append(("mode", word(p["mode"])))
    if p["mode"] == "bilinear" and p["align_corners"]:
        kw.append(("align_corners", "True"))
    return Emitted(code.call(), init=constructor("nn.Upsample", [], kw))


def _upsample_summary(p: Params) -> str:
    size = f"×{num(p['scale_factor'])}" if p["by"] == "scale" else "→" + "×".join(map(str, pair(p["size"])))
    return f"{size} · {p['mode']}"


UPSAMPLE = register(LayerSpec(
    key="upsample", title="Upsample", category="Reshape",
    description="Makes the image larger (or smaller) without learning: by a scale factor "
                "(2 doubles height and width) or to a fixed output size. Nearest repeats each "
                "pixel; bilinear blends the four nearest pixels for a smoother result. Used in "
                "decoders and feature pyramids, often followed by a convolution.",
    params=(
        ParamSpec("by", "choice", "scale", title="resize by", choices=RESIZE_BY, key=True,
                  help="scale: multiply height and width by the scale factor; size: resize to "
                       "the output size, whatever the input size."),
        ParamSpec("scale_factor", "float", 2.0, title="scale factor", minimum=0.01, maximum=64.0,
                  help="Used when resizing by scale: output = floor(input × scale) on each side."),
        ParamSpec("size", "pair", 32, title="output size", minimum=1, maximum=8192,
                  help="Used when resizing by size: the output height and width, one number or "
                       "[height, width]."),
        ParamSpec("mode", "choice", "nearest", choices=UPSAMPLE_MODES, key=True,
                  help="nearest repeats pixels (blocky, exact); bilinear interpolates (smooth)."),
        ParamSpec("align_corners", "bool", False, title="align corners",
                  help="Bilinear only: line up the corner pixels of input and output instead of "
                       "their edges (torch's align_corners)."),
    ),
    infer=_upsample_infer, build=_upsample_build, emit=_upsample_emit,
    summary=_upsample_summary, name_prefix="up", icon="upsample",
))


# -- ZeroPad2d --------------------------------------------------------------------------
SIDES = ("left", "right", "top", "bottom")  # torch's order


def _pad_infer(inputs: list[Shape], p: Params) -> Shape:
    c, h, w = require_image(inputs)
    return (c, h + p["top"] + p["bottom"], w + p["left"] + p["right"])


def _pad_build(inputs: list[Shape], p: Params):
    from torch import nn

    return nn.ZeroPad2d(tuple(p[side] for side in SIDES))


def _pad_emit(code: LayerCode) -> Emitted:
    values = [code.params[side] for side in SIDES]
    arg = integer(values[0]) if len(set(values)) == 1 else f"({', '.join(integer(v) for v in values)})"
    return Emitted(code.call(), init=constructor("nn.ZeroPad2d", [arg]))


def _side_param(side: str) -> ParamSpec:
    return ParamSpec(side, "int", 1, minimum=0, maximum=4096, key=True,
                     help=f"Columns or rows of zeros added on the {side}.")


ZEROPAD2D = register(LayerSpec(
    key="zeropad2d", title="ZeroPad2d", category="Reshape",
    description="Adds rows and columns of zeros around the image, each side on its own "
                "(left, right, top, bottom): to keep an odd-sized image aligned before a "
                "strided convolution, or to pad only one side as TensorFlow's 'same' does.",
    params=tuple(_side_param(side) for side in SIDES),
    infer=_pad_infer, build=_pad_build, emit=_pad_emit,
    summary=lambda p: "·".join(str(p[side]) for side in SIDES), name_prefix="pad", icon="zeropad",
))


# -- AdaptiveAvgPool2d / AdaptiveMaxPool2d ------------------------------------------------
def _adaptive_infer(inputs: list[Shape], p: Params) -> Shape:
    c, _, _ = require_image(inputs)
    return (c, *pair(p["output_size"]))


def _adaptive_avg_build(inputs: list[Shape], p: Params):
    from torch import nn

    return nn.AdaptiveAvgPool2d(pair(p["output_size"]))


def _adaptive_max_build(inputs: list[Shape], p: Params):
    from visionstudio.core.layers.resize_modules import AdaptiveMaxPool2d  # exportable to ONNX

    return AdaptiveMaxPool2d(pair(p["output_size"]))


def _adaptive_emit(cls_name: str):
    def emit(code: LayerCode) -> Emitted:
        size = pair_source(code.params["output_size"])
        return Emitted(code.call(), init=constructor(f"nn.{cls_name}", [size]))
    return emit


def _adaptive_params(what: str) -> tuple[ParamSpec, ...]:
    return (ParamSpec("output_size", "pair", 1, title="output size", minimum=1, maximum=8192, key=True,
                      help=f"Height and width of the output, one number or [height, width]: the "
                           f"input is cut into this many windows and each gives its {what}, "
                           f"whatever the input size (1 pools the whole image)."),)


def _adaptive_summary(p: Params) -> str:
    return "→" + "×".join(str(v) for v in pair(p["output_size"]))


ADAPTIVE_AVGPOOL2D = register(LayerSpec(
    key="adaptive_avgpool2d", title="AdaptiveAvgPool2d", category="Pooling",
    description="Averages windows sized so the output has a fixed height and width, whatever "
                "the input size: lets one network take images of any size (torchvision's "
                "ResNet ends with an AdaptiveAvgPool2d of 1×1). Unlike GlobalAvgPool it keeps "
                "the channels×height×width form (a 7×7 output can feed more convolutions).",
    params=_adaptive_params("average"), infer=_adaptive_infer,
    build=_adaptive_avg_build, emit=_adaptive_emit("AdaptiveAvgPool2d"),
    summary=_adaptive_summary, name_prefix="apool", icon="adaptive_pool",
))

ADAPTIVE_MAXPOOL2D = register(LayerSpec(
    key="adaptive_maxpool2d", title="AdaptiveMaxPool2d", category="Pooling",
    description="Keeps the largest value of windows sized so the output has a fixed height "
                "and width, whatever the input size: the strongest response of each region. "
                "Windows may overlap by a pixel when the output does not divide the input.",
    params=_adaptive_params("largest value"), infer=_adaptive_infer,
    build=_adaptive_max_build, emit=_adaptive_emit("AdaptiveMaxPool2d"),
    summary=_adaptive_summary, name_prefix="amaxpool", icon="adaptive_pool",
))
