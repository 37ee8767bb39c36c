"""One mapping per Keras layer class onto the library's kinds, exact about the ways
Keras and torch differ:

- channels-last kernels are transposed to torch's (out, in, kh, kw);
- ``padding="same"`` pads ``total // 2`` before and the rest after, so an even kernel or
  a stride above 1 pads more on the bottom/right: an asymmetric ZeroPad2d goes in front of
  a "valid" convolution (max pooling keeps the padding out of its windows instead, with
  ceil mode, so no zero enters a maximum);
- Flatten of a channels-last image orders values (H, W, C); torch's is (C, H, W), so the
  Dense after it gets its weight columns reordered (``Ctx.flat``);
- BatchNormalization's momentum m is torch's 1 - m.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from visionstudio.core.importers.flat import DEAD, FlatBuilder, Value
from visionstudio.core.importers.keras_files import KerasWeights
from visionstudio.core.importers.result import ImportProblem

# Keras activation name -> the library's fused choice (same maths, same defaults).
FUSED = {"linear": "none", "relu": "relu", "elu": "elu", "gelu": "gelu", "sigmoid": "sigmoid",
         "tanh": "tanh", "softmax": "softmax"}
# ... and as a separate layer: (kind, params).
SEPARATE = {"relu": ("relu", {}), "elu": ("elu", {}), "gelu": ("gelu", {}), "sigmoid": ("sigmoid", {}),
            "tanh": ("tanh", {}), "softmax": ("softmax", {}), "relu6": ("relu6", {}),
            "silu": ("silu", {}), "swish": ("silu", {}), "hard_sigmoid": ("hardsigmoid", {}),
            "hard_silu": ("hardswish", {}), "hard_swish": ("hardswish", {}), "mish": ("mish", {}),
            "softplus": ("softplus", {}), "log_softmax": ("log_softmax", {}),
            "leaky_relu": ("leaky_relu", {"negative_slope": 0.2})}


@dataclass
class Ctx:
    """One layer's conversion: its config, its arrays, and where it is (for messages)."""

    builder: FlatBuilder
    weights: KerasWeights
    name: str
    class_name: str
    config: dict[str, Any]
    where: str
    # node name -> (C, H, W) of the channels-last image a Flatten made that vector from
    flat: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    def arrays(self, *shapes: tuple[int, ...] | None) -> list[np.ndarray]:
        """The layer's arrays in Keras's order, each checked against its shape (None: absent)."""
        found = self.weights.arrays(self.name)
        present = [s for s in shapes if s is not None]
        if len(found) != len(present):
            raise self.builder.fail(f"layer {self.name} has {len(found)} weight arrays; "
                                    f"its configuration needs {len(present)}")
        return [self.weights.read(ds, s, f"weight {i} of layer {self.name}")
                for i, (ds, s) in enumerate(zip(found, present))]

    def add(self, kind: str, params: dict[str, Any], inputs: list[Value], suffix: str = "") -> Value:
        return self.builder.add(kind, self.name + suffix, params, inputs, self.where)

    def unsupported(self, why: str) -> Value:
        return self.builder.unsupported(f"{self.where} ({why})")


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return int(value[0]), int(value[1])
    raise ValueError(f"expected one number or two, got {str(value)[:40]}")


def same_padding(size: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """(before, after) of TensorFlow/Keras "same": the output is ceil(size / s)."""
    out = math.ceil(size / s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def activation(ctx: Ctx, value: Value, name: Any, suffix: str = "_act") -> Value:
    if name in (None, "linear"):
        return value
    if not isinstance(name, str) or name not in SEPARATE:
        return ctx.unsupported(f"activation {str(name)[:40]!r}")
    kind, params = SEPARATE[name]
    return ctx.add(kind, dict(params), [value], suffix)


def _channels_last(ctx: Ctx) -> bool:
    return ctx.config.get("data_format", "channels_last") in ("channels_last", None)


def _padded(ctx: Ctx, x: Value, kernel: tuple[int, int], stride: tuple[int, int],
            dilation: tuple[int, int] = (1, 1)) -> tuple[Value, list[int]]:
    """The input and the symmetric padding of a convolution; "same" that pads more on one
    side gets a ZeroPad2d in front (and padding 0)."""
    mode = ctx.config.get("padding", "valid")
    if mode == "valid":
        return x, [0, 0]
    if mode != "same":
        return ctx.unsupported(f"padding {str(mode)[:20]!r}"), [0, 0]
    _, h, w = x.shape
    top, bottom = same_padding(h, kernel[0], stride[0], dilation[0])
    left, right = same_padding(w, kernel[1], stride[1], dilation[1])
    if top == bottom and left == right:
        return x, [top, left]
    ctx.builder.notes.append(f"{ctx.name}: Keras's \"same\" padding pads more on the bottom/right here; "
                             f"a ZeroPad2d (top {top}, bottom {bottom}, left {left}, right {right}) "
                             "comes before it.")
    padded = ctx.add("zeropad2d", {"top": top, "bottom": bottom, "left": left, "right": right}, [x], "_pad")
    return padded, [0, 0]


def conv2d(ctx: Ctx, x: Value) -> Value:
    c = ctx.config
    k, s, d = _pair(c["kernel_size"]), _pair(c.get("strides", 1)), _pair(c.get("dilation_rate", 1))
    groups, filters, bias = int(c.get("groups", 1)), int(c["filters"]), bool(c.get("use_bias", True))
    cin = x.shape[0]
    if groups < 1 or cin % groups:
        return ctx.unsupported(f"{groups} groups for {cin} channels")
    arrays = ctx.arrays((k[0], k[1], cin // groups, filters), (filters,) if bias else None)
    x, padding = _padded(ctx, x, k, s, d)
    act = c.get("activation", "linear")
    fused = FUSED.get(act) if isinstance(act, str) else None
    out = ctx.add("conv2d", {"out_channels": filters, "kernel_size": list(k), "stride": list(s),
                             "padding": padding, "dilation": list(d), "groups": groups, "bias": bias,
                             "activation": fused or "none"}, [x])
    ctx.builder.weight(out, "weight", arrays[0].transpose(3, 2, 0, 1))
    if bias:
        ctx.builder.weight(out, "bias", arrays[1])
    return out if fused else activation(ctx, out, act)


def depthwise(ctx: Ctx, x: Value, *, pointwise: bool) -> Value:
    """DepthwiseConv2D, or SeparableConv2D (depthwise, then a 1×1 with the bias)."""
    c = ctx.config
    k, s, d = _pair(c["kernel_size"]), _pair(c.get("strides", 1)), _pair(c.get("dilation_rate", 1))
    cin, mult, bias = x.shape[0], int(c.get("depth_multiplier", 1)), bool(c.get("use_bias", True))
    filters = int(c["filters"]) if pointwise else 0
    shapes = [(k[0], k[1], cin, mult)]
    shapes += [(1, 1, cin * mult, filters)] if pointwise else []
    shapes += [(filters if pointwise else cin * mult,)] if bias else []
    arrays = ctx.arrays(*shapes)
    x, padding = _padded(ctx, x, k, s, d)
    act = c.get("activation", "linear")
    fused = FUSED.get(act) if isinstance(act, str) else None
    dw_bias = bias and not pointwise
    dw = ctx.add("conv2d", {"out_channels": cin * mult, "kernel_size": list(k), "stride": list(s),
                            "padding": padding, "dilation": list(d), "groups": cin, "bias": dw_bias,
                            "activation": "none" if pointwise else (fused or "none")},
                 [x], "_depthwise" if pointwise else "")
    ctx.builder.weight(dw, "weight", arrays[0].reshape(k[0], k[1], cin * mult).transpose(2, 0, 1)[:, None])
    if dw_bias:
        ctx.builder.weight(dw, "bias", arrays[1])
    out = dw
    if pointwise:
        out = ctx.add("conv2d", {"out_channels": filters, "kernel_size": 1, "padding": 0, "bias": bias,
                                 "activation": fused or "none"}, [dw], "_pointwise")
        ctx.builder.weight(out, "weight", arrays[1].transpose(3, 2, 0, 1))
        if bias:
            ctx.builder.weight(out, "bias", arrays[2])
    return out if fused else activation(ctx, out, act)


def dense(ctx: Ctx, x: Value) -> Value:
    c = ctx.config
    if len(x.shape) != 1:
        return ctx.unsupported("Dense on an image (applied to its last axis); flatten it first")
    units, bias, n = int(c["units"]), bool(c.get("use_bias", True)), x.shape[0]
    arrays = ctx.arrays((n, units), (units,) if bias else None)
    kernel = arrays[0]
    if x.node in ctx.flat:   # columns in Keras's (H, W, C) order -> torch's (C, H, W)
        ch, h, w = ctx.flat[x.node]
        kernel = kernel.reshape(h, w, ch, units).transpose(2, 0, 1, 3).reshape(n, units)
        ctx.builder.notes.append(f"{ctx.name}: weights reordered for the channels-first Flatten before it.")
    act = c.get("activation", "linear")
    fused = FUSED.get(act) if isinstance(act, str) else None
    out = ctx.add("dense", {"units": units, "bias": bias, "activation": fused or "none"}, [x])
    ctx.builder.weight(out, "weight", kernel.T)
    if bias:
        ctx.builder.weight(out, "bias", arrays[1])
    return out if fused else activation(ctx, out, act)


def pooling(ctx: Ctx, x: Value, kind: str) -> Value:
    c = ctx.config
    k = _pair(c.get("pool_size", 2))
    s = _pair(c.get("strides") or k)
    params: dict[str, Any] = {"kernel_size": list(k), "stride": list(s), "padding": 0}
    if c.get("padding", "valid") == "same":
        _, h, w = x.shape
        pads = [same_padding(h, k[0], s[0]), same_padding(w, k[1], s[1])]
        if kind == "avgpool2d" and any(sum(p) for p in pads):
            return ctx.unsupported("average pooling with \"same\" padding that pads: Keras leaves the "
                                   "padding out of the average")
        if any(after - before and st == 1 for (before, after), st in zip(pads, s)):
            return ctx.unsupported("max pooling with \"same\" padding, an even window and stride 1")
        # torch pads with -inf (never the maximum); ceil mode gives the extra bottom/right window
        params.update(padding=[pads[0][0], pads[1][0]], ceil_mode=any(a != b for a, b in pads))
    elif c.get("padding", "valid") != "valid":
        return ctx.unsupported(f"padding {str(c.get('padding'))[:20]!r}")
    return ctx.add(kind, params, [x])


def batchnorm(ctx: Ctx, x: Value) -> Value:
    c = ctx.config
    axis = c.get("axis", -1)
    if isinstance(axis, list) and len(axis) == 1:
        axis = axis[0]
    if len(x.shape) != 3 or axis not in (-1, 3):
        return ctx.unsupported("batch normalization over an axis other than the image's channels")
    ch = x.shape[0]
    scale, center = bool(c.get("scale", True)), bool(c.get("center", True))
    arrays = ctx.arrays((ch,) if scale else None, (ch,) if center else None, (ch,), (ch,))
    gamma = arrays.pop(0) if scale else np.ones(ch, np.float32)
    beta = arrays.pop(0) if center else np.zeros(ch, np.float32)
    if not (scale and center):
        ctx.builder.notes.append(f"{ctx.name}: Keras keeps {'no shift' if scale else 'no scale'} here; the "
                                 "BatchNorm2d learns both, starting where Keras stands.")
    momentum = 1.0 - float(c.get("momentum", 0.99))
    out = ctx.add("batchnorm2d", {"eps": float(c.get("epsilon", 1e-3)), "momentum": momentum,
                                  "affine": True}, [x])
    for param, value in (("weight", gamma), ("bias", beta), ("running_mean", arrays[0]),
                         ("running_var", arrays[1])):
        ctx.builder.weight(out, param, value)
    return out


def zeropad(ctx: Ctx, x: Value) -> Value:
    pad = ctx.config.get("padding", 1)
    if isinstance(pad, int):
        (top, bottom), (left, right) = (pad, pad), (pad, pad)
    else:
        rows, cols = pad
        top, bottom = _pair(rows)
        left, right = _pair(cols)
    return ctx.add("zeropad2d", {"top": top, "bottom": bottom, "left": left, "right": right}, [x])


def relu_layer(ctx: Ctx, x: Value) -> Value:
    c = ctx.config
    top, slope = c.get("max_value"), float(c.get("negative_slope", 0.0))
    threshold = float(c.get("threshold", 0.0))
    if threshold:
        return ctx.unsupported("a ReLU threshold other than 0")
    if top is None:
        return ctx.add("leaky_relu", {"negative_slope": slope}, [x]) if slope else ctx.add("relu", {}, [x])
    if float(top) == 6.0 and not slope:
        return ctx.add("relu6", {}, [x])
    return ctx.unsupported(f"a ReLU capped at {top}")


def flatten(ctx: Ctx, x: Value) -> Value:
    if len(x.shape) == 1:
        return x
    out = ctx.add("flatten", {}, [x])
    if out.known and (x.shape[1], x.shape[2]) != (1, 1):
        ctx.flat[out.node] = x.shape
    return out


def upsampling(ctx: Ctx, x: Value) -> Value:
    """Nearest or bilinear; Keras's bilinear resize samples at half-pixel centres, as
    torch's does with align_corners off."""
    size, mode = _pair(ctx.config.get("size", 2)), ctx.config.get("interpolation", "nearest")
    if mode not in ("nearest", "bilinear") or size[0] != size[1]:
        return ctx.unsupported("only nearest or bilinear upsampling by the same factor in height and "
                               "width is imported")
    return ctx.add("upsample", {"by": "scale", "scale_factor": float(size[0]), "mode": mode,
                                "align_corners": False}, [x])


def _transposed_crop(k: int, s: int, d: int, same: bool, extra: int | None) -> tuple[int, int, int]:
    """(zeros before the input, padding, output_padding) giving Keras's output window of
    a transposed convolution (keras.src.backend.common.backend_utils: "same" may crop one
    more on the right than on the left, which torch's padding cannot; a zero row in front
    of the input shifts torch's window by the stride, and bias alone lands there either way)."""
    k = (k - 1) * d + 1
    if not same:
        left, right = k - 1, k - 1 + (max(k, s) - k if extra is None else extra)
    else:
        total = s + k - 2 if extra is None else k + k % 2 - 2 + extra
        left = min(total // 2 + total % 2, k - 1)
        right = total - left
    crop_left, crop_right = (k - 1) - left, (k - 1) - right
    for zeros in range(0, abs(crop_left) // s + 2):
        padding = crop_left + zeros * s
        if padding >= 0 and 0 <= padding - crop_right < max(s, d):
            return zeros, padding, padding - crop_right
    raise ValueError(f"no torch padding gives Keras's output for kernel {k}, stride {s}")


def conv_transpose(ctx: Ctx, x: Value) -> Value:
    c = ctx.config
    k, s, d = _pair(c["kernel_size"]), _pair(c.get("strides", 1)), _pair(c.get("dilation_rate", 1))
    filters, bias, mode = int(c["filters"]), bool(c.get("use_bias", True)), c.get("padding", "valid")
    extra = c.get("output_padding")
    extra = (None, None) if extra is None else _pair(extra)
    if mode not in ("valid", "same"):
        return ctx.unsupported(f"padding {str(mode)[:20]!r}")
    arrays = ctx.arrays((k[0], k[1], filters, x.shape[0]), (filters,) if bias else None)
    (top, ph, oh), (left, pw, ow) = (_transposed_crop(k[i], s[i], d[i], mode == "same", extra[i])
                                     for i in (0, 1))
    if top or left:
        x = ctx.add("zeropad2d", {"top": top, "bottom": 0, "left": left, "right": 0}, [x], "_pad")
    act = c.get("activation", "linear")
    out = ctx.add("conv_transpose2d", {"out_channels": filters, "kernel_size": list(k), "stride": list(s),
                                       "padding": [ph, pw], "output_padding": [oh, ow],
                                       "dilation": list(d), "bias": bias}, [x])
    ctx.builder.weight(out, "weight", arrays[0].transpose(3, 2, 0, 1))   # (in, out, kh, kw)
    if bias:
        ctx.builder.weight(out, "bias", arrays[1])
    return activation(ctx, out, act)


def global_max(ctx: Ctx, x: Value) -> Value:
    pooled = ctx.add("adaptive_maxpool2d", {"output_size": 1}, [x])
    return pooled if ctx.config.get("keepdims") else ctx.add("flatten", {}, [pooled], "_flatten")


def _axis_ok(ctx: Ctx, x: list[Value]) -> bool:
    return ctx.config.get("axis", -1) in (-1, len(x[0].shape))


def concat(ctx: Ctx, xs: list[Value]) -> Value:
    if not _axis_ok(ctx, xs):
        return ctx.unsupported("concatenation along an axis other than the channels")
    return ctx.add("concat", {}, xs)


Mapping = Callable[[Ctx, list[Value]], Value]
ONE: dict[str, Callable[[Ctx, Value], Value]] = {
    "Conv2D": conv2d, "Convolution2D": conv2d, "Dense": dense, "Conv2DTranspose": conv_transpose,
    "DepthwiseConv2D": lambda ctx, x: depthwise(ctx, x, pointwise=False),
    "SeparableConv2D": lambda ctx, x: depthwise(ctx, x, pointwise=True),
    "MaxPooling2D": lambda ctx, x: pooling(ctx, x, "maxpool2d"),
    "AveragePooling2D": lambda ctx, x: pooling(ctx, x, "avgpool2d"),
    "GlobalAveragePooling2D": lambda ctx, x: ctx.add(
        "adaptive_avgpool2d" if ctx.config.get("keepdims") else "global_avgpool",
        {"output_size": 1} if ctx.config.get("keepdims") else {}, [x]),
    "GlobalMaxPooling2D": global_max, "UpSampling2D": upsampling,
    "Flatten": flatten, "BatchNormalization": batchnorm, "ZeroPadding2D": zeropad,
    "Dropout": lambda ctx, x: ctx.add("dropout", {"p": float(ctx.config.get("rate", 0.5))}, [x]),
    "SpatialDropout2D": lambda ctx, x: ctx.add("dropout2d", {"p": float(ctx.config.get("rate", 0.5))}, [x]),
    "Activation": lambda ctx, x: activation(ctx, x, ctx.config.get("activation"), ""),
    "ReLU": relu_layer,
    "LeakyReLU": lambda ctx, x: ctx.add("leaky_relu", {"negative_slope": float(
        ctx.config.get("negative_slope", ctx.config.get("alpha", 0.3)))}, [x]),
    "ELU": lambda ctx, x: ctx.add("elu", {"alpha": float(ctx.config.get("alpha", 1.0))}, [x]),
    "Softmax": lambda ctx, x: (ctx.add("softmax", {}, [x]) if ctx.config.get("axis", -1) in (-1, len(x.shape))
                               else ctx.unsupported("softmax over an axis other than the channels")),
}
MERGES: dict[str, Mapping] = {
    "Add": lambda ctx, xs: ctx.add("add", {}, xs),
    "Average": lambda ctx, xs: ctx.add("average", {}, xs),
    "Multiply": lambda ctx, xs: ctx.add("multiply", {}, xs),
    "Maximum": lambda ctx, xs: ctx.add("maximum", {}, xs),
    "Concatenate": concat,
}
SUPPORTED = frozenset(ONE) | frozenset(MERGES) | {"InputLayer"}
# elementwise on a vector: the order of its values does not matter
KEEPS_ORDER = frozenset({"Dropout", "Activation", "ReLU", "LeakyReLU", "ELU"})


def convert(ctx: Ctx, inputs: list[Value]) -> Value:
    """The layer's output value; image layers check their data format first."""
    if any(not v.known for v in inputs):
        return DEAD
    if not _channels_last(ctx):
        return ctx.unsupported("data_format channels_first")
    for v in inputs:
        if v.node in ctx.flat and ctx.class_name not in KEEPS_ORDER | {"Dense"}:
            return ctx.unsupported("a vector flattened from a channels-last image, used by something "
                                   "other than Dense")
    try:
        if ctx.class_name in MERGES:
            return MERGES[ctx.class_name](ctx, inputs)
        if len(inputs) != 1:
            return ctx.unsupported(f"{len(inputs)} inputs where one is expected")
        out = ONE[ctx.class_name](ctx, inputs[0])
    except ImportProblem:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, ArithmeticError) as exc:
        return ctx.unsupported(f"its configuration cannot be read: {str(exc)[:80]}")
    if ctx.class_name in KEEPS_ORDER and inputs[0].node in ctx.flat and out.known:
        ctx.flat[out.node] = ctx.flat[inputs[0].node]
    return out
