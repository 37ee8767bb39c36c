"""ONNX operators on constants: the shape arithmetic exporters write for ``x.view(x.size(0),
-1)`` (Shape → Gather → Unsqueeze → Concat → Reshape), evaluated at import time.

``Shape`` of a network tensor gives its per-sample shape with 0 for the batch, which is
what Reshape's "copy this dimension" means (allowzero=0), so the chain ends in a plain
flatten. Anything else computed from a network tensor is refused (the library has no
layer for it). Every result is at most as large as its constant inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from visionstudio.core.importers.flat import DEAD, Value
from visionstudio.core.importers.onnx_ops import OnnxCtx, _dead


def _consts(ctx: OnnxCtx) -> list[np.ndarray] | None:
    present = [v for v in ctx.inputs if v is not None]
    return present if all(isinstance(v, np.ndarray) for v in present) else None


def _refuse(ctx: OnnxCtx, what: str) -> list[Any]:
    return ctx.out(DEAD) if _dead(ctx) else ctx.unsupported(f"{what} of a network tensor")


def shape(ctx: OnnxCtx) -> list[Any]:
    x = ctx.inputs[0]
    if not isinstance(x, Value) or not x.known:
        return _refuse(ctx, "a shape")
    full = np.asarray([0, *x.shape], dtype=np.int64)
    start, end = int(ctx.attrs.get("start", 0)), ctx.attrs.get("end")
    return ctx.out(full[start:None if end is None else int(end)])


def gather(ctx: OnnxCtx) -> list[Any]:
    consts = _consts(ctx)
    if consts is None or len(consts) != 2:
        return _refuse(ctx, "gathering values")
    data, indices = consts
    return ctx.out(np.asarray(np.take(data, indices.astype(np.int64), axis=int(ctx.attrs.get("axis", 0)))))


def _axes(ctx: OnnxCtx, consts: list[np.ndarray]) -> list[int] | None:
    axes = ctx.attrs.get("axes")
    if axes is None and len(consts) > 1:
        axes = consts[1].reshape(-1).tolist()
    return None if axes is None else [int(a) for a in axes]


def unsqueeze(ctx: OnnxCtx) -> list[Any]:
    consts = _consts(ctx)
    if consts is None:
        return _refuse(ctx, "adding an axis")
    axes = _axes(ctx, consts)
    if axes is None or len(axes) > 8:
        return ctx.unsupported("axes that are not constants")
    rank = consts[0].ndim + len(axes)
    value = consts[0]
    for axis in sorted(a % rank for a in axes):
        value = np.expand_dims(value, axis)
    return ctx.out(value)


def squeeze_const(ctx: OnnxCtx, consts: list[np.ndarray]) -> list[Any]:
    axes = _axes(ctx, consts)
    value = consts[0]
    if axes is None:
        return ctx.out(np.asarray(np.squeeze(value)))
    return ctx.out(np.asarray(np.squeeze(value, axis=tuple(a % value.ndim for a in axes))))


def concat_const(ctx: OnnxCtx, consts: list[np.ndarray]) -> list[Any]:
    return ctx.out(np.concatenate(consts, axis=int(ctx.attrs.get("axis", 0))))


def cast(ctx: OnnxCtx) -> list[Any]:
    import onnx

    consts = _consts(ctx)
    if consts is None:
        x = ctx.value(0)   # a cast of a float network tensor to float is a no-op
        if x is not None and ctx.attrs.get("to") == onnx.TensorProto.FLOAT:
            return ctx.out(x)
        return _refuse(ctx, "a cast")
    return ctx.out(consts[0].astype(onnx.helper.tensor_dtype_to_np_dtype(int(ctx.attrs["to"]))))
