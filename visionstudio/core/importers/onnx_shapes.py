"""ONNX operators that pool, normalise, pad, resize or reshape (see ``onnx_ops``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from visionstudio.core.importers.flat import DEAD
from visionstudio.core.importers.onnx_consts import concat_const, squeeze_const
from visionstudio.core.importers.onnx_ops import OnnxCtx, _dead, _image, _pair_attr, _window_pads


def _needs_image(ctx: OnnxCtx) -> list[Any]:
    return ctx.out(DEAD) if _dead(ctx) else ctx.unsupported("it needs an image (N×C×H×W) input")


def pool(kind: str) -> Any:
    def handle(ctx: OnnxCtx) -> list[Any]:
        x = _image(ctx)
        if x is None:
            return _needs_image(ctx)
        if ctx.extra_outputs_used():
            return ctx.unsupported("its indices output is used")
        k = _pair_attr(ctx, "kernel_shape", 1)
        s, d = _pair_attr(ctx, "strides", 1), _pair_attr(ctx, "dilations", 1)
        if None in (k, s, d):
            return ctx.unsupported("a window that is not two-dimensional")
        pads = _window_pads(ctx, x, k, s, d)
        if pads is None or pads[:2] != pads[2:]:
            return ctx.unsupported("padding that differs between the two sides")
        ceil = bool(ctx.attrs.get("ceil_mode", 0))
        params: dict[str, Any] = {"kernel_size": list(k), "stride": list(s), "padding": list(pads[:2]),
                                  "ceil_mode": ceil}
        if kind == "maxpool2d":
            params["dilation"] = list(d)
        elif d != (1, 1):
            return ctx.unsupported("a dilated average pooling")
        elif any(pads) and not ctx.attrs.get("count_include_pad", 0):
            return ctx.unsupported("padding left out of the average (count_include_pad=0)")
        elif ceil and any(((n + 2 * p - kk) % ss) for n, p, kk, ss in zip(x.shape[1:], pads, k, s)):
            return ctx.unsupported("a partial last window (ceil_mode) in an average pooling")
        return ctx.out(ctx.add(kind, params, [x]))
    return handle


def global_pool(kind: str) -> Any:
    def handle(ctx: OnnxCtx) -> list[Any]:
        x = _image(ctx)
        return _needs_image(ctx) if x is None else ctx.out(ctx.add(kind, {"output_size": 1}, [x]))
    return handle


def reduce_mean(ctx: OnnxCtx) -> list[Any]:
    x = _image(ctx)
    if x is None:
        return _needs_image(ctx)
    axes = ctx.attrs.get("axes")
    if axes is None and ctx.const(1) is not None:
        axes = ctx.const(1).reshape(-1).tolist()
    if sorted(int(a) % 4 for a in (axes or [])) != [2, 3]:
        return ctx.unsupported(f"a mean over axes {axes} (the image's height and width are imported)")
    if ctx.attrs.get("keepdims", 1):
        return ctx.out(ctx.add("adaptive_avgpool2d", {"output_size": 1}, [x]))
    return ctx.out(ctx.add("global_avgpool", {}, [x]))


def batchnorm(ctx: OnnxCtx) -> list[Any]:
    x = _image(ctx)
    consts = [ctx.const(i) for i in range(1, 5)]
    if x is None:
        return _needs_image(ctx)
    if any(c is None or c.shape != (x.shape[0],) for c in consts) or ctx.attrs.get("training_mode", 0):
        return ctx.unsupported("statistics that are not constants of one value per channel")
    out = ctx.add("batchnorm2d", {"eps": float(ctx.attrs.get("epsilon", 1e-5)),
                                  "momentum": 1.0 - float(ctx.attrs.get("momentum", 0.9)),
                                  "affine": True}, [x])
    for param, value in zip(("weight", "bias", "running_mean", "running_var"), consts):
        ctx.builder.weight(out, param, value)
    return ctx.out(out)


def _to_vector(ctx: OnnxCtx) -> list[Any]:
    x = ctx.value(0)
    if x is None or not x.known:
        return ctx.out(DEAD) if _dead(ctx) else ctx.unsupported("its input is a constant")
    if len(x.shape) == 1:
        return ctx.out(x)
    return ctx.out(ctx.add("flatten", {}, [x]))


def flatten(ctx: OnnxCtx) -> list[Any]:
    if int(ctx.attrs.get("axis", 1)) != 1:
        return ctx.unsupported("flattening from an axis other than 1")
    return _to_vector(ctx)


def reshape(ctx: OnnxCtx) -> list[Any]:
    x, shape = ctx.value(0), ctx.const(1)
    if x is None or not x.known:
        return ctx.out(DEAD) if _dead(ctx) else ctx.unsupported("its input is a constant")
    target = shape.reshape(-1).tolist() if shape is not None else None
    if target is not None and ctx.attrs.get("allowzero", 0) and 0 in target:
        target = None   # a literal zero-sized dimension
    size = math.prod(x.shape)
    if (target is not None and len(target) == 2
            and (target[1] == size or (target[1] == -1 and target[0] in (0, -1)))):
        return _to_vector(ctx)
    shown = "a shape computed from the network" if target is None else f"{target}"
    return ctx.unsupported(f"a reshape to {shown} (only flattening each sample to a vector is imported)")


def squeeze(ctx: OnnxCtx) -> list[Any]:
    if isinstance(ctx.inputs[0], np.ndarray):
        return squeeze_const(ctx, [v for v in ctx.inputs if v is not None])
    x = ctx.value(0)
    axes = ctx.attrs.get("axes")
    if axes is None and ctx.const(1) is not None:
        axes = ctx.const(1).reshape(-1).tolist()
    if x is not None and x.known and len(x.shape) == 3 and x.shape[1:] == (1, 1) \
            and sorted(int(a) % 4 for a in (axes or [2, 3])) == [2, 3]:
        return _to_vector(ctx)
    if _dead(ctx):
        return ctx.out(DEAD)
    return ctx.unsupported("only squeezing a C×1×1 map to a vector is imported")


def concat(ctx: OnnxCtx) -> list[Any]:
    if _dead(ctx):
        return ctx.out(DEAD)
    values = [v for v in ctx.inputs if v is not None]
    if all(isinstance(v, np.ndarray) for v in values):
        return concat_const(ctx, values)
    if any(isinstance(v, np.ndarray) for v in values):
        return ctx.unsupported("joining with a constant tensor")
    rank = len(values[0].shape) + 1
    if int(ctx.attrs.get("axis", 1)) not in (1, 1 - rank):
        return ctx.unsupported(f"joining along axis {ctx.attrs.get('axis')} (the channels are imported)")
    return ctx.out(ctx.add("concat", {}, values))


def pad(ctx: OnnxCtx) -> list[Any]:
    x = _image(ctx)
    if x is None:
        return _needs_image(ctx)
    pads = ctx.const(1) if len(ctx.inputs) > 1 else np.asarray(ctx.attrs.get("pads", []))
    value = ctx.const(2) if len(ctx.inputs) > 2 and ctx.inputs[2] is not None else np.zeros(1)
    mode = ctx.attrs.get("mode", "constant")
    if len(ctx.inputs) > 3 or pads is None or value is None:
        return ctx.unsupported("pads, axes or a value that are not constants")
    p = [int(v) for v in pads.reshape(-1)]
    if (mode != "constant" or float(value.reshape(-1)[0]) != 0.0 or len(p) != 8
            or any(p[i] for i in (0, 1, 4, 5)) or min(p) < 0):
        return ctx.unsupported(f"{mode} padding other than zeros around the height and width")
    return ctx.out(ctx.add("zeropad2d", {"top": p[2], "left": p[3], "bottom": p[6], "right": p[7]}, [x]))


def dropout(ctx: OnnxCtx) -> list[Any]:
    x = ctx.value(0)
    if x is None or not x.known:
        return ctx.out(DEAD) if _dead(ctx) else ctx.unsupported("its input is a constant")
    ratio = ctx.const(1)
    p = float(ratio.reshape(-1)[0]) if ratio is not None else float(ctx.attrs.get("ratio", 0.5))
    if ctx.extra_outputs_used():
        return ctx.unsupported("its mask output is used")
    return ctx.out(ctx.add("dropout", {"p": p}, [x]))


def identity(ctx: OnnxCtx) -> list[Any]:
    return ctx.out(ctx.inputs[0])


def constant(ctx: OnnxCtx) -> list[Any]:
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in ctx.attrs:
            return ctx.out(np.asarray(ctx.attrs[key]))
    return ctx.unsupported("a constant of a kind that is not imported")


def resize(ctx: OnnxCtx) -> list[Any]:
    x = _image(ctx)
    if x is None:
        return _needs_image(ctx)
    mode = ctx.attrs.get("mode", "nearest")
    coords = ctx.attrs.get("coordinate_transformation_mode", "half_pixel")
    nearest = ctx.attrs.get("nearest_mode", "round_prefer_floor")
    if mode == "nearest" and coords == "asymmetric" and nearest == "floor":
        params: dict[str, Any] = {"mode": "nearest"}
    elif mode == "linear" and coords in ("half_pixel", "pytorch_half_pixel", "align_corners"):
        params = {"mode": "bilinear", "align_corners": coords == "align_corners"}
    else:
        return ctx.unsupported(f"{mode} resizing with {coords} coordinates (nearest/asymmetric/floor and "
                               "linear are imported)")
    scales = ctx.const(2) if len(ctx.inputs) > 2 else None
    sizes = ctx.const(3) if len(ctx.inputs) > 3 else None
    if scales is not None and scales.size == 4 and scales[0] == scales[1] == 1 and scales[2] == scales[3]:
        params.update(by="scale", scale_factor=float(scales[2]))
    elif sizes is not None and sizes.size == 4 and int(sizes[1]) == x.shape[0]:
        params.update(by="size", size=[int(sizes[2]), int(sizes[3])])
    else:
        return ctx.unsupported("scales that differ between height and width, or that are not constants")
    return ctx.out(ctx.add("upsample", params, [x]))
