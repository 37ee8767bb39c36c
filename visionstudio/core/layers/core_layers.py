"""Dense, Flatten, Dropout, Dropout2d, Identity and BatchNorm2d."""

from __future__ import annotations

import math

from visionstudio.core.layers.activations import (
    ACTIVATION_TITLES,
    activation_param,
    fused_activation_emitted,
    make_activation,
)
from visionstudio.core.layers.base import (
    MOVE_BEFORE_FLATTEN,
    Emitted,
    LayerCode,
    LayerSpec,
    Params,
    Shape,
    ShapeError,
    fmt_shape,
    register,
)
from visionstudio.core.layers.source import constructor, integer, num
from visionstudio.core.params import ParamSpec


def _dense_infer(inputs: list[Shape], p: Params) -> Shape:
    shape = inputs[0]
    if len(shape) != 1:
        raise ShapeError(
            f"receives a {fmt_shape(shape)} feature map (a {len(shape) + 1}-D tensor with the "
            "batch) but needs a vector; add a Flatten (or GlobalAvgPool) before it",
            hint=f"insert a Flatten before it (all {fmt_shape(shape)} values as one vector), or a "
                 f"GlobalAvgPool (one average per channel: {shape[0]} values)" if shape else "",
        )
    return (p["units"],)


def _dense_build(inputs: list[Shape], p: Params):
    from visionstudio.core.layers.modules import LinearAct  # late: torch loads only when a model is built

    return LinearAct(inputs[0][0], p["units"], bias=p["bias"],
                     activation=make_activation(p["activation"]))


def _dense_emit(code: LayerCode) -> Emitted:
    p = code.params
    kw = [] if p["bias"] else [("bias", "False")]
    init = constructor("nn.Linear", [integer(code.inputs[0][0]), integer(p["units"])], kw)
    return fused_activation_emitted(code, init)


def _nn(name: str):
    """A torch.nn class by name, imported on first build rather than at start-up."""
    from torch import nn

    return getattr(nn, name)


DENSE = register(LayerSpec(
    key="dense", title="Dense", category="Dense",
    description="Fully connected layer (nn.Linear): every input feeds every unit.",
    params=(
        ParamSpec("units", "int", 64, minimum=1, maximum=1_000_000, key=True,
                  help="Number of output units (neurons)."),
        ParamSpec("bias", "bool", True, help="Learn an offset per unit."),
        activation_param(),
    ),
    infer=_dense_infer,
    build=_dense_build,
    emit=_dense_emit,
    count_params=lambda inputs, out, p: inputs[0][0] * p["units"] + (p["units"] if p["bias"] else 0),
    count_flops=lambda inputs, out, p: 2 * inputs[0][0] * p["units"],
    summary=lambda p: " · ".join(
        [str(p["units"])] + ([ACTIVATION_TITLES[p["activation"]]] if p["activation"] != "none" else [])
    ),
    name_prefix="dense", aliases=("linear",), icon="dense",
))


FLATTEN = register(LayerSpec(
    key="flatten", title="Flatten", category="Reshape",
    description="Turns a C×H×W feature map into one vector for Dense layers.",
    params=(), infer=lambda inputs, p: (math.prod(inputs[0]),),
    build=lambda inputs, p: _nn("Flatten")(),
    emit=lambda code: Emitted(f"torch.flatten({code.arg}, 1)"), name_prefix="flatten", icon="flatten",
))


DROPOUT = register(LayerSpec(
    key="dropout", title="Dropout", category="Regularization",
    description="Randomly zeroes a fraction of values while training to fight over-fitting.",
    params=(
        ParamSpec("p", "float", 0.5, title="rate", minimum=0.0, maximum=0.99, key=True,
                  help="Fraction of values set to zero during training."),
    ),
    infer=lambda inputs, p: inputs[0], build=lambda inputs, p: _nn("Dropout")(p["p"]),
    emit=lambda code: Emitted(code.call(), init=f"nn.Dropout({num(float(code.params['p']))})"),
    summary=lambda p: f"{p['p']:g}", name_prefix="dropout", icon="dropout",
))


def _dropout2d_infer(inputs: list[Shape], p: Params) -> Shape:
    shape = inputs[0]
    if len(shape) != 3:
        raise ShapeError(
            f"drops whole channels of a feature map but receives a {fmt_shape(shape)} vector",
            hint="use Dropout on vectors (after a Flatten or Dense), or move this layer above the "
                 "Flatten",
        )
    return shape


DROPOUT2D = register(LayerSpec(
    key="dropout2d", title="Dropout2d", category="Regularization",
    description="Randomly zeroes whole channels while training: neighbouring pixels are "
                "correlated, so dropping single values regularises convolutions little.",
    params=(
        ParamSpec("p", "float", 0.5, title="rate", minimum=0.0, maximum=0.99, key=True,
                  help="Fraction of channels set to zero during training."),
    ),
    infer=_dropout2d_infer, build=lambda inputs, p: _nn("Dropout2d")(p["p"]),
    emit=lambda code: Emitted(code.call(), init=f"nn.Dropout2d({num(float(code.params['p']))})"),
    summary=lambda p: f"{p['p']:g}", name_prefix="dropout2d", icon="dropout2d",
))


IDENTITY = register(LayerSpec(
    key="identity", title="Identity", category="Reshape",
    description="Passes its input on unchanged: a named placeholder, e.g. the shortcut of a "
                "residual block or a point to inspect features at.",
    params=(), infer=lambda inputs, p: inputs[0], build=lambda inputs, p: _nn("Identity")(),
    emit=lambda code: Emitted(code.call(), init="nn.Identity()"), name_prefix="identity",
    icon="identity", extra={"keeps_shape": True},  # hints walk through it to the conv before
))


def _bn_infer(inputs: list[Shape], p: Params) -> Shape:
    shape = inputs[0]
    if len(shape) != 3:
        raise ShapeError(
            f"needs an image-like input (channels×height×width) but receives a "
            f"{fmt_shape(shape)} vector",
            hint=MOVE_BEFORE_FLATTEN,
        )
    return shape


def _bn_emit(code: LayerCode) -> Emitted:
    p = code.params
    kw: list[tuple[str, str]] = []
    if float(p["eps"]) != 1e-5:
        kw.append(("eps", num(float(p["eps"]))))
    if float(p["momentum"]) != 0.1:
        kw.append(("momentum", num(float(p["momentum"]))))
    if not p["affine"]:
        kw.append(("affine", "False"))
    return Emitted(code.call(), init=constructor("nn.BatchNorm2d", [integer(code.inputs[0][0])], kw))


BATCHNORM2D = register(LayerSpec(
    key="batchnorm2d", title="BatchNorm2d", category="Normalization",
    description="Normalises each channel over the batch; speeds up and stabilises training.",
    params=(
        ParamSpec("eps", "float", 1e-5, minimum=1e-12, maximum=1.0, advanced=True,
                  help="Added to the variance to avoid division by zero."),
        ParamSpec("momentum", "float", 0.1, minimum=0.0, maximum=1.0,
                  help="How fast the running statistics follow the batches."),
        ParamSpec("affine", "bool", True, help="Learn a scale and shift per channel."),
    ),
    infer=_bn_infer,
    build=lambda inputs, p: _nn("BatchNorm2d")(inputs[0][0], eps=p["eps"], momentum=p["momentum"],
                                                  affine=p["affine"]),
    emit=_bn_emit,
    count_params=lambda inputs, out, p: 2 * inputs[0][0] if p["affine"] else 0,
    name_prefix="bn", aliases=("batchnorm",), icon="norm",
))
