"""The functions and tensor methods a torch.fx trace records, onto the library's kinds:
``x + y``, ``torch.cat``, ``torch.flatten(x, 1)`` and ``x.view(x.size(0), -1)``, ``F.relu``
and the other activations, ``x.mean((2, 3))``, functional pools, eval-mode dropout,
``(a + b) / 2`` (the app's own Average). Anything else raises Unsupported.
"""

from __future__ import annotations

import operator
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx

from visionstudio.core.importers.torch_ops import Op, Unsupported, adaptive, gelu, pair, pool_stride

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
    if dim is None or dim % len(shape_of(node)) != 1:
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
        k, p = adaptive(kind, _arg(node, 1, "output_size", None))
        return Op(k, p, [x])
    kernel = _arg(node, 1, "kernel_size", None)
    params = {"kernel_size": pair(kernel), "stride": pool_stride(kernel, _arg(node, 2, "stride", None)),
              "padding": pair(_arg(node, 3, "padding", 0))}
    if f is F.max_pool2d:
        params.update(dilation=pair(_arg(node, 4, "dilation", 1)),
                      ceil_mode=bool(_arg(node, 5, "ceil_mode", False)))
        return Op("maxpool2d", params, [x])
    params["ceil_mode"] = bool(_arg(node, 4, "ceil_mode", False))
    if not _arg(node, 5, "count_include_pad", True) or _arg(node, 6, "divisor_override", None) is not None:
        raise Unsupported("count_include_pad=False or divisor_override")
    return Op("avgpool2d", params, [x])


def _average(node: fx.Node) -> Op:
    """``(a + b + c) / 3`` (the app's own Average): the sum's terms averaged. The adds
    it replaces are left unused and dropped."""
    def single_add(n: Any) -> bool:
        return isinstance(n, fx.Node) and n.target in ADD and len(n.args) == 2 and len(n.users) == 1

    total, divisor = node.args[0], node.args[1]
    leaves = list(total.args) if single_add(total) else []
    while leaves and len(leaves) < divisor and single_add(leaves[0]):   # ((a + b) + c) / 3
        leaves = [*leaves[0].args, *leaves[1:]]
    if len(leaves) < 2 or divisor != len(leaves) or not all(is_tensor(t) for t in leaves):
        raise Unsupported("a division other than the average of a sum")
    return Op("average", {}, leaves)


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
        kind, params = gelu(node.kwargs.get("approximate", "none"))
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
    if target is operator.truediv:
        return _average(node)
    if target is torch.maximum:
        return _merge(node, "maximum")
    if target in (F.softplus, torch.nn.functional.softplus) or getattr(target, "__name__", "") == "softplus":
        return Op("softplus", {"beta": float(_arg(node, 1, "beta", 1.0)),
                               "threshold": float(_arg(node, 2, "threshold", 20.0))}, [node.args[0]])
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
