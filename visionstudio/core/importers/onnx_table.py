"""The ONNX operators that import, each with its mapping (``onnx_ops``, ``onnx_shapes``)."""

from __future__ import annotations

from visionstudio.core.importers import onnx_consts as consts
from visionstudio.core.importers import onnx_shapes as shapes
from visionstudio.core.importers.onnx_ops import (
    Handler,
    _clip_kind,
    _hardsigmoid,
    _prelu,
    _softmax,
    conv,
    conv_transpose,
    gemm,
    matmul,
    merge,
    unary,
)

OPS: dict[str, Handler] = {
    "Conv": conv, "ConvTranspose": conv_transpose, "Gemm": gemm, "MatMul": matmul,
    "Relu": unary("relu"), "Sigmoid": unary("sigmoid"), "Tanh": unary("tanh"),
    "LeakyRelu": unary("leaky_relu", lambda ctx: {"negative_slope": float(ctx.attrs.get("alpha", 0.01))}),
    "Elu": unary("elu", lambda ctx: {"alpha": float(ctx.attrs.get("alpha", 1.0))}),
    "Gelu": unary("gelu", lambda ctx: {} if ctx.attrs.get("approximate", "none") == "none"
                  else "the tanh approximation of GELU"),
    "Softplus": unary("softplus"), "Mish": unary("mish"), "HardSwish": unary("hardswish"),
    "HardSigmoid": unary("hardsigmoid", _hardsigmoid),
    "Softmax": unary("softmax", _softmax), "LogSoftmax": unary("log_softmax", _softmax),
    "Clip": _clip_kind, "PRelu": _prelu,
    "Add": merge("add"), "Sum": merge("add"), "Mul": merge("multiply"), "Max": merge("maximum"),
    "Mean": merge("average"), "Concat": shapes.concat,
    "MaxPool": shapes.pool("maxpool2d"), "AveragePool": shapes.pool("avgpool2d"),
    "GlobalAveragePool": shapes.global_pool("adaptive_avgpool2d"),
    "GlobalMaxPool": shapes.global_pool("adaptive_maxpool2d"),
    "ReduceMean": shapes.reduce_mean, "BatchNormalization": shapes.batchnorm,
    "Flatten": shapes.flatten, "Reshape": shapes.reshape, "Squeeze": shapes.squeeze,
    "Pad": shapes.pad, "Dropout": shapes.dropout, "Identity": shapes.identity,
    "Constant": shapes.constant, "Resize": shapes.resize,
    "Shape": consts.shape, "Gather": consts.gather, "Unsqueeze": consts.unsqueeze, "Cast": consts.cast,
}
