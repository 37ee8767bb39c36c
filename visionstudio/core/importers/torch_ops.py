"""What one torch.fx node becomes in the library: a kind and its parameters, or nothing.

``map_module`` handles the leaf modules a trace stops at (nn.Conv2d, nn.BatchNorm2d,
...; ``torch_calls.map_call`` the functions and tensor methods). Each returns an :class:`Op`; a
setting the library cannot express raises :class:`Unsupported` with the reason, so the
importer can list every such node at once. The layers' own modules keep torch's
state-dict names (Conv2dAct is an nn.Conv2d), so a mapped module's ``state_dict()`` is
the node's weights as they are.
"""

from __future__ import annotations

import dis
import functools
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn


class Unsupported(Exception):
    """An operation (or a setting of one) with no counterpart in the library."""


@dataclass
class Op:
    """``kind`` None: the node passes its first tensor input through (eval-mode dropout,
    nn.Identity). ``module``: whose state dict holds the node's weights."""

    kind: str | None
    params: dict[str, Any] = field(default_factory=dict)
    inputs: list[fx.Node] = field(default_factory=list)
    module: nn.Module | None = None
    note: str = ""


def pair(value: Any) -> int | list[int]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise Unsupported(f"a {len(value)}-value size")
        a, b = int(value[0]), int(value[1])
        return a if a == b else [a, b]
    return int(value)


def pool_stride(kernel: Any, stride: Any) -> Any:
    return pair(kernel) if stride is None or stride == [] or stride == () else pair(stride)


# -- leaf modules --------------------------------------------------------------------------
def _conv(m: nn.Conv2d) -> tuple[str, dict[str, Any]]:
    if m.padding_mode != "zeros":
        raise Unsupported(f"padding_mode={m.padding_mode!r}")
    padding = m.padding if isinstance(m.padding, str) else pair(m.padding)
    return "conv2d", {"out_channels": m.out_channels, "kernel_size": pair(m.kernel_size),
                      "stride": pair(m.stride), "padding": padding, "dilation": pair(m.dilation),
                      "groups": m.groups, "bias": m.bias is not None, "activation": "none"}


def _conv_transpose(m: nn.ConvTranspose2d) -> tuple[str, dict[str, Any]]:
    if m.padding_mode != "zeros":
        raise Unsupported(f"padding_mode={m.padding_mode!r}")
    return "conv_transpose2d", {"out_channels": m.out_channels, "kernel_size": pair(m.kernel_size),
                                "stride": pair(m.stride), "padding": pair(m.padding),
                                "output_padding": pair(m.output_padding), "dilation": pair(m.dilation),
                                "groups": m.groups, "bias": m.bias is not None}


def _instancenorm(m: nn.InstanceNorm2d) -> tuple[str, dict[str, Any]]:
    return "instancenorm2d", {"eps": m.eps, "momentum": m.momentum if m.momentum is not None else 0.1,
                              "affine": m.affine, "track_running_stats": m.track_running_stats}


def _upsample(m: nn.Upsample) -> tuple[str, dict[str, Any]]:
    if m.mode not in ("nearest", "bilinear"):
        raise Unsupported(f"mode={m.mode!r}")
    params: dict[str, Any] = {"mode": m.mode, "align_corners": bool(m.align_corners)}
    if m.size is not None:
        params.update(by="size", size=pair(m.size))
    else:
        factor = m.scale_factor
        if isinstance(factor, (tuple, list)):
            if len(set(factor)) != 1:
                raise Unsupported("different scale factors for height and width")
            factor = factor[0]
        params.update(by="scale", scale_factor=float(factor))
    return "upsample", params


def _batchnorm(m: nn.BatchNorm2d) -> tuple[str, dict[str, Any]]:
    if not m.track_running_stats or m.momentum is None:
        raise Unsupported("batch statistics without running averages")
    return "batchnorm2d", {"eps": m.eps, "momentum": m.momentum, "affine": m.affine}


def _maxpool(m: nn.MaxPool2d) -> tuple[str, dict[str, Any]]:
    if m.return_indices:
        raise Unsupported("return_indices=True")
    return "maxpool2d", {"kernel_size": pair(m.kernel_size), "stride": pool_stride(m.kernel_size, m.stride),
                         "padding": pair(m.padding), "ceil_mode": bool(m.ceil_mode),
                         "dilation": pair(m.dilation)}


def _avgpool(m: nn.AvgPool2d) -> tuple[str, dict[str, Any]]:
    if not m.count_include_pad or m.divisor_override is not None:
        raise Unsupported("count_include_pad=False or divisor_override")
    return "avgpool2d", {"kernel_size": pair(m.kernel_size), "stride": pool_stride(m.kernel_size, m.stride),
                         "padding": pair(m.padding), "ceil_mode": bool(m.ceil_mode)}


def adaptive(kind: str, size: Any) -> tuple[str, dict[str, Any]]:
    if size is None or (isinstance(size, (tuple, list)) and None in size):
        raise Unsupported("an output size of None")
    return kind, {"output_size": pair(size)}


def _linear(m: nn.Linear) -> tuple[str, dict[str, Any]]:
    return "dense", {"units": m.out_features, "bias": m.bias is not None, "activation": "none"}


def _flatten_module(m: nn.Flatten) -> tuple[str, dict[str, Any]]:
    if m.start_dim != 1 or m.end_dim != -1:
        raise Unsupported(f"flattening dimensions {m.start_dim}..{m.end_dim}")
    return "flatten", {}


def _softmax_module(kind: str, dim: Any) -> tuple[str, dict[str, Any]]:
    if dim not in (1, -1):
        raise Unsupported(f"dim={dim}")
    return kind, {}


def gelu(approximate: str) -> tuple[str, dict[str, Any]]:
    if approximate != "none":
        raise Unsupported(f"approximate={approximate!r}")
    return "gelu", {}


def _hardtanh(m: nn.Hardtanh) -> tuple[str, dict[str, Any]]:
    if (m.min_val, m.max_val) != (0.0, 6.0):
        raise Unsupported(f"limits {m.min_val}..{m.max_val}")
    return "relu6", {}


def _prelu(m: nn.PReLU) -> tuple[str, dict[str, Any]]:
    return "prelu", {"per_channel": m.num_parameters > 1, "init": 0.25}


def _groupnorm(m: nn.GroupNorm) -> tuple[str, dict[str, Any]]:
    return "groupnorm", {"num_groups": m.num_groups, "eps": m.eps, "affine": m.affine}


def _layernorm2d(m: nn.LayerNorm) -> tuple[str, dict[str, Any]]:
    return "layernorm", {"eps": m.eps, "affine": m.elementwise_affine}


def _simple(kind: str):
    return lambda m: (kind, {})


def _layer_norm_2d_types() -> tuple[type, ...]:
    from torchvision.models.convnext import LayerNorm2d

    return (LayerNorm2d,)


MODULES: dict[type, Any] = {
    nn.Conv2d: _conv, nn.BatchNorm2d: _batchnorm, nn.MaxPool2d: _maxpool, nn.AvgPool2d: _avgpool,
    nn.AdaptiveAvgPool2d: lambda m: adaptive("adaptive_avgpool2d", m.output_size),
    nn.AdaptiveMaxPool2d: lambda m: adaptive("adaptive_maxpool2d", m.output_size),
    nn.Linear: _linear, nn.Flatten: _flatten_module,
    nn.ReLU: _simple("relu"), nn.ReLU6: _simple("relu6"), nn.Sigmoid: _simple("sigmoid"),
    nn.Tanh: _simple("tanh"), nn.SiLU: _simple("silu"), nn.Mish: _simple("mish"),
    nn.Hardswish: _simple("hardswish"), nn.Hardsigmoid: _simple("hardsigmoid"),
    nn.GELU: lambda m: gelu(m.approximate), nn.Hardtanh: _hardtanh,
    nn.ELU: lambda m: ("elu", {"alpha": m.alpha}),
    nn.LeakyReLU: lambda m: ("leaky_relu", {"negative_slope": m.negative_slope}),
    nn.Softplus: lambda m: ("softplus", {"beta": m.beta, "threshold": m.threshold}),
    nn.Softmax: lambda m: _softmax_module("softmax", m.dim),
    nn.LogSoftmax: lambda m: _softmax_module("log_softmax", m.dim),
    nn.PReLU: _prelu, nn.GroupNorm: _groupnorm, nn.ConvTranspose2d: _conv_transpose,
    nn.InstanceNorm2d: _instancenorm, nn.Upsample: _upsample,
    nn.Dropout: lambda m: ("dropout", {"p": m.p}), nn.Dropout2d: lambda m: ("dropout2d", {"p": m.p}),
    nn.ZeroPad2d: lambda m: ("zeropad2d", dict(zip(("left", "right", "top", "bottom"), m.padding))),
}
PASS_MODULES: tuple[type, ...] = (nn.Identity,)


def _stochastic_depth_type() -> type:
    from torchvision.ops import StochasticDepth

    return StochasticDepth


def leaf_types() -> tuple[type, ...]:
    """The module classes a trace stops at (mapped here, not traced through)."""
    return (*MODULES, *PASS_MODULES, *_layer_norm_2d_types(), _stochastic_depth_type())


def _code_id(cls: type) -> tuple[Any, ...]:
    """A forward's instructions and the names they use (positions left out; a method
    look-up compiles either way)."""
    ops = tuple(("LOAD_ATTR" if i.opname == "LOAD_METHOD" else i.opname, repr(i.argval))
                for i in dis.get_instructions(cls.forward))
    return (*ops, cls.__bases__)


@functools.cache
def _helper_codes() -> dict[str, tuple[str, tuple[Any, ...]]]:
    """The helper classes the app's own model.py defines (WeightedSum, LayerNorm2d):
    class name -> (kind, its forward's code), from the library's own helper source."""
    from visionstudio.core.layers import LAYERS

    out: dict[str, tuple[str, tuple[Any, ...]]] = {}
    for kind in ("weighted_sum", "layernorm"):
        for name, source in LAYERS.get(kind).code_helpers:
            namespace: dict[str, Any] = {"torch": torch, "nn": nn, "F": F}
            exec(compile(source, f"<{name}>", "exec"), namespace)
            out[name] = (kind, _code_id(namespace[name]))
    return out


def app_helper(m: nn.Module) -> str | None:
    """The kind of one of the app's own helper modules (the same forward, byte for byte)."""
    entry = _helper_codes().get(type(m).__name__)
    return entry[0] if entry is not None and _code_id(type(m)) == entry[1] else None


def map_module(m: nn.Module, inputs: list[fx.Node]) -> Op:
    helper = app_helper(m)
    if helper == "weighted_sum":
        weight = m.weight
        return Op("weighted_sum", {"weights": [float(w) for w in weight.detach()],
                                   "learnable": isinstance(weight, nn.Parameter)}, list(inputs), m)
    if helper == "layernorm":
        kind, params = _layernorm2d(m)
        return Op(kind, params, inputs[:1], m)
    if isinstance(m, PASS_MODULES):
        return Op(None, inputs=inputs[:1])
    if isinstance(m, _stochastic_depth_type()):
        if m.training and m.p > 0:
            raise Unsupported("stochastic depth in training mode")
        return Op(None, inputs=inputs[:1],
                  note="Stochastic depth (identity in evaluation) was left out: "
                       "the library has no such layer.")
    if isinstance(m, _layer_norm_2d_types()):
        kind, params = _layernorm2d(m)
        return Op(kind, params, inputs[:1], m)
    convert = MODULES.get(type(m))
    if convert is None:
        raise Unsupported("no matching layer")
    kind, params = convert(m)
    return Op(kind, params, inputs[:1], m)
