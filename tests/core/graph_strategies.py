"""Hypothesis strategies and small helpers for building graphs in tests.

Reusable by any test module in tests/core::

    from .graph_strategies import GraphBuilder, invalid_graphs, valid_graphs

``valid_graphs()`` draws small, always-valid networks (stacks, residual merges,
Concat branches, pools, BatchNorm, Dropout, activations, Flatten/GlobalAvgPool +
Dense heads). Their shapes are tracked here with torch's own formulas, independently
of the layer specs, so a wrong shape rule cannot make the generator lenient.
``pointwise_graphs()`` draws mostly the modern activations, GroupNorm/LayerNorm/
InstanceNorm2d, Dropout2d, Identity and broadcasting Multiply/Maximum (SE-style gates).

``invalid_graphs()`` draws a valid graph and breaks it with one to three mutations;
each mutation says which diagnostic it expects when it is the only one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from visionstudio.core.graph import AddNode, Connect, Edge, GraphModel, Node, analyze
from visionstudio.core.layers import LAYERS

ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "softmax")
CONV_ACTIVATIONS = ("none", "relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "softmax")
MAX_CHANNELS = 16


class GraphBuilder:
    """Builds a graph through the public commands (no undo history)."""

    def __init__(self, graph: GraphModel | None = None) -> None:
        self.graph = graph if graph is not None else GraphModel()
        self._x = 0.0

    def add(self, kind: str, *inputs: str, name: str | None = None, **params: Any) -> str:
        self._x += 120.0
        cmd = AddNode(kind, (self._x, 0.0), name=name, params=params or None)
        cmd.apply(self.graph)
        for src in inputs:
            Connect(src, cmd.node_id).apply(self.graph)
        return cmd.node_id

    def name(self, node_id: str) -> str:
        return self.graph.nodes[node_id].name

    def id(self, name: str) -> str:
        node = self.graph.node_by_name(name)
        assert node is not None, name
        return node.id


# -- shape formulas, as torch computes them -------------------------------------------
def conv_out(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def pool_out(size: int, k: int, s: int, p: int, ceil_mode: bool) -> int:
    out = (size + 2 * p - (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


# -- valid graphs ------------------------------------------------------------------------
@dataclass
class _State:
    b: GraphBuilder
    cur: str
    shape: tuple[int, ...]
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def step(self, kind: str, shape: tuple[int, ...], *inputs: str, **params: Any) -> str:
        nid = self.b.add(kind, *(inputs or (self.cur,)), **params)
        self.shapes[nid] = shape
        self.cur, self.shape = nid, shape
        return nid


def _draw_conv(draw, c: int, h: int, w: int, *, out_channels: int | None = None,
               same_only: bool = False) -> tuple[dict[str, Any], tuple[int, int, int]]:
    oc = out_channels if out_channels is not None else draw(st.integers(1, MAX_CHANNELS))
    groups = draw(st.sampled_from([g for g in _divisors(c) if oc % g == 0]))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    mode = "same" if same_only else draw(st.sampled_from(["int", "pair", "same", "valid"]))
    if mode == "int":
        ph = pw = draw(st.integers(0, 2))
        padding: Any = ph
    elif mode == "pair":
        ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
        padding = [ph, pw]
    elif mode == "valid":
        ph = pw = 0
        padding = "valid"
    else:
        ph = pw = 0
        padding = "same"
    if mode == "same":
        kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
        sh = sw = 1
    else:
        kh = draw(st.integers(1, min(5, (h + 2 * ph - 1) // dh + 1)))
        kw = draw(st.integers(1, min(5, (w + 2 * pw - 1) // dw + 1)))
        sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    params = {
        "out_channels": oc,
        "kernel_size": kh if kh == kw and draw(st.booleans()) else [kh, kw],
        "stride": sh if sh == sw else [sh, sw],
        "padding": padding,
        "dilation": dh if dh == dw else [dh, dw],
        "groups": groups,
        "bias": draw(st.booleans()),
        "activation": draw(st.sampled_from(CONV_ACTIVATIONS)),
    }
    if mode == "same":
        return params, (oc, h, w)
    return params, (oc, conv_out(h, kh, sh, ph, dh), conv_out(w, kw, sw, pw, dw))


def _activation(draw, s: _State) -> None:
    kind = draw(st.sampled_from(ACTIVATIONS))
    params: dict[str, Any] = {}
    if kind == "leaky_relu":
        params["negative_slope"] = draw(st.floats(0.0, 1.0))
    elif kind == "elu":
        params["alpha"] = draw(st.floats(0.0, 5.0))
    s.step(kind, s.shape, **params)


def _image_block(draw, s: _State) -> None:
    c, h, w = s.shape
    choices = ["conv", "conv", "bn", "act", "dropout", "pool", "residual", "down_residual"]
    if c <= 24:
        choices.append("concat")
    choices.append("pointwise")
    choices.append("resize")
    block = draw(st.sampled_from(choices))
    if block == "pointwise":
        _pointwise_image_block(draw, s)
        return
    if block == "resize":
        _resize_block(draw, s)
        return
    if block == "conv":
        params, shape = _draw_conv(draw, c, h, w)
        s.step("conv2d", shape, **params)
    elif block == "bn":
        s.step("batchnorm2d", s.shape, eps=draw(st.sampled_from([1e-5, 1e-3])),
               momentum=draw(st.floats(0.0, 1.0)), affine=draw(st.booleans()))
    elif block == "act":
        _activation(draw, s)
    elif block == "dropout":
        s.step("dropout", s.shape, p=draw(st.floats(0.0, 0.99)))
    elif block == "pool":
        kind = draw(st.sampled_from(["maxpool2d", "avgpool2d"]))
        k = draw(st.integers(1, min(3, h, w)))
        stride = draw(st.one_of(st.none(), st.integers(1, 3)))
        pad = draw(st.integers(0, k // 2))
        ceil = draw(st.booleans())
        st_ = stride if stride is not None else k
        shape = (c, pool_out(h, k, st_, pad, ceil), pool_out(w, k, st_, pad, ceil))
        s.step(kind, shape, kernel_size=k, stride=stride, padding=pad, ceil_mode=ceil)
    elif block == "residual":
        start, shape = s.cur, s.shape
        for _ in range(draw(st.integers(1, 3))):
            layer = draw(st.sampled_from(["conv", "bn", "act"]))
            if layer == "conv":
                params, out = _draw_conv(draw, c, h, w, out_channels=c, same_only=True)
                s.step("conv2d", out, **params)
            elif layer == "bn":
                s.step("batchnorm2d", shape)
            else:
                _activation(draw, s)
        _merge_same(draw, s, [start, s.cur], shape)
    elif block == "down_residual":
        start = s.cur
        oc = draw(st.integers(1, MAX_CHANNELS))
        shape = (oc, conv_out(h, 3, 2, 1, 1), conv_out(w, 3, 2, 1, 1))
        a = s.step("conv2d", shape, start, out_channels=oc, kernel_size=3, stride=2, padding=1)
        if draw(st.booleans()):
            a = s.step("batchnorm2d", shape, a)
        b = s.step("conv2d", shape, start, out_channels=oc, kernel_size=1, stride=2, padding=0)
        _merge_same(draw, s, [a, b], shape)
    else:  # concat
        start = s.cur
        branches: list[str] = []
        channels = 0
        if draw(st.booleans()):
            branches.append(start)
            channels += c
        for _ in range(draw(st.integers(2 - len(branches), 3 - len(branches)))):
            if draw(st.booleans()):
                params, out = _draw_conv(draw, c, h, w, out_channels=draw(st.integers(1, 8)),
                                         same_only=True)
                branches.append(s.step("conv2d", out, start, **params))
                channels += out[0]
            else:
                k = draw(st.sampled_from([1, 3]))
                branches.append(s.step("maxpool2d", (c, h, w), start, kernel_size=k, stride=1,
                                       padding=k // 2))
                channels += c
        order = draw(st.permutations(branches))
        s.step("concat", (channels, h, w), *order)


def _merge_same(draw, s: _State, branches: list[str], shape: tuple[int, ...]) -> None:
    kind = draw(st.sampled_from(["add", "average", "weighted_sum"]))
    order = list(draw(st.permutations(branches)))
    params: dict[str, Any] = {}
    if kind == "weighted_sum":
        if draw(st.booleans()):
            params["weights"] = draw(st.lists(st.floats(-2.0, 2.0), min_size=len(order),
                                              max_size=len(order)))
        params["learnable"] = draw(st.booleans())
    s.step(kind, shape, *order, **params)


def _vector_block(draw, s: _State) -> None:
    block = draw(st.sampled_from(["dense", "dense", "dropout", "act", "merge", "concat", "pointwise"]))
    if block == "pointwise":
        _pointwise_vector_block(draw, s)
        return
    if block == "dense":
        units = draw(st.integers(1, MAX_CHANNELS))
        s.step("dense", (units,), units=units, bias=draw(st.booleans()),
               activation=draw(st.sampled_from(CONV_ACTIVATIONS)))
    elif block == "dropout":
        s.step("dropout", s.shape, p=draw(st.floats(0.0, 0.99)))
    elif block == "act":
        _activation(draw, s)
    elif block == "merge":
        start = s.cur
        units = draw(st.integers(1, MAX_CHANNELS))
        a = s.step("dense", (units,), start, units=units)
        b = s.step("dense", (units,), start, units=units, activation="relu")
        _merge_same(draw, s, [a, b], (units,))
    else:
        start = s.cur
        u1, u2 = draw(st.integers(1, 8)), draw(st.integers(1, 8))
        a = s.step("dense", (u1,), start, units=u1)
        b = s.step("dense", (u2,), start, units=u2)
        s.step("concat", (u1 + u2,), a, b)


# -- pointwise kinds: modern activations, batch-free norms, broadcasting merges -------------
POINTWISE_ACTIVATIONS = ("relu6", "silu", "hardswish", "hardsigmoid", "mish", "softplus",
                         "log_softmax", "prelu")


def _pointwise_activation(draw, s: _State, *inputs: str) -> str:
    kind = draw(st.sampled_from(POINTWISE_ACTIVATIONS))
    params: dict[str, Any] = {}
    if kind == "softplus":
        params = {"beta": draw(st.sampled_from([0.5, 1.0, 3.0])),
                  "threshold": draw(st.sampled_from([1.0, 20.0]))}
    elif kind == "prelu":
        params = {"per_channel": draw(st.booleans()), "init": draw(st.floats(-1.0, 1.0))}
    shape = s.shapes[inputs[0]] if inputs else s.shape
    return s.step(kind, shape, *inputs, **params)


def _norm_params(draw, kind: str, shape: tuple[int, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {"eps": draw(st.sampled_from([1e-5, 1e-3])), "affine": draw(st.booleans())}
    if kind == "groupnorm":  # torch refuses groups of a single value
        size = math.prod(shape)
        params["num_groups"] = draw(st.sampled_from([g for g in _divisors(shape[0]) if size > g]))
    if kind == "instancenorm2d":
        params["track_running_stats"] = draw(st.booleans())
        params["momentum"] = draw(st.floats(0.0, 1.0))
    return params


def _broadcast(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(max(dims) for dims in zip(*shapes, strict=True))


def _gate(draw, s: _State, start: str) -> str:
    """A branch from ``start`` whose output broadcasts against it: a C×1×1 channel gate
    (squeeze-and-excitation), a 1×H×W spatial map, or a same-shaped activation."""
    c, h, w = s.shapes[start]
    kind = draw(st.sampled_from(["channel", "spatial", "same"]))
    if kind == "channel":
        mid = draw(st.integers(1, MAX_CHANNELS))
        squeeze = s.step("conv2d", (mid, 1, 1), start, out_channels=mid, kernel_size=[h, w],
                         padding=0, activation=draw(st.sampled_from(["relu", "none"])))
        excite = s.step("conv2d", (c, 1, 1), squeeze, out_channels=c, kernel_size=1, padding=0)
        return _pointwise_activation(draw, s, excite)
    if kind == "spatial":
        return s.step("conv2d", (1, h, w), start, out_channels=1, kernel_size=3, padding="same",
                      activation="sigmoid")
    return _pointwise_activation(draw, s, start)


def _pointwise_merge(draw, s: _State, branches: list[str]) -> None:
    kind = draw(st.sampled_from(["multiply", "maximum"]))
    order = list(draw(st.permutations(branches)))
    s.step(kind, _broadcast(*(s.shapes[b] for b in order)), *order)


def _pointwise_image_block(draw, s: _State) -> None:
    c, h, w = s.shape
    kinds = ["act", "layernorm", "dropout2d", "identity", "gate", "gate"]
    if h * w > 1:
        kinds.append("instancenorm2d")
    if c * h * w > 1:
        kinds.append("groupnorm")
    block = draw(st.sampled_from(kinds))
    if block == "act":
        _pointwise_activation(draw, s)
    elif block in ("groupnorm", "layernorm", "instancenorm2d"):
        s.step(block, s.shape, **_norm_params(draw, block, s.shape))
    elif block == "dropout2d":
        s.step("dropout2d", s.shape, p=draw(st.floats(0.0, 0.99)))
    elif block == "identity":
        s.step("identity", s.shape)
    else:
        start = s.cur
        branches = [start, _gate(draw, s, start)]
        if draw(st.booleans()):
            branches.append(_gate(draw, s, start))
        _pointwise_merge(draw, s, branches)


def _pointwise_vector_block(draw, s: _State) -> None:
    (units,) = s.shape
    block = draw(st.sampled_from(["act", "layernorm", "identity", "merge"]
                                 + (["groupnorm"] if units > 1 else [])))
    if block == "act":
        _pointwise_activation(draw, s)
    elif block in ("groupnorm", "layernorm"):
        s.step(block, s.shape, **_norm_params(draw, block, s.shape))
    elif block == "identity":
        s.step("identity", s.shape)
    else:
        start = s.cur
        other = draw(st.sampled_from([units, 1]))
        gate = s.step("dense", (other,), start, units=other, activation="sigmoid")
        _pointwise_merge(draw, s, [start, gate])


@st.composite
def pointwise_graphs(draw) -> tuple[GraphModel, dict[str, tuple[int, ...]]]:
    """Like ``valid_graphs`` but made mostly of the pointwise kinds, so every one of them
    is drawn often (channels up to 8, so GroupNorm has groups to choose from)."""
    c, h, w = draw(st.integers(1, 8)), draw(st.integers(1, 12)), draw(st.integers(1, 12))
    b = GraphBuilder()
    inp = b.add("input", channels=c, height=h, width=w)
    s = _State(b, inp, (c, h, w), {inp: (c, h, w)})
    for _ in range(draw(st.integers(1, 5))):
        if draw(st.integers(0, 3)) == 0:
            params, shape = _draw_conv(draw, *s.shape, out_channels=draw(st.integers(1, 8)))
            s.step("conv2d", shape, **params)
        _pointwise_image_block(draw, s)
    if draw(st.booleans()):
        c, h, w = s.shape
        if draw(st.booleans()):
            s.step("flatten", (c * h * w,))
        else:
            s.step("global_avgpool", (c,))
        for _ in range(draw(st.integers(1, 3))):
            _pointwise_vector_block(draw, s)
    return b.graph, s.shapes


# -- resize kinds: transposed convolution, upsampling, zero padding, adaptive pools ----------
def transposed_out(size: int, k: int, s: int, p: int, op: int, d: int) -> int:
    return (size - 1) * s - 2 * p + d * (k - 1) + op + 1


def _upsample_block(draw, s: _State) -> None:
    c, h, w = s.shape
    mode = draw(st.sampled_from(["nearest", "bilinear"]))
    align = mode == "bilinear" and draw(st.booleans())
    scale = draw(st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0] if max(h, w) <= 16 else [0.5, 1.0]))
    if draw(st.booleans()) and math.floor(h * scale) > 0 and math.floor(w * scale) > 0:
        s.step("upsample", (c, math.floor(h * scale), math.floor(w * scale)), by="scale",
               scale_factor=scale, mode=mode, align_corners=align)
    else:
        oh, ow = draw(st.integers(1, 20)), draw(st.integers(1, 20))
        s.step("upsample", (c, oh, ow), by="size", size=oh if oh == ow else [oh, ow], mode=mode,
               align_corners=align)


def _transposed_block(draw, s: _State) -> None:
    c, h, w = s.shape
    oc = draw(st.integers(1, MAX_CHANNELS))
    groups = draw(st.sampled_from([g for g in _divisors(c) if oc % g == 0]))
    big = max(h, w) > 16  # keep the image small: strides multiply its size
    (kh, kw), (dh, dw) = draw(st.tuples(st.integers(1, 4), st.integers(1, 4))), (1, draw(st.integers(1, 2)))
    sh, sw = draw(st.integers(1, 1 if big else 3)), draw(st.integers(1, 1 if big else 3))
    oph, opw = draw(st.integers(0, max(sh, dh) - 1)), draw(st.integers(0, max(sw, dw) - 1))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    if transposed_out(h, kh, sh, ph, oph, dh) <= 0 or transposed_out(w, kw, sw, pw, opw, dw) <= 0:
        ph = pw = 0
    shape = (oc, transposed_out(h, kh, sh, ph, oph, dh), transposed_out(w, kw, sw, pw, opw, dw))
    s.step("conv_transpose2d", shape, out_channels=oc, kernel_size=[kh, kw], stride=[sh, sw],
           padding=[ph, pw], output_padding=[oph, opw], dilation=[dh, dw], groups=groups,
           bias=draw(st.booleans()))


def _unet_skip(draw, s: _State) -> None:
    """Down by a max pool, back up by a transposed convolution whose output padding
    restores an odd size, joined to the skip by Concat (a U-Net level)."""
    c, h, w = s.shape
    start = s.cur
    down = s.step("maxpool2d", (c, h // 2, w // 2), start, kernel_size=2)
    oc = draw(st.integers(1, 8))
    up = s.step("conv_transpose2d", (oc, h, w), down, out_channels=oc, kernel_size=2, stride=2,
                output_padding=[h % 2, w % 2])
    s.step("concat", (c + oc, h, w), *draw(st.permutations([start, up])))


def _resize_block(draw, s: _State) -> None:
    c, h, w = s.shape
    kinds = ["upsample", "transposed", "zeropad", "adaptive", "ceil_pool"]
    if h >= 2 and w >= 2 and c <= 24:
        kinds.append("unet")
    block = draw(st.sampled_from(kinds))
    if block == "upsample":
        _upsample_block(draw, s)
    elif block == "transposed":
        _transposed_block(draw, s)
    elif block == "unet":
        _unet_skip(draw, s)
    elif block == "zeropad":
        sides = draw(st.tuples(*[st.integers(0, 2)] * 4))
        s.step("zeropad2d", (c, h + sides[2] + sides[3], w + sides[0] + sides[1]),
               **dict(zip(("left", "right", "top", "bottom"), sides)))
    elif block == "adaptive":
        oh, ow = draw(st.integers(1, 8)), draw(st.integers(1, 8))
        kind = draw(st.sampled_from(["adaptive_avgpool2d", "adaptive_maxpool2d"]))
        s.step(kind, (c, oh, ow), output_size=oh if oh == ow else [oh, ow])
    else:  # a window that may be larger than the input: ceil mode keeps one partial window
        kind = draw(st.sampled_from(["maxpool2d", "avgpool2d"]))
        k, stride = draw(st.integers(1, 5)), draw(st.integers(1, 3))
        pad, d = draw(st.integers(0, k // 2)), draw(st.integers(1, 2)) if kind == "maxpool2d" else 1
        span = d * (k - 1) + 1  # torch's formula with the dilated window
        oh, ow = pool_out(h, span, stride, pad, True), pool_out(w, span, stride, pad, True)
        if oh <= 0 or ow <= 0:  # even ceil mode needs the window to start inside the input
            k, pad, oh, ow = 1, 0, pool_out(h, 1, stride, 0, True), pool_out(w, 1, stride, 0, True)
        spaced = {"dilation": d} if kind == "maxpool2d" else {}
        s.step(kind, (c, oh, ow), kernel_size=k, stride=stride, padding=pad, ceil_mode=True, **spaced)


@st.composite
def resize_graphs(draw) -> tuple[GraphModel, dict[str, tuple[int, ...]]]:
    """Like ``valid_graphs`` but made mostly of the resize kinds (and ceil-mode pooling
    with windows up to 5 on images from 1×1), so each is drawn often."""
    c, h, w = draw(st.integers(1, 4)), draw(st.integers(1, 12)), draw(st.integers(1, 12))
    b = GraphBuilder()
    inp = b.add("input", channels=c, height=h, width=w)
    s = _State(b, inp, (c, h, w), {inp: (c, h, w)})
    for _ in range(draw(st.integers(1, 5))):
        if draw(st.integers(0, 3)) == 0:
            params, shape = _draw_conv(draw, *s.shape, out_channels=draw(st.integers(1, 8)))
            s.step("conv2d", shape, **params)
        _resize_block(draw, s)
    if draw(st.booleans()):
        c, h, w = s.shape
        s.step("flatten", (c * h * w,))
        units = draw(st.integers(1, MAX_CHANNELS))
        s.step("dense", (units,), units=units)
    return b.graph, s.shapes


@st.composite
def valid_graphs(draw, max_blocks: int = 8) -> tuple[GraphModel, dict[str, tuple[int, ...]]]:
    """A valid graph and the output shape of each node (computed independently)."""
    c = draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 32)), draw(st.integers(1, 32))
    b = GraphBuilder()
    inp = b.add("input", channels=c, height=h, width=w)
    s = _State(b, inp, (c, h, w), {inp: (c, h, w)})
    for _ in range(draw(st.integers(1, max_blocks))):
        _image_block(draw, s)
    head = draw(st.sampled_from(["none", "flatten", "gap"]))
    if head != "none":
        c, h, w = s.shape
        if head == "flatten":
            s.step("flatten", (c * h * w,))
        else:
            s.step("global_avgpool", (c,))
        for _ in range(draw(st.integers(0, 3))):
            _vector_block(draw, s)
    if s.cur == inp:  # an Input alone is not a network
        _activation(draw, s)
    return b.graph, s.shapes


# -- invalid graphs ------------------------------------------------------------------------
def _bad_value(draw, spec) -> Any:
    """A value ``spec.validate`` must refuse."""
    kind = spec.kind
    options: list[Any] = ["text?", [1, 2, 3]] if kind not in ("str", "int_list", "float_list") else []
    if kind in ("int", "pair", "padding", "int_list"):
        if spec.minimum is not None:
            options.append(int(spec.minimum) - draw(st.integers(1, 3)))
        options += [True, 2.5]
    if kind == "float":
        options += [float("nan"), float("inf"), True]
        if spec.maximum is not None:
            options.append(spec.maximum + 1.0)
        if spec.minimum is not None:
            options.append(spec.minimum - 1.0)
    if kind == "bool":
        options += [1, "yes"]
    if kind == "choice":
        options += ["bogus", 3]
    if kind == "padding":
        options.append("full")
    if kind == "pair" and spec.minimum is not None:
        options.append([int(spec.minimum) - 1, 1])
    if kind == "float_list":
        options += ["1,2", [float("nan")]]
    if kind == "int_list":
        options += [[1.5]]
    if not spec.optional and kind != "str":
        options.append(None)
    return draw(st.sampled_from(options))


@dataclass
class Mutation:
    what: str
    node: str | None = None        # name of the node expected to carry the diagnostic
    expect: str = ""               # a substring of the expected diagnostic


def _mutate(draw, graph: GraphModel) -> Mutation:
    b = GraphBuilder(graph)
    analysis = analyze(graph)
    image_nodes = [nid for nid, info in analysis.nodes.items()
                   if info.output_shape is not None and len(info.output_shape) == 3]
    input_ids = [nid for nid, n in graph.nodes.items() if n.kind == "input"]
    with_params = [nid for nid, n in graph.nodes.items()
                   if n.kind in LAYERS and LAYERS.get(n.kind).params]
    removable_edges = [e for e in graph.edges
                       if len(graph.inputs_of(e.dst)) <= LAYERS.get(graph.nodes[e.dst].kind).min_inputs]
    convs = [nid for nid, n in graph.nodes.items() if n.kind == "conv2d"
             and n.params.get("padding") != "same"]
    ops = ["bad_param", "unconnected", "unknown_kind", "second_input", "dense_on_4d",
           "merge_mismatch"]
    if graph.edges:
        ops.append("cycle")
    if removable_edges:
        ops.append("remove_edge")
    if input_ids:
        ops.append("remove_input")
    if convs:
        ops.append("big_kernel")
    if len(graph.nodes) > 1:
        ops.append("duplicate_name")
    if analysis.output_id is not None and len(graph.nodes) > 2:
        ops.append("dangling")
    op = draw(st.sampled_from(ops))
    if op == "bad_param":
        nid = draw(st.sampled_from(with_params))
        node = graph.nodes[nid]
        spec = draw(st.sampled_from(LAYERS.get(node.kind).params))
        node.params[spec.name] = _bad_value(draw, spec)
        return Mutation(op, node.name, spec.label)
    if op == "unconnected":
        nid = b.add(draw(st.sampled_from(["relu", "conv2d", "dense", "add"])))
        return Mutation(op, b.name(nid), "connected")
    if op == "unknown_kind":
        graph._insert_node(Node("zz" + str(len(graph.nodes)), "frobnicate", "mystery"))
        return Mutation(op, "mystery", "unknown layer kind 'frobnicate'")
    if op == "second_input":
        nid = b.add("input")
        return Mutation(op, b.name(nid), "only one Input is supported")
    if op == "dense_on_4d":
        if not image_nodes:
            nid = b.add("dense")  # unconnected then
            return Mutation(op, b.name(nid), "connected")
        nid = b.add("dense", draw(st.sampled_from(image_nodes)))
        return Mutation(op, b.name(nid), "add a Flatten")
    if op == "merge_mismatch":
        if not image_nodes:
            nid = b.add("add")
            return Mutation(op, b.name(nid), "needs at least 2 inputs")
        src = draw(st.sampled_from(image_nodes))
        c = analysis.nodes[src].output_shape[0]
        conv = b.add("conv2d", src, out_channels=c + 1, kernel_size=1)
        kind = draw(st.sampled_from(["add", "average", "weighted_sum"]))
        nid = b.add(kind, *draw(st.permutations([src, conv])))
        return Mutation(op, b.name(nid), "different shapes")
    if op == "cycle":
        e = draw(st.sampled_from(graph.edges))
        graph._insert_edge(Edge(e.dst, e.src, graph.next_port(e.src)))
        return Mutation(op, graph.nodes[e.src].name, "is part of a cycle")
    if op == "remove_edge":
        e = draw(st.sampled_from(removable_edges))
        graph._delete_edge(e)
        return Mutation(op)
    if op == "remove_input":
        nid = input_ids[0]
        for e in list(graph.edges):
            if nid in (e.src, e.dst):
                graph._delete_edge(e)
        graph._delete_node(nid)
        return Mutation(op, None, "no Input layer")
    if op == "big_kernel":
        nid = draw(st.sampled_from(convs))
        graph.nodes[nid].params["kernel_size"] = 1000
        return Mutation(op, graph.nodes[nid].name, "is larger than")
    if op == "duplicate_name":
        a, b_ = draw(st.permutations(list(graph.nodes)))[:2]
        graph.nodes[a].name = graph.nodes[b_].name
        return Mutation(op, graph.nodes[a].name, "same name")
    # dangling: a second sink
    out = analysis.output_id
    src = draw(st.sampled_from([nid for nid in analysis.order if nid != out]))
    nid = b.add("dropout", src)
    return Mutation(op, None, "several outputs")


@st.composite
def invalid_graphs(draw, max_blocks: int = 4) -> tuple[GraphModel, list[Mutation]]:
    graph, _ = draw(valid_graphs(max_blocks=max_blocks))
    mutations = [_mutate(draw, graph) for _ in range(draw(st.integers(1, 3)))]
    return graph, mutations
