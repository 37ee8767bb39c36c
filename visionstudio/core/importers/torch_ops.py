"""What one torch.fx node becomes in the library: a kind and its parameters, or nothing.

``map_module`` handles the leaf modules a trace stops at (nn.Conv2d, nn.BatchNorm2d,
...), ``map_call`` the functions and tensor methods it records (``x + y``,
``torch.flatten(x, 1)``, ``F.relu``, ``x.mean((2, 3))``). Each returns an :class:`Op`; a
setting the library cannot express raises :class:`Unsupported` with the reason, so the
importer can list every such node at once. The layers' own modules keep torch's
state-dict names (Conv2dAct is an nn.Conv2d), so a mapped module's ``state_dict()`` is
the node's weights as they are.
"""

from __future__ import annotations

import operator
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


def _pool_stride(kernel: Any, stride: Any) -> Any:
    return pair(kernel) if stride is None or stride == [] or stride == () else pair(stride)


# -- leaf modules --------------------------------------------------------------------------
def _conv(m: nn.Conv2d) -> tuple[str, dict[str, Any]]:
    if m.padding_mode != "zeros":
        raise Unsupported(f"padding_mode={m.padding_mode!r}")
    padding = m.padding if isinstance(m.padding, str) else pair(m.padding)
    return "conv2d", {"out_channels": m.out_channels, "kernel_size": pair(m.kernel_size),
                      "stride": pair(m.stride), "padding": padding, "dilation": pair(m.dilation),
                      "groups": m.groups, "bias": m.bias is not None, "activation": "none"}


def _batchnorm(m: nn.BatchNorm2d) -> tuple[str, dict[str, Any]]:
    if not m.track_running_stats or m.momentum is None:
        raise Unsupported("batch statistics without running averages")
    return "batchnorm2d", {"eps": m.eps, "momentum": m.momentum, "affine": m.affine}


def _maxpool(m: nn.MaxPool2d) -> tuple[str, dict[str, Any]]:
    if m.return_indices:
        raise Unsupported("return_indices=True")
    return "maxpool2d", {"kernel_size": pair(m.kernel_size), "stride": _pool_stride(m.kernel_size, m.stride),
                         "padding": pair(m.padding), "ceil_mode": bool(m.ceil_mode),
                         "dilation": pair(m.dilation)}


def _avgpool(m: nn.AvgPool2d) -> tuple[str, dict[str, Any]]:
    if not m.count_include_pad or m.divisor_override is not None:
        raise Unsupported("count_include_pad=False or divisor_override")
    return "avgpool2d", {"kernel_size": pair(m.kernel_size), "stride": _pool_stride(m.kernel_size, m.stride),
                         "padding": pair(m.padding), "ceil_mode": bool(m.ceil_mode)}


def _adaptive(kind: str, size: Any) -> tuple[str, dict[str, Any]]:
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


def _gelu(approximate: str) -> tuple[str, dict[str, Any]]:
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
    nn.AdaptiveAvgPool2d: lambda m: _adaptive("adaptive_avgpool2d", m.output_size),
    nn.AdaptiveMaxPool2d: lambda m: _adaptive("adaptive_maxpool2d", m.output_size),
    nn.Linear: _linear, nn.Flatten: _flatten_module,
    nn.ReLU: _simple("relu"), nn.ReLU6: _simple("relu6"), nn.Sigmoid: _simple("sigmoid"),
    nn.Tanh: _simple("tanh"), nn.SiLU: _simple("silu"), nn.Mish: _simple("mish"),
    nn.Hardswish: _simple("hardswish"), nn.Hardsigmoid: _simple("hardsigmoid"),
    nn.GELU: lambda m: _gelu(m.approximate), nn.Hardtanh: _hardtanh,
    nn.ELU: lambda m: ("elu", {"alpha": m.alpha}),
    nn.LeakyReLU: lambda m: ("leaky_relu", {"negative_slope": m.negative_slope}),
    nn.Softplus: lambda m: ("softplus", {"beta": m.beta, "threshold": m.threshold}),
    nn.Softmax: lambda m: _softmax_module("softmax", m.dim),
    nn.LogSoftmax: lambda m: _softmax_module("log_softmax", m.dim),
    nn.PReLU: _prelu, nn.GroupNorm: _groupnorm,
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


def map_module(m: nn.Module, inputs: list[fx.Node]) -> Op:
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


# -- functions and tensor methods -----------------------------------------------------------
ACTIVATIONS = {
    F.relu: "relu", torch.relu: "relu", F.relu6: "relu6", torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid",
    torch.tanh: "tanh", F.tanh: "tanh", F.silu: "silu", F.mish: "mish", F.hardswish: "hardswish",
    F.hardsigmoid: "hardsigmoid", F.elu: "elu", F.leaky_relu: "leaky_relu",
}
METHOD_ACTIVATIONS = {"relu": "relu", "relu_": "relu", "sigmoid": "sigmoid", "sigmoid_": "sigmoid",
                      "tanh": "tanh", "tanh_": "tanh"}
ADD = (operator.add, operator.iadd, torch.add)
MUL = (operator.mul, operator.imul, torch.mul)


def is_tensor(node: Any) -> bool:
    return isinstance(node, fx.Node) and "tensor_meta" in node.meta


def shape_of(node: fx.Node) -> tuple[int, ...]:
    return tuple(int(d) for d in node.meta["tensor_meta"].shape)


def _arg(node: fx.Node, index: int, name: str, default: Any) -> Any:
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def _extra_kwargs(node: fx.Node, allowed: set[str]) -> None:
    extra = sorted(set(node.kwargs) - allowed)
    if extra:
        raise Unsupported(f"the argument(s) {', '.join(extra)}")


def _merge(node: fx.Node, kind: str) -> Op:
    a, b = node.args[0], node.args[1]
    if not (is_tensor(a) and is_tensor(b)):
        raise Unsupported("a tensor combined with a constant")
    _extra_kwargs(node, set())
    return Op(kind, {}, [a, b])


def _activation(node: fx.Node, kind: str) -> Op:
    x = node.args[0]
    params: dict[str, Any] = {}
    if kind == "elu":
        params = {"alpha": float(_arg(node, 1, "alpha", 1.0))}
    elif kind == "leaky_relu":
        params = {"negative_slope": float(_arg(node, 1, "negative_slope", 0.01))}
    return Op(kind, params, [x])


def _flatten_call(node: fx.Node) -> Op:
    start = _arg(node, 1, "start_dim", 0)
    end = _arg(node, 2, "end_dim", -1)
    if start != 1 or end != -1:
        raise Unsupported(f"flattening dimensions {start}..{end}")
    return Op("flatten", {}, [node.args[0]])


def _view(node: fx.Node) -> Op:
    """``x.view(x.size(0), -1)`` / ``x.reshape(n, -1)``: a flatten when the result keeps the
    batch and puts every other value in one row."""
    x = node.args[0]
    if is_tensor(node) and len(shape_of(node)) == 2 and shape_of(node)[0] == shape_of(x)[0]:
        return Op("flatten", {}, [x])
    raise Unsupported("a reshape other than flattening each sample")


def _mean(node: fx.Node) -> Op:
    dims = _arg(node, 1, "dim", None)
    keep = _arg(node, 2, "keepdim", False)
    if dims is None or sorted(int(d) % 4 for d in dims) != [2, 3] or len(shape_of(node.args[0])) != 4:
        raise Unsupported(f"a mean over dimensions {dims}")
    if keep:
        return Op("adaptive_avgpool2d", {"output_size": 1}, [node.args[0]])
    return Op("global_avgpool", {}, [node.args[0]])


def _cat(node: fx.Node) -> Op:
    tensors = _arg(node, 0, "tensors", [])
    dim = _arg(node, 1, "dim", 0)
    rank = len(shape_of(node))
    if dim % rank != 1 or not all(is_tensor(t) for t in tensors):
        raise Unsupported(f"concatenation along dimension {dim}")
    return Op("concat", {}, list(tensors))


def _softmax(node: fx.Node, kind: str) -> Op:
    dim = _arg(node, 1, "dim", None)
    if dim not in (1, -1) or len(shape_of(node)) != 2:
        raise Unsupported(f"dim={dim}")
    return Op(kind, {}, [node.args[0]])


def _dropout(node: fx.Node) -> Op:
    training = _arg(node, 2, "training", True)
    if training is not False:
        raise Unsupported("functional dropout that follows the training flag")
    return Op(None, inputs=[node.args[0]])


def _pool_call(node: fx.Node) -> Op:
    f = node.target
    x = node.args[0]
    if f in (F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
        kind = "adaptive_avgpool2d" if f is F.adaptive_avg_pool2d else "adaptive_maxpool2d"
        k, p = _adaptive(kind, _arg(node, 1, "output_size", None))
        return Op(k, p, [x])
    kernel = _arg(node, 1, "kernel_size", None)
    params = {"kernel_size": pair(kernel), "stride": _pool_stride(kernel, _arg(node, 2, "stride", None)),
              "padding": pair(_arg(node, 3, "padding", 0))}
    if f is F.max_pool2d:
        params.update(dilation=pair(_arg(node, 4, "dilation", 1)),
                      ceil_mode=bool(_arg(node, 5, "ceil_mode", False)))
        return Op("maxpool2d", params, [x])
    params["ceil_mode"] = bool(_arg(node, 4, "ceil_mode", False))
    if not _arg(node, 5, "count_include_pad", True) or _arg(node, 6, "divisor_override", None) is not None:
        raise Unsupported("count_include_pad=False or divisor_override")
    return Op("avgpool2d", params, [x])


POOLS = (F.adaptive_avg_pool2d, F.adaptive_max_pool2d, F.max_pool2d, F.avg_pool2d)


def map_call(node: fx.Node) -> Op:
    """A call_function / call_method node whose result is a tensor."""
    target = node.target
    if node.op == "call_method":
        if target in METHOD_ACTIVATIONS:
            return Op(METHOD_ACTIVATIONS[target], {}, [node.args[0]])
        if target in ("add", "add_"):
            return _merge(node, "add")
        if target in ("mul", "mul_"):
            return _merge(node, "multiply")
        if target == "flatten":
            return _flatten_call(node)
        if target in ("view", "reshape"):
            return _view(node)
        if target == "mean":
            return _mean(node)
        if target in ("contiguous", "clone"):
            return Op(None, inputs=[node.args[0]])
        raise Unsupported("no matching layer")
    if target in ADD:
        return _merge(node, "add")
    if target in MUL:
        return _merge(node, "multiply")
    if target in ACTIVATIONS:
        return _activation(node, ACTIVATIONS[target])
    if target is F.gelu:
        kind, params = _gelu(node.kwargs.get("approximate", "none"))
        return Op(kind, params, [node.args[0]])
    if target is torch.flatten:
        return _flatten_call(node)
    if target is torch.cat:
        return _cat(node)
    if target in (F.softmax, torch.softmax):
        return _softmax(node, "softmax")
    if target in (F.log_softmax, torch.log_softmax):
        return _softmax(node, "log_softmax")
    if target is F.dropout:
        return _dropout(node)
    if target in POOLS:
        return _pool_call(node)
    if target is torch.mean:
        return _mean(node)
    if target is torch.reshape:
        return _view(node)
    raise Unsupported("no matching layer")


def describe(node: fx.Node) -> str:
    """The operation in the user's words: ``torch.permute``, ``Tensor.view``, ``mul``."""
    target = node.target
    if node.op == "call_method":
        return f"Tensor.{target}"
    if node.op == "get_attr":
        return f"the learned tensor {target}"
    module = getattr(target, "__module__", "") or ""
    name = getattr(target, "__name__", str(target))
    if module in ("_operator", "operator"):
        return name
    if module.startswith("torch.nn.functional"):
        return f"F.{name}"
    if module.startswith("torch"):
        return f"torch.{name}"
    return f"{module}.{name}" if module else name
