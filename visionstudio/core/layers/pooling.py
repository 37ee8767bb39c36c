"""MaxPool2d, AvgPool2d and GlobalAvgPool."""

from __future__ import annotations

from visionstudio.core.layers.base import (
    MOVE_BEFORE_FLATTEN,
    Emitted,
    LayerCode,
    LayerSpec,
    Params,
    Shape,
    ShapeError,
    fmt_shape,
    register,
)
from visionstudio.core.layers.source import constructor, pair_source
from visionstudio.core.params import ParamSpec, pair


def _pool_size(size: int, k: int, s: int, pad: int, ceil_mode: bool, d: int = 1) -> int:
    """torch's pooling_output_shape, so inference agrees with the real layer."""
    numerator = size + 2 * pad - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = numerator // s + 1
    if ceil_mode and (out - 1) * s >= size + pad:
        out -= 1
    return out


def _pool_infer(inputs: list[Shape], p: Params) -> Shape:
    shape = inputs[0]
    if len(shape) != 3:
        raise ShapeError(
            f"needs an image-like input (channels×height×width) but receives a "
            f"{fmt_shape(shape)} vector; move it before the Flatten",
            hint=MOVE_BEFORE_FLATTEN,
        )
    c, h, w = shape
    kh, kw = pair(p["kernel_size"])
    sh, sw = pair(p["stride"] if p["stride"] is not None else p["kernel_size"])
    ph, pw = pair(p["padding"])
    dh, dw = pair(p.get("dilation", 1))  # MaxPool2d only
    if 2 * ph > kh or 2 * pw > kw:
        raise ShapeError(f"padding {ph}×{pw} must be at most half the {kh}×{kw} window",
                         hint=f"set padding to at most {kh // 2}×{kw // 2}, or use a larger window")
    oh = _pool_size(h, kh, sh, ph, p["ceil_mode"], dh)
    ow = _pool_size(w, kw, sw, pw, p["ceil_mode"], dw)
    if oh <= 0 or ow <= 0:
        # torch refuses only an empty output: with ceil mode a window larger than the
        # (padded) input still gives one partial window
        where = f"{h}×{w} input" if (ph, pw) == (0, 0) else f"padded {h + 2 * ph}×{w + 2 * pw} input"
        ceil = "" if p["ceil_mode"] else ", turn on ceil mode (a partial window then counts)"
        eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
        what = f"window {kh}×{kw}" if (dh, dw) == (1, 1) else f"dilated window {eh}×{ew}"
        raise ShapeError(f"{what} is larger than its {where}",
                         hint=f"use a window of at most {h + 2 * ph}×{w + 2 * pw}{ceil}, or delete "
                              "this pooling: the image is already this small")
    return (c, oh, ow)


def _pool_params(dilation: bool = False) -> tuple[ParamSpec, ...]:
    spaced = (ParamSpec("dilation", "pair", 1, minimum=1, maximum=1024, advanced=True,
                        help="Spacing between the values a window compares; 2 looks at every "
                             "other pixel of a window twice as wide."),) if dilation else ()
    return (
        ParamSpec("kernel_size", "pair", 2, title="window", minimum=1, maximum=1024, key=True,
                  help="Size of the pooling window: one number or [height, width]."),
        ParamSpec("stride", "pair", None, optional=True, minimum=1, maximum=1024,
                  help="Step between windows; empty means the same as the window."),
        ParamSpec("padding", "pair", 0, minimum=0, maximum=512,
                  help="Padding on each side; at most half the window."),
        ParamSpec("ceil_mode", "bool", False, title="ceil mode",
                  help="Round the output size up, keeping a partial last window (even one "
                       "window larger than the input gives one value)."),
    ) + spaced


def _pool_summary(p: Params) -> str:
    kh, kw = pair(p["kernel_size"])
    sh, _ = pair(p["stride"] if p["stride"] is not None else p["kernel_size"])
    return f"{kh}×{kw} · s{sh}"


def _pool_build(cls_name: str):
    def build(inputs: list[Shape], p: Params):
        from torch import nn  # late: torch loads only when a model is built

        cls = getattr(nn, cls_name)
        stride = pair(p["stride"]) if p["stride"] is not None else None
        spaced = {"dilation": pair(p["dilation"])} if "dilation" in p else {}
        return cls(pair(p["kernel_size"]), stride=stride, padding=pair(p["padding"]),
                   ceil_mode=p["ceil_mode"], **spaced)
    return build


def _pool_emit(cls_name: str):
    def emit(code: LayerCode) -> Emitted:
        p = code.params
        kw: list[tuple[str, str]] = []
        if p["stride"] is not None:
            kw.append(("stride", pair_source(p["stride"])))
        if pair(p["padding"]) != (0, 0):
            kw.append(("padding", pair_source(p["padding"])))
        if pair(p.get("dilation", 1)) != (1, 1):
            kw.append(("dilation", pair_source(p["dilation"])))
        if p["ceil_mode"]:
            kw.append(("ceil_mode", "True"))
        return Emitted(code.call(), init=constructor(f"nn.{cls_name}", [pair_source(p["kernel_size"])], kw))
    return emit


MAXPOOL2D = register(LayerSpec(
    key="maxpool2d", title="MaxPool2d", category="Pooling",
    description="Keeps the largest value in each window: shrinks the image, keeps strong features.",
    params=_pool_params(dilation=True), infer=_pool_infer, build=_pool_build("MaxPool2d"),
    emit=_pool_emit("MaxPool2d"),
    summary=_pool_summary, name_prefix="pool", icon="pool",
))

AVGPOOL2D = register(LayerSpec(
    key="avgpool2d", title="AvgPool2d", category="Pooling",
    description="Averages each window: a smoother way to shrink the image.",
    params=_pool_params(), infer=_pool_infer, build=_pool_build("AvgPool2d"),
    emit=_pool_emit("AvgPool2d"),
    summary=_pool_summary, name_prefix="avgpool", icon="pool",
))


def _gap_infer(inputs: list[Shape], p: Params) -> Shape:
    shape = inputs[0]
    if len(shape) != 3:
        raise ShapeError(f"needs an image-like input but receives a {fmt_shape(shape)} vector",
                         hint=MOVE_BEFORE_FLATTEN)
    return (shape[0],)


def _gap_build(inputs: list[Shape], p: Params):
    from visionstudio.core.layers.modules import GlobalAvgPool2d

    return GlobalAvgPool2d()


GLOBAL_AVGPOOL = register(LayerSpec(
    key="global_avgpool", title="GlobalAvgPool", category="Pooling",
    description="Averages each channel over the whole image: C×H×W becomes a C vector.",
    params=(), infer=_gap_infer, build=_gap_build,
    emit=lambda code: Emitted(f"{code.arg}.mean(dim=(2, 3))"),
    name_prefix="gap", icon="pool",
))
