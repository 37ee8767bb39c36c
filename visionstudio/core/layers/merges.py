"""Feature fusion: nodes that take two or more inputs (residual Add, Concat, the
broadcasting Multiply of squeeze-and-excitation gates, ...)."""

from __future__ import annotations

from visionstudio.core.layers.base import (
    Emitted,
    LayerCode,
    LayerSpec,
    Params,
    Shape,
    ShapeError,
    fmt_shape,
    register,
)
from visionstudio.core.layers.source import num
from visionstudio.core.params import ParamSpec


def _all_equal(inputs: list[Shape], p: Params) -> Shape:
    first = inputs[0]
    for other in inputs[1:]:
        if other != first:
            hint = ""
            if len(first) == 3 and len(other) == 3 and first[1:] == other[1:]:
                hint = "; match the channels with a 1×1 Conv2d on one branch"
            elif len(first) == 3 and len(other) == 3 and first[0] == other[0]:
                hint = "; match the sizes (same strides and pooling on both branches)"
            raise ShapeError(
                f"inputs have different shapes {fmt_shape(first)} and {fmt_shape(other)}{hint}",
                hint="make every branch end with the same channels, height and width",
            )
    return first


def _concat(inputs: list[Shape], p: Params) -> Shape:
    ranks = {len(s) for s in inputs}
    if len(ranks) > 1:
        shapes = " and ".join(fmt_shape(s) for s in inputs)
        raise ShapeError(f"cannot join feature maps and vectors ({shapes}); flatten all branches or none",
                         hint="delete the Flatten on the flattened branch and put one after the "
                              "Concat instead, or flatten every branch")
    first = inputs[0]
    if len(first) == 3:
        for other in inputs[1:]:
            if other[1:] != first[1:]:
                raise ShapeError(
                    f"inputs must have the same height and width to join along channels; "
                    f"got {fmt_shape(first)} and {fmt_shape(other)}",
                    hint="give the branches the same strides and pooling, or padding 'same' on "
                         "their convolutions, so they end with the same height and width",
                )
        return (sum(s[0] for s in inputs), first[1], first[2])
    if len(first) == 1:
        return (sum(s[0] for s in inputs),)
    raise ShapeError(f"cannot join {fmt_shape(first)} tensors",
                     hint="join feature maps (channels×height×width) or vectors, nothing else")


def _weights(p: Params, n: int) -> list[float]:
    weights = list(p["weights"])
    if not weights:
        return [1.0 / n] * n
    if len(weights) != n:
        raise ShapeError(f"has {n} inputs but {len(weights)} weights; give one weight per input",
                         hint=f"enter {n} weights in port order, or clear the list for equal weights")
    return weights


def _weighted_infer(inputs: list[Shape], p: Params) -> Shape:
    _weights(p, len(inputs))
    return _all_equal(inputs, p)


def _merge(key: str, title: str, description: str, infer, build, emit, prefix: str,
           params=(), count_params=None, summary=lambda p: "", code_helpers=(),
           icon: str = "merge", broadcasts: bool = False) -> LayerSpec:
    extra = {"count_params": count_params} if count_params else {}
    if broadcasts:  # the quick fixes and hints let a size of 1 stretch to the others
        extra["extra"] = {"broadcasts": True}
    return register(LayerSpec(
        key=key, title=title, category="Merge", description=description, params=params,
        infer=infer, build=build, emit=emit, summary=summary, name_prefix=prefix,
        min_inputs=2, max_inputs=None, icon=icon, code_helpers=code_helpers, **extra,
    ))


# Imported on first build, not at start-up: torch loads only when a model is built.
def _build_add(inputs: list[Shape], p: Params):
    from visionstudio.core.layers.modules import Add

    return Add()


def _build_concat(inputs: list[Shape], p: Params):
    from visionstudio.core.layers.modules import Concat

    return Concat()


def _build_average(inputs: list[Shape], p: Params):
    from visionstudio.core.layers.modules import Average

    return Average()


def _build_weighted_sum(inputs: list[Shape], p: Params):
    from visionstudio.core.layers.modules import WeightedSum

    return WeightedSum(_weights(p, len(inputs)), p["learnable"])


def _emit_weighted_sum(code: LayerCode) -> Emitted:
    weights = ", ".join(num(float(w)) for w in _weights(code.params, len(code.args)))
    learn = ", learnable=True" if code.params["learnable"] else ""
    return Emitted(code.call(), init=f"WeightedSum([{weights}]{learn})")


# model.py's own copy of modules.WeightedSum (same state-dict key, "weight").
WEIGHTED_SUM_SOURCE = '''\
class WeightedSum(nn.Module):
    """sum_i w_i * x_i with fixed weights (a buffer) or learned ones (a parameter)."""

    def __init__(self, weights: list[float], learnable: bool = False) -> None:
        super().__init__()
        tensor = torch.tensor(weights, dtype=torch.float32)
        if learnable:
            self.weight = nn.Parameter(tensor)
        else:
            self.register_buffer("weight", tensor)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0] * self.weight[0]
        for i, x in enumerate(xs[1:], start=1):
            out = out + x * self.weight[i]
        return out
'''


ADD = _merge("add", "Add", "Adds its inputs element-wise: the residual (skip) connection of ResNets.",
             _all_equal, _build_add, lambda code: Emitted(" + ".join(code.args)), "add")
CONCAT = _merge("concat", "Concat", "Joins its inputs along the channel axis (Inception, DenseNet).",
                _concat, _build_concat,
                lambda code: Emitted(f"torch.cat([{', '.join(code.args)}], dim=1)"), "concat")
AVERAGE = _merge("average", "Average", "Element-wise mean of its inputs (ensembles of branches).",
                 _all_equal, _build_average,
                 lambda code: Emitted(f"({' + '.join(code.args)}) / {len(code.args)}"), "avg")
WEIGHTED_SUM = _merge(
    "weighted_sum", "Weighted sum",
    "Element-wise sum with one weight per input, fixed or learned.",
    _weighted_infer, _build_weighted_sum, _emit_weighted_sum, "wsum",
    params=(
        ParamSpec("weights", "float_list", [], minimum=-1e6, maximum=1e6,
                  help="One weight per input, in port order; empty means equal weights."),
        ParamSpec("learnable", "bool", False, key=True,
                  help="Learn the weights during training, starting from the values above."),
    ),
    count_params=lambda inputs, out, p: len(inputs) if p["learnable"] else 0,
    summary=lambda p: "learned" if p["learnable"] else "",
    code_helpers=(("WeightedSum", WEIGHTED_SUM_SOURCE),),
)


BROADCAST_HINT = ("give every input the same shape, or let a branch end in size 1 where the "
                  "others do not: a C×1×1 gate (AdaptiveAvgPool2d to 1×1, then 1×1 Conv2d layers) "
                  "scales a C×H×W feature map channel by channel")


def _broadcast(inputs: list[Shape], p: Params) -> Shape:
    """Torch's broadcasting per sample: each dimension equal, or 1 in all inputs but one
    size. Ranks must agree, because the batch dimension would otherwise be matched
    against a channel (a vector times a feature map depends on the batch size)."""
    first = inputs[0]
    for other in inputs[1:]:
        if len(other) != len(first):
            shapes = f"{fmt_shape(first)} and {fmt_shape(other)}"
            raise ShapeError(
                f"cannot combine a feature map and a vector element by element ({shapes})",
                hint="turn the vector into a C×1×1 map: end that branch with AdaptiveAvgPool2d "
                     "to 1×1 and 1×1 Conv2d layers instead of GlobalAvgPool and Dense",
            )
    out = list(first)
    for other in inputs[1:]:
        for i, (a, b) in enumerate(zip(out, other, strict=True)):
            if a != b and 1 not in (a, b):
                raise ShapeError(
                    f"inputs of shapes {fmt_shape(tuple(out))} and {fmt_shape(other)} cannot be "
                    f"combined element by element: {_axis(len(out), i)} {a} and {b} differ and "
                    "neither is 1",
                    hint=BROADCAST_HINT,
                )
            out[i] = max(a, b)
    return tuple(out)


def _axis(rank: int, i: int) -> str:
    return ("channels", "height", "width")[i] if rank == 3 else "sizes"


def _build_multiply(inputs: list[Shape], p: Params):
    from visionstudio.core.layers.pointwise_modules import Multiply

    return Multiply()


def _build_maximum(inputs: list[Shape], p: Params):
    from visionstudio.core.layers.pointwise_modules import Maximum

    return Maximum()


def _emit_maximum(code: LayerCode) -> Emitted:
    expr = code.args[0]
    for arg in code.args[1:]:
        expr = f"torch.maximum({expr}, {arg})"
    return Emitted(expr)


MULTIPLY = _merge(
    "multiply", "Multiply",
    "Multiplies its inputs element-wise; a C×1×1 input scales each channel of a C×H×W one "
    "(the gate of squeeze-and-excitation blocks).",
    _broadcast, _build_multiply, lambda code: Emitted(" * ".join(code.args)), "mul",
    icon="multiply", broadcasts=True,
)
MAXIMUM = _merge(
    "maximum", "Maximum",
    "Element-wise maximum of its inputs (Maxout-style fusion); sizes of 1 are broadcast.",
    _broadcast, _build_maximum, _emit_maximum, "max", icon="maximum",
    broadcasts=True,
)
