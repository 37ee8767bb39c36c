"""One mapping per ONNX operator onto the library's kinds (``OPS``).

A handler gets the node's inputs as values (``Value``: a tensor of the network) or
constants (numpy arrays: initializers, Constant nodes) and returns one entry per output.
A supported operator used in a way the library cannot express (asymmetric max-pool
padding, a cubic Resize, adding a constant) is reported with the reason and the walk
goes on, so the user gets every problem at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from visionstudio.core.importers.flat import DEAD, FlatBuilder, Value


def attributes(node: Any, tensors: Any, where: str) -> dict[str, Any]:
    import onnx

    found: dict[str, Any] = {}
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.TENSOR:
            found[attr.name] = tensors.array(attr.t, f"the value of {where}")
            continue
        value = onnx.helper.get_attribute_value(attr)
        found[attr.name] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return found


@dataclass
class OnnxCtx:
    builder: FlatBuilder
    tensors: Any
    node: Any
    where: str
    attrs: dict[str, Any]
    inputs: list[Any]
    uses: dict[str, int]
    values: dict[str, Any]
    opset: int

    def unsupported(self, why: str) -> list[Any]:
        self.builder.unsupported(f"{self.where} ({why})")
        return [DEAD] * len(self.node.output)

    def value(self, i: int = 0) -> Value | None:
        v = self.inputs[i] if i < len(self.inputs) else None
        return v if isinstance(v, Value) else None

    def const(self, i: int) -> np.ndarray | None:
        v = self.inputs[i] if i < len(self.inputs) else None
        return v if isinstance(v, np.ndarray) else None

    def add(self, kind: str, params: dict[str, Any], inputs: list[Value], suffix: str = "") -> Value:
        raw = self.node.name or (self.node.output[0] if self.node.output else kind)
        return self.builder.add(kind, raw + suffix, params, inputs, self.where)

    def extra_outputs_used(self) -> bool:
        return any(name and self.uses.get(name, 0) for name in self.node.output[1:])

    def out(self, value: Any) -> list[Any]:
        return [value] + [DEAD] * (len(self.node.output) - 1)


Handler = Callable[[OnnxCtx], list[Any]]


def _image(ctx: OnnxCtx) -> Value | None:
    x = ctx.value(0)
    return x if x is not None and x.known and len(x.shape) == 3 else None


def _dead(ctx: OnnxCtx) -> bool:
    return any(isinstance(v, Value) and not v.known for v in ctx.inputs)


def _window_pads(ctx: OnnxCtx, x: Value, k: tuple[int, int], s: tuple[int, int],
                 d: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """(top, left, bottom, right) from ``pads`` or ``auto_pad``; None: unreadable."""
    auto = ctx.attrs.get("auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        pads = list(ctx.attrs.get("pads", [0, 0, 0, 0]))
        return tuple(int(p) for p in pads) if len(pads) == 4 else None
    if auto == "VALID":
        return 0, 0, 0, 0
    out = []
    for size, kk, ss, dd in zip(x.shape[1:], k, s, d):
        total = max((math.ceil(size / ss) - 1) * ss + (kk - 1) * dd + 1 - size, 0)
        small, big = total // 2, total - total // 2
        out.append((small, big) if auto == "SAME_UPPER" else (big, small))
    return out[0][0], out[1][0], out[0][1], out[1][1]


def _pair_attr(ctx: OnnxCtx, name: str, default: int) -> tuple[int, int] | None:
    value = list(ctx.attrs.get(name, [default, default]))
    return (int(value[0]), int(value[1])) if len(value) == 2 else None


def conv(ctx: OnnxCtx) -> list[Any]:
    x, w, b = _image(ctx), ctx.const(1), ctx.const(2)
    if x is None or w is None or w.ndim != 4 or (len(ctx.inputs) > 2 and b is None):
        return ctx.out(DEAD) if _dead(ctx) else ctx.unsupported("only a 2-D convolution of an image "
                                                                 "with constant weights is imported")
    cout, _, kh, kw = w.shape
    s, d = _pair_attr(ctx, "strides", 1), _pair_attr(ctx, "dilations", 1)
    pads = _window_pads(ctx, x, (kh, kw), s or (1, 1), d or (1, 1)) if s and d else None
    if pads is None:
        return ctx.unsupported("strides, dilations or pads that are not two-dimensional")
    top, left, bottom, right = pads
    if (top, left) != (bottom, right):
        x = ctx.add("zeropad2d", {"top": top, "bottom": bottom, "left": left, "right": right}, [x], "_pad")
        top = left = 0
    out = ctx.add("conv2d", {"out_channels": int(cout), "kernel_size": [int(kh), int(kw)], "stride": list(s),
                             "padding": [top, left], "dilation": list(d),
                             "groups": int(ctx.attrs.get("group", 1)),
                             "bias": b is not None}, [x])
    ctx.builder.weight(out, "weight", w)
    if b is not None:
        ctx.builder.weight(out, "bias", b)
    return ctx.out(out)


def conv_transpose(ctx: OnnxCtx) -> list[Any]:
    x, w, b = _image(ctx), ctx.const(1), ctx.const(2)
    if x is None or w is None or w.ndim != 4 or (len(ctx.inputs) > 2 and b is None):
        return ctx.out(DEAD) if _dead(ctx) else ctx.unsupported("only a 2-D transposed convolution with "
                                                                 "constant weights is imported")
    if ctx.attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "") or "output_shape" in ctx.attrs:
        return ctx.unsupported("auto_pad or output_shape")
    pads = [int(p) for p in ctx.attrs.get("pads", [0, 0, 0, 0])]
    s, d = _pair_attr(ctx, "strides", 1), _pair_attr(ctx, "dilations", 1)
    op = _pair_attr(ctx, "output_padding", 0)
    if len(pads) != 4 or pads[:2] != pads[2:] or None in (s, d, op):
        return ctx.unsupported("padding that differs between the two sides")
    group = int(ctx.attrs.get("group", 1))
    out = ctx.add("conv_transpose2d", {"out_channels": int(w.shape[1]) * group,
                                       "kernel_size": [int(v) for v in w.shape[2:]],
                                       "stride": list(s), "padding": pads[:2], "output_padding": list(op),
                                       "dilation": list(d), "groups": group, "bias": b is not None}, [x])
    ctx.builder.weight(out, "weight", w)
    if b is not None:
        ctx.builder.weight(out, "bias", b)
    return ctx.out(out)


def _vector(ctx: OnnxCtx) -> Value | None:
    x = ctx.value(0)
    return x if x is not None and x.known and len(x.shape) == 1 else None


def gemm(ctx: OnnxCtx) -> list[Any]:
    x, b, c = _vector(ctx), ctx.const(1), ctx.const(2)
    if (x is None or b is None or b.ndim != 2 or ctx.attrs.get("transA", 0)
            or (len(ctx.inputs) > 2 and c is None)):
        return ctx.out(DEAD) if _dead(ctx) else ctx.unsupported("only a vector times a constant matrix "
                                                                 "is imported")
    weight = (b if ctx.attrs.get("transB", 0) else b.T) * float(ctx.attrs.get("alpha", 1.0))
    units = weight.shape[0]
    out = ctx.add("dense", {"units": int(units), "bias": c is not None}, [x])
    ctx.builder.weight(out, "weight", weight)
    if c is not None:
        if c.size not in (1, units):
            return ctx.unsupported(f"a bias of shape {c.shape}")
        beta = float(ctx.attrs.get("beta", 1.0))
        ctx.builder.weight(out, "bias", np.broadcast_to(c.reshape(-1), (units,)) * beta)
    return ctx.out(out)


def matmul(ctx: OnnxCtx) -> list[Any]:
    """A Dense without bias; an Add of a constant right after it becomes its bias."""
    x, b = _vector(ctx), ctx.const(1)
    if x is None or b is None or b.ndim != 2:
        return ctx.out(DEAD) if _dead(ctx) else ctx.unsupported("only a vector times a constant matrix "
                                                                 "is imported")
    out = ctx.add("dense", {"units": int(b.shape[1]), "bias": False}, [x])
    ctx.builder.weight(out, "weight", b.T)
    return ctx.out(out)


def merge(kind: str) -> Handler:
    def handle(ctx: OnnxCtx) -> list[Any]:
        if _dead(ctx):
            return ctx.out(DEAD)
        values = [v for v in ctx.inputs if isinstance(v, Value)]
        consts = [v for v in ctx.inputs if isinstance(v, np.ndarray)]
        if kind == "add" and len(values) == 1 and len(consts) == 1:
            return _bias_add(ctx, values[0], consts[0])
        if consts or len(values) < 2:
            return ctx.unsupported("combining with a constant tensor")
        return ctx.out(ctx.add(kind, {}, values))
    return handle


def _bias_add(ctx: OnnxCtx, x: Value, c: np.ndarray) -> list[Any]:
    node = ctx.builder.node_params(x)
    if (node is not None and node["kind"] == "dense" and not node["params"]["bias"]
            and c.size == x.shape[0] and ctx.uses.get(_source_name(ctx, x), 0) == 1):
        node["params"]["bias"] = True
        ctx.builder.weight(x, "bias", c.reshape(-1))
        return ctx.out(x)
    return ctx.unsupported("adding a constant tensor")


def _source_name(ctx: OnnxCtx, x: Value) -> str:
    return next((name for name in ctx.node.input if ctx.values.get(name) is x), "")


def unary(kind: str, params: Callable[[OnnxCtx], dict[str, Any] | str] = lambda ctx: {}) -> Handler:
    def handle(ctx: OnnxCtx) -> list[Any]:
        x = ctx.value(0)
        if x is None or not x.known:
            return ctx.out(DEAD) if _dead(ctx) else ctx.unsupported("its input is a constant")
        p = params(ctx)
        if isinstance(p, str):
            return ctx.unsupported(p)
        if _fuse(ctx, x, kind, p):
            return ctx.out(x)
        return ctx.out(ctx.add(kind, p, [x]))
    return handle


FUSABLE = frozenset({"relu", "elu", "gelu", "sigmoid", "tanh", "softmax"})


def _fuse(ctx: OnnxCtx, x: Value, kind: str, params: dict[str, Any]) -> bool:
    """Fold an activation into the Conv2d or Dense before it (their ``activation``), as the
    app's own layers carry it, when nothing else reads the layer's raw output."""
    node = ctx.builder.node_params(x)
    if (kind not in FUSABLE or params.get("alpha", 1.0) != 1.0 or node is None
            or node["kind"] not in ("conv2d", "dense") or node["params"]["activation"] != "none"
            or ctx.uses.get(_source_name(ctx, x), 0) != 1 or (kind == "softmax" and node["kind"] != "dense")):
        return False
    node["params"]["activation"] = kind
    return True


def _hardsigmoid(ctx: OnnxCtx) -> dict[str, Any] | str:
    alpha, beta = float(ctx.attrs.get("alpha", 0.2)), float(ctx.attrs.get("beta", 0.5))
    ok = abs(alpha - 1 / 6) < 1e-6 and abs(beta - 0.5) < 1e-6
    return {} if ok else f"alpha {alpha} and beta {beta} (torch's Hardsigmoid is x/6 + 1/2)"


def _softmax(ctx: OnnxCtx) -> dict[str, Any] | str:
    x = ctx.value(0)
    axis = int(ctx.attrs.get("axis", -1 if ctx.opset >= 13 else 1))
    rank = len(x.shape) + 1
    if rank == 2 and axis in (1, -1):
        return {}
    if rank == 4 and axis in (1, -3) and ctx.opset >= 13:
        return {}
    return f"softmax over axis {axis} of a rank-{rank} tensor"


def _clip_kind(ctx: OnnxCtx) -> list[Any]:
    low = ctx.const(1) if len(ctx.inputs) > 1 else ctx.attrs.get("min")
    high = ctx.const(2) if len(ctx.inputs) > 2 else ctx.attrs.get("max")
    low = None if low is None else float(np.asarray(low).reshape(-1)[0])
    high = None if high is None else float(np.asarray(high).reshape(-1)[0])
    if low == 0.0 and high == 6.0:
        return unary("relu6")(ctx)
    if low == 0.0 and (high is None or math.isinf(high)):
        return unary("relu")(ctx)
    return ctx.unsupported(f"clipping to [{low}, {high}] (ReLU and ReLU6 are imported)")


def _prelu(ctx: OnnxCtx) -> list[Any]:
    x, slope = ctx.value(0), ctx.const(1)
    if x is None or not x.known or slope is None:
        return ctx.out(DEAD) if _dead(ctx) else ctx.unsupported("a slope that is not a constant")
    per_channel = slope.size != 1
    if per_channel and slope.size != x.shape[0]:
        return ctx.unsupported(f"a slope of shape {slope.shape}")
    out = ctx.add("prelu", {"per_channel": per_channel, "init": 0.25}, [x])
    ctx.builder.weight(out, "weight", slope.reshape(-1))
    return ctx.out(out)
