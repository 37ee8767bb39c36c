"""Input, Conv2d and ConvTranspose2d."""

from __future__ import annotations

from visionstudio.core.layers.activations import (
    ACTIVATION_TITLES,
    activation_param,
    fused_activation_emitted,
    make_activation,
)
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
from visionstudio.core.layers.source import constructor, integer, pair_source, word
from visionstudio.core.params import ParamSpec, pair

PADDING_WORDS = ("same", "valid")


def _hw(value) -> str:
    h, w = pair(value)
    return f"{h}×{w}"


def _input_infer(inputs: list[Shape], p: Params) -> Shape:
    return (p["channels"], p["height"], p["width"])


INPUT = register(LayerSpec(
    key="input", title="Input", category="Input",
    description="Where images enter the network: channels × height × width of one sample.",
    params=(
        ParamSpec("channels", "int", 1, minimum=1, maximum=4096, key=True,
                  help="1 for grayscale, 3 for RGB."),
        ParamSpec("height", "int", 28, minimum=1, maximum=8192, key=True, help="Image height in pixels."),
        ParamSpec("width", "int", 28, minimum=1, maximum=8192, key=True, help="Image width in pixels."),
    ),
    infer=_input_infer, build=lambda inputs, p: None,
    emit=lambda code: Emitted("x"),  # the images forward() receives
    summary=lambda p: f"{p['channels']}×{p['height']}×{p['width']}",
    name_prefix="input", min_inputs=0, max_inputs=0, icon="input",
))


def conv_output_hw(h: int, w: int, p: Params) -> tuple[int, int]:
    """Output height/width of a convolution, raising ShapeError in the user's words."""
    kh, kw = pair(p["kernel_size"])
    sh, sw = pair(p["stride"])
    dh, dw = pair(p["dilation"])
    padding = p["padding"]
    if padding == "same":
        if (sh, sw) != (1, 1):
            raise ShapeError("padding 'same' only works with stride 1; give the padding as a number",
                             hint="set stride to 1, or set padding to a number: (kernel size - 1) / 2 "
                                  "keeps the size before the stride")
        return h, w
    ph, pw = (0, 0) if padding == "valid" else pair(padding)
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    H, W = h + 2 * ph, w + 2 * pw
    if eh > H or ew > W:
        what = f"kernel {kh}×{kw}" if (dh, dw) == (1, 1) else f"dilated kernel {eh}×{ew}"
        where = f"its {h}×{w} input" if (ph, pw) == (0, 0) else f"its padded {H}×{W} input"
        raise ShapeError(f"{what} is larger than {where}",
                         hint=f"use a kernel of at most {h}×{w}, add padding, or remove a pooling "
                              "or strided layer before it so the image stays larger")
    return (H - eh) // sh + 1, (W - ew) // sw + 1


def _conv_infer(inputs: list[Shape], p: Params) -> Shape:
    shape = inputs[0]
    if len(shape) != 3:
        raise ShapeError(
            f"needs an image-like input (channels×height×width) but receives a "
            f"{fmt_shape(shape)} vector; move it before the Flatten",
            hint=MOVE_BEFORE_FLATTEN,
        )
    c, h, w = shape
    g = p["groups"]
    if c % g:
        raise ShapeError(f"its {c} input channels cannot be split into {g} groups",
                         hint=f"set groups to a number that divides both {c} and {p['out_channels']} "
                              "(1 always works)")
    if p["out_channels"] % g:
        raise ShapeError(f"its {p['out_channels']} output channels cannot be split into {g} groups",
                         hint=f"set filters to a multiple of {g}, or groups to a number that divides "
                              f"both {c} and {p['out_channels']}")
    oh, ow = conv_output_hw(h, w, p)
    return (p["out_channels"], oh, ow)


def _conv_params(inputs: list[Shape], out: Shape, p: Params) -> int:
    kh, kw = pair(p["kernel_size"])
    cin = inputs[0][0] // p["groups"]
    return p["out_channels"] * cin * kh * kw + (p["out_channels"] if p["bias"] else 0)


def _conv_flops(inputs: list[Shape], out: Shape, p: Params) -> int:
    kh, kw = pair(p["kernel_size"])
    cin = inputs[0][0] // p["groups"]
    return 2 * out[0] * out[1] * out[2] * cin * kh * kw


def _conv_build(inputs: list[Shape], p: Params):
    from visionstudio.core.layers.modules import Conv2dAct  # late: torch loads only when a model is built

    padding = p["padding"]
    padding = padding if isinstance(padding, str) else pair(padding)
    return Conv2dAct(
        inputs[0][0], p["out_channels"], pair(p["kernel_size"]), stride=pair(p["stride"]),
        padding=padding, dilation=pair(p["dilation"]), groups=p["groups"], bias=p["bias"],
        activation=make_activation(p["activation"]),
    )


def _conv_emit(code: LayerCode) -> Emitted:
    p = code.params
    args = [integer(code.inputs[0][0]), integer(p["out_channels"]), pair_source(p["kernel_size"])]
    kw: list[tuple[str, str]] = []
    if pair(p["stride"]) != (1, 1):
        kw.append(("stride", pair_source(p["stride"])))
    padding = p["padding"]
    if isinstance(padding, str):
        if padding != "valid":
            kw.append(("padding", word(padding)))
    elif pair(padding) != (0, 0):
        kw.append(("padding", pair_source(padding)))
    if pair(p["dilation"]) != (1, 1):
        kw.append(("dilation", pair_source(p["dilation"])))
    if p["groups"] != 1:
        kw.append(("groups", integer(p["groups"])))
    if not p["bias"]:
        kw.append(("bias", "False"))
    return fused_activation_emitted(code, constructor("nn.Conv2d", args, kw))


def _conv_summary(p: Params) -> str:
    parts = [str(p["out_channels"]), _hw(p["kernel_size"])]
    sh, sw = pair(p["stride"])
    parts.append(f"s{sh}" if sh == sw else f"s{sh}×{sw}")
    padding = p["padding"]
    if padding == "same":
        parts.append("same")
    elif padding not in (0, "valid"):
        parts.append(f"p{_hw(padding)}" if isinstance(padding, list) else f"p{padding}")
    if p["activation"] != "none":
        parts.append(ACTIVATION_TITLES[p["activation"]])
    return " · ".join(parts)


CONV2D = register(LayerSpec(
    key="conv2d", title="Conv2d", category="Convolution",
    description="2-D convolution: slides learned filters over the image to detect local patterns.",
    params=(
        ParamSpec("out_channels", "int", 32, title="filters", minimum=1, maximum=65536, key=True,
                  help="Number of filters (output channels)."),
        ParamSpec("kernel_size", "pair", 3, title="kernel size", minimum=1, maximum=1024, key=True,
                  help="Filter height and width: one number or [height, width]."),
        ParamSpec("stride", "pair", 1, minimum=1, maximum=1024,
                  help="Step between filter positions; 2 halves the image size."),
        ParamSpec("padding", "padding", 0, minimum=0, maximum=1024, choices=PADDING_WORDS,
                  help="Zeros added around the input: a number, [h, w], 'same' (keep size, "
                       "stride 1 only) or 'valid' (none)."),
        ParamSpec("dilation", "pair", 1, minimum=1, maximum=1024, advanced=True,
                  help="Spacing between kernel taps (atrous convolution)."),
        ParamSpec("groups", "int", 1, minimum=1, maximum=65536, advanced=True,
                  help="Split channels into groups convolved separately; groups = channels "
                       "gives a depthwise convolution."),
        ParamSpec("bias", "bool", True, help="Learn an offset per filter."),
        activation_param(),
    ),
    infer=_conv_infer, build=_conv_build, emit=_conv_emit, count_params=_conv_params, count_flops=_conv_flops,
    summary=_conv_summary, name_prefix="conv", icon="conv",
))


def _transposed_hw(h: int, w: int, p: Params) -> tuple[int, int]:
    """torch's ConvTranspose2d output size, refusing what torch refuses in the user's words."""
    (kh, kw), (sh, sw), (dh, dw) = pair(p["kernel_size"]), pair(p["stride"]), pair(p["dilation"])
    (ph, pw), (oph, opw) = pair(p["padding"]), pair(p["output_padding"])
    if (oph >= sh and oph >= dh) or (opw >= sw and opw >= dw):
        raise ShapeError(f"output padding {oph}×{opw} must be smaller than the stride {sh}×{sw} "
                         f"or the dilation {dh}×{dw}",
                         hint="output padding only picks one of the sizes a stride could have "
                              "come from: set it below the stride (0 always works)")
    oh = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    ow = (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    if oh <= 0 or ow <= 0:  # torch raises below 0 and returns an empty image at 0: useless
        raise ShapeError(f"padding {ph}×{pw} removes the whole {h}×{w} input: the output would be "
                         f"{oh}×{ow}",
                         hint="use less padding, or a larger kernel or stride")
    return oh, ow


def _transposed_infer(inputs: list[Shape], p: Params) -> Shape:
    shape = inputs[0]
    if len(shape) != 3:
        raise ShapeError(
            f"needs an image-like input (channels×height×width) but receives a "
            f"{fmt_shape(shape)} vector; move it before the Flatten",
            hint=MOVE_BEFORE_FLATTEN,
        )
    c, h, w = shape
    g, oc = p["groups"], p["out_channels"]
    if c % g or oc % g:
        which = f"input channels ({c})" if c % g else f"filters ({oc})"
        raise ShapeError(f"its {which} cannot be split into {g} groups",
                         hint=f"set groups to a number that divides both {c} and {oc} (1 always works)")
    return (oc, *_transposed_hw(h, w, p))


def _transposed_params(inputs: list[Shape], out: Shape, p: Params) -> int:
    kh, kw = pair(p["kernel_size"])
    return inputs[0][0] * (out[0] // p["groups"]) * kh * kw + (out[0] if p["bias"] else 0)


def _transposed_flops(inputs: list[Shape], out: Shape, p: Params) -> int:
    # torch.utils.flop_counter counts a transposed convolution over its input positions
    kh, kw = pair(p["kernel_size"])
    c, h, w = inputs[0]
    return 2 * h * w * kh * kw * c * (out[0] // p["groups"])


def _transposed_build(inputs: list[Shape], p: Params):
    from torch import nn  # late: torch loads only when a model is built

    return nn.ConvTranspose2d(
        inputs[0][0], p["out_channels"], pair(p["kernel_size"]), stride=pair(p["stride"]),
        padding=pair(p["padding"]), output_padding=pair(p["output_padding"]), groups=p["groups"],
        bias=p["bias"], dilation=pair(p["dilation"]),
    )


def _transposed_emit(code: LayerCode) -> Emitted:
    p = code.params
    args = [integer(code.inputs[0][0]), integer(p["out_channels"]), pair_source(p["kernel_size"])]
    kw: list[tuple[str, str]] = []
    for name, neutral in (("stride", 1), ("padding", 0), ("output_padding", 0)):
        if pair(p[name]) != (neutral, neutral):
            kw.append((name, pair_source(p[name])))
    if p["groups"] != 1:
        kw.append(("groups", integer(p["groups"])))
    if not p["bias"]:
        kw.append(("bias", "False"))
    if pair(p["dilation"]) != (1, 1):
        kw.append(("dilation", pair_source(p["dilation"])))
    return Emitted(code.call(), init=constructor("nn.ConvTranspose2d", args, kw))


def _transposed_summary(p: Params) -> str:
    sh, sw = pair(p["stride"])
    stride = f"s{sh}" if sh == sw else f"s{sh}×{sw}"
    return " · ".join([str(p["out_channels"]), _hw(p["kernel_size"]), stride])


CONV_TRANSPOSE2D = register(LayerSpec(
    key="conv_transpose2d", title="ConvTranspose2d", category="Convolution",
    description="Transposed convolution (sometimes called deconvolution): learned upsampling. "
                "Each input pixel stamps a learned filter onto a larger output, so stride 2 "
                "doubles the image size; the decoder half of U-Nets and autoencoders uses it. "
                "Output size = (input - 1) × stride - 2 × padding + dilation × (kernel - 1) "
                "+ output padding + 1.",
    params=(
        ParamSpec("out_channels", "int", 16, title="filters", minimum=1, maximum=65536, key=True,
                  help="Number of filters (output channels)."),
        ParamSpec("kernel_size", "pair", 2, title="kernel size", minimum=1, maximum=1024, key=True,
                  help="Filter height and width: one number or [height, width]. Kernel 2 with "
                       "stride 2 doubles the size exactly."),
        ParamSpec("stride", "pair", 2, minimum=1, maximum=1024,
                  help="How far apart the stamped filters land in the output; 2 doubles the size."),
        ParamSpec("padding", "pair", 0, minimum=0, maximum=1024,
                  help="Rows and columns cut from each border of the output (it undoes the "
                       "padding of the convolution this one mirrors)."),
        ParamSpec("output_padding", "pair", 0, title="output padding", minimum=0, maximum=1024,
                  help="Extra rows/columns added on one side of the output, to reach an odd "
                       "size a strided convolution came from; must be smaller than the stride "
                       "or the dilation."),
        ParamSpec("dilation", "pair", 1, minimum=1, maximum=1024, advanced=True,
                  help="Spacing between kernel taps."),
        ParamSpec("groups", "int", 1, minimum=1, maximum=65536, advanced=True,
                  help="Split channels into groups handled separately; must divide both the input "
                       "channels and the filters."),
        ParamSpec("bias", "bool", True, help="Learn an offset per filter."),
    ),
    infer=_transposed_infer, build=_transposed_build, emit=_transposed_emit,
    count_params=_transposed_params, count_flops=_transposed_flops,
    summary=_transposed_summary, name_prefix="upconv", icon="conv_transpose",
))
