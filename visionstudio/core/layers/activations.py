"""Activation functions, as nodes of their own and as the ``activation`` option of
Conv2d and Dense (Keras' ``Conv2D(32, 3, activation='relu')``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from visionstudio.core.layers.base import Emitted, LayerCode, LayerSpec, Shape, register
from visionstudio.core.layers.source import num
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
