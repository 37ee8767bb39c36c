"""Activation functions, as nodes of their own and as the ``activation`` option of
Conv2d and Dense (Keras' ``Conv2D(32, 3, activation='relu')``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from visionstudio.core.layers.base import Emitted, LayerCode, LayerSpec, Shape, register
from visionstudio.core.layers.source import constructor, integer, num
from visionstudio.core.params import ParamSpec

if TYPE_CHECKING:  # torch is imported only when a model is built (fast app start)
    from torch import nn

ACTIVATION_CHOICES = ("none", "relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "softmax")
ACTIVATION_TITLES = {
    "none": "none", "relu": "ReLU", "leaky_relu": "LeakyReLU", "elu": "ELU", "gelu": "GELU",
    "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax",
}


def make_activation(name: str, **kwargs: Any) -> nn.Module | None:
    """The torch module for an activation name; softmax runs over the channel axis."""
    if name in ("none", "", None):
        return None
    from torch import nn

    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(kwargs.get("negative_slope", 0.01))
    if name == "elu":
        return nn.ELU(kwargs.get("alpha", 1.0))
    if name == "gelu":
        return nn.GELU()
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    if name == "softmax":
        return nn.Softmax(dim=1)
    return _standalone_module(name, kwargs)


def _standalone_module(name: str, kwargs: dict[str, Any]) -> nn.Module:
    """The kinds that exist only as nodes of their own (not as a fused ``activation``)."""
    from torch import nn

    plain = {"relu6": nn.ReLU6, "silu": nn.SiLU, "hardswish": nn.Hardswish,
             "hardsigmoid": nn.Hardsigmoid, "mish": nn.Mish}
    if name in plain:
        return plain[name]()
    if name == "softplus":
        return nn.Softplus(beta=kwargs.get("beta", 1.0), threshold=kwargs.get("threshold", 20.0))
    if name == "log_softmax":
        return nn.LogSoftmax(dim=1)
    raise ValueError(f"unknown activation {name!r}")


def activation_source(name: str, inner: str, params: Any = None) -> str:
    """``inner`` wrapped in the functional form of an activation, as model.py writes it
    (params for standalone nodes; the fused ``activation`` option uses torch's defaults)."""
    params = params or {}
    if name in ("none", "", None):
        return inner
    if name == "relu":
        return f"F.relu({inner})"
    if name == "leaky_relu":
        return f"F.leaky_relu({inner}, negative_slope={num(float(params.get('negative_slope', 0.01)))})"
    if name == "elu":
        return f"F.elu({inner}, alpha={num(float(params.get('alpha', 1.0)))})"
    if name == "gelu":
        return f"F.gelu({inner})"
    if name == "sigmoid":
        return f"torch.sigmoid({inner})"
    if name == "tanh":
        return f"torch.tanh({inner})"
    if name == "softmax":
        return f"F.softmax({inner}, dim=1)"
    if name in ("relu6", "silu", "hardswish", "hardsigmoid", "mish"):
        return f"F.{name}({inner})"
    if name == "softplus":
        beta, threshold = float(params.get("beta", 1.0)), float(params.get("threshold", 20.0))
        return f"F.softplus({inner}, beta={num(beta)}, threshold={num(threshold)})"
    if name == "log_softmax":
        return f"F.log_softmax({inner}, dim=1)"
    raise ValueError(f"unknown activation {name!r}")


def fused_activation_emitted(code: LayerCode, init: str) -> Emitted:
    """Conv2d/Dense with their ``activation`` option: the plain layer, then the function."""
    name = code.params["activation"]
    return Emitted(activation_source(name, code.call()), init=init,
                   logits=code.call() if name == "softmax" else None)


def activation_param() -> ParamSpec:
    return ParamSpec(
        "activation", "choice", "none", title="activation", choices=ACTIVATION_CHOICES,
        help="Applied to the layer's output (Keras style); 'none' leaves it linear.", key=True,
    )


def _same(inputs: list[Shape], p: Any) -> Shape:
    return inputs[0]


def _simple(key: str, title: str, description: str, params: tuple[ParamSpec, ...] = (),
            summary=lambda p: "") -> LayerSpec:
    return register(LayerSpec(
        key=key, title=title, category="Activation", description=description, params=params,
        infer=_same, build=lambda inputs, p, _k=key: make_activation(_k, **dict(p)),
        emit=lambda code, _k=key: Emitted(activation_source(_k, code.arg, code.params),
                                          logits=code.arg if _k == "softmax" else None),
        summary=summary, name_prefix=key.replace("_", ""), icon="activation",
    ))


RELU = _simple("relu", "ReLU", "max(0, x): the default non-linearity for CNNs.")
LEAKY_RELU = _simple(
    "leaky_relu", "LeakyReLU", "Like ReLU but lets a small slope through for x < 0.",
    (ParamSpec("negative_slope", "float", 0.01, title="negative slope", minimum=0.0,
               maximum=1.0, help="Slope for negative inputs.", key=True),),
    summary=lambda p: f"α={p['negative_slope']:g}",
)
ELU = _simple(
    "elu", "ELU", "Exponential linear unit: smooth for x < 0, identity for x > 0.",
    (ParamSpec("alpha", "float", 1.0, minimum=0.0, maximum=100.0,
               help="Value the output saturates to for very negative inputs (as -alpha).",
               key=True),),
    summary=lambda p: f"α={p['alpha']:g}",
)
GELU = _simple("gelu", "GELU", "Gaussian error linear unit, a smooth ReLU used in modern nets.")
SIGMOID = _simple("sigmoid", "Sigmoid", "Squashes to (0, 1); for binary outputs and gates.")
TANH = _simple("tanh", "Tanh", "Squashes to (-1, 1).")
SOFTMAX = _simple(
    "softmax", "Softmax",
    "Turns scores into class probabilities over the channel axis. Before a cross-entropy "
    "loss it is folded into the loss during training.",
)
RELU6 = _simple("relu6", "ReLU6", "min(max(0, x), 6): ReLU capped at 6, as in MobileNet.")
SILU = _simple("silu", "SiLU", "x·sigmoid(x) (also called Swish): the smooth ReLU of EfficientNet.")
HARDSWISH = _simple("hardswish", "Hardswish",
                    "A cheap piecewise approximation of SiLU, used in MobileNetV3.")
HARDSIGMOID = _simple("hardsigmoid", "Hardsigmoid",
                      "A cheap piecewise sigmoid, clipped to [0, 1]; the gate of MobileNetV3's "
                      "squeeze-and-excitation blocks.")
MISH = _simple("mish", "Mish", "x·tanh(softplus(x)): a smooth non-linearity used in YOLOv4.")
SOFTPLUS = _simple(
    "softplus", "Softplus", "log(1 + exp(β·x)) / β: a smooth ReLU that is positive everywhere.",
    (ParamSpec("beta", "float", 1.0, title="beta", minimum=1e-3, maximum=1000.0, key=True,
               help="Sharpness: the larger, the closer the curve is to ReLU."),
     ParamSpec("threshold", "float", 20.0, minimum=0.0, maximum=1000.0, advanced=True,
               help="Above β·x = threshold the output is x itself (avoids overflow in exp).")),
    summary=lambda p: f"β={p['beta']:g}",
)
LOG_SOFTMAX = _simple(
    "log_softmax", "LogSoftmax",
    "Log of the class probabilities over the channel axis: the output the negative "
    "log-likelihood loss expects. Before a cross-entropy loss it is folded into the loss "
    "during training.",
)


def _prelu_weights(inputs: list[Shape], p: Any) -> int:
    return inputs[0][0] if p["per_channel"] else 1


def _prelu_build(inputs: list[Shape], p: Any) -> nn.Module:
    from torch import nn

    return nn.PReLU(_prelu_weights(inputs, p), init=float(p["init"]))


def _prelu_emit(code: LayerCode) -> Emitted:
    n, init = _prelu_weights(list(code.inputs), code.params), float(code.params["init"])
    args = [integer(n)] if n != 1 else []
    kwargs = [("init", num(init))] if init != 0.25 else []
    return Emitted(code.call(), init=constructor("nn.PReLU", args, kwargs))


PRELU = register(LayerSpec(
    key="prelu", title="PReLU", category="Activation",
    description="LeakyReLU whose negative slope is learned, shared or one per channel (He et al.).",
    params=(
        ParamSpec("per_channel", "bool", False, title="one slope per channel", key=True,
                  help="Learn a slope for every channel (feature) instead of one for the layer."),
        ParamSpec("init", "float", 0.25, title="initial slope", minimum=-1.0, maximum=1.0,
                  help="Slope for negative inputs before training."),
    ),
    infer=_same, build=_prelu_build, emit=_prelu_emit,
    count_params=lambda inputs, out, p: _prelu_weights(inputs, p),
    summary=lambda p: "per channel" if p["per_channel"] else "",
    name_prefix="prelu", icon="activation",
))
