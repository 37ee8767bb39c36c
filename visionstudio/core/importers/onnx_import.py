"""ONNX models onto the canvas: the graph's nodes as the library's kinds, initializers
as weights (opsets 11 and later; 13+ is what exporters write today).

A file from anywhere declares tensor sizes and may point at external data files, so
every initializer's dimensions are checked (and the bytes it claims to hold) before it
is turned into an array, and external data must sit in the model's own folder. Every
operation without a mapping is listed before any is converted (``onnx_ops.OPS``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from visionstudio.core.importers.flat import DEAD, FlatBuilder, Value
from visionstudio.core.importers.onnx_ops import OnnxCtx, attributes
from visionstudio.core.importers.onnx_table import OPS
from visionstudio.core.importers.result import ImportProblem, ImportResult, listing

MAX_FILE_BYTES = 2 * 1024 ** 3          # protobuf's own limit
MAX_ELEMENTS = 1 << 31                  # values in one tensor
MAX_TOTAL_ELEMENTS = 1 << 32            # in all of them
MAX_NODES = 10_000
MIN_OPSET = 11


def _onnx():
    try:
        import onnx
    except ImportError:  # pragma: no cover - onnx is in the "import" and "export" extras
        raise ImportProblem("importing ONNX files needs the onnx package: "
                            "pip install 'visionstudio[import]'") from None
    return onnx


class Tensors:
    """Initializers and Constant values, each checked before it is read."""

    def __init__(self, source: str, folder: Path) -> None:
        self.source, self.folder = source, folder
        self.total = 0

    def _external(self, tensor: Any, what: str, expected: int) -> None:
        onnx = _onnx()
        info = {e.key: e.value for e in tensor.external_data}
        location = info.get("location", "")
        path = Path(location)
        target = (self.folder / path).resolve()
        if (not location or path.is_absolute() or ".." in path.parts
                or os.path.commonpath([target, self.folder.resolve()]) != str(self.folder.resolve())):
            raise ImportProblem(f"{self.source}: {what} keeps its values in {location[:120]!r}, "
                                "outside the model's folder; refused")
        try:
            offset, length = int(info.get("offset", 0)), int(info.get("length", expected))
            size = target.stat().st_size if target.is_file() else -1
        except (ValueError, OSError):
            size = -1
        if size < 0:
            raise ImportProblem(f"{self.source}: {what} keeps its values in {location[:120]!r}, "
                                "which is not a file next to the model")
        if length != expected or offset < 0 or offset + length > size:
            raise ImportProblem(f"{self.source}: {what} claims {length:,} bytes at offset {offset:,} of "
                                f"{location[:120]!r} ({size:,} bytes); its shape needs {expected:,}")
        onnx.external_data_helper.load_external_data_for_tensor(tensor, os.fspath(self.folder))
        tensor.data_location = onnx.TensorProto.DEFAULT
        del tensor.external_data[:]

    def array(self, tensor: Any, what: str) -> np.ndarray:
        onnx = _onnx()
        dims = list(tensor.dims)
        if any(d < 0 for d in dims) or len(dims) > 8:
            raise ImportProblem(f"{self.source}: {what} declares the shape {dims[:8]}")
        count = math.prod(dims)
        self.total += count
        if count > MAX_ELEMENTS or self.total > MAX_TOTAL_ELEMENTS:
            raise ImportProblem(f"{self.source}: {what} declares {count:,} values "
                                f"(shape {dims}); more than an importable model holds")
        try:
            dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)
        except (KeyError, TypeError, ValueError):
            raise ImportProblem(f"{self.source}: {what} has an unknown data type") from None
        expected = count * dtype.itemsize
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            self._external(tensor, what, expected)
        if tensor.HasField("raw_data") and len(tensor.raw_data) != expected:
            raise ImportProblem(f"{self.source}: {what} holds {len(tensor.raw_data):,} bytes; "
                                f"its shape {dims} needs {expected:,}")
        try:
            return np.array(onnx.numpy_helper.to_array(tensor))
        except (ValueError, TypeError) as exc:
            raise ImportProblem(f"{self.source}: {what} cannot be read ({str(exc)[:120]})") from None


def _load(path: Path, source: str) -> Any:
    onnx = _onnx()
    if not path.is_file():
        raise ImportProblem(f"{source}: no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ImportProblem(f"{source}: larger than the 2 GiB an ONNX file can be")
    try:
        return onnx.load(os.fspath(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf raises its own DecodeError and others
        raise ImportProblem(f"{source}: not an ONNX model ({type(exc).__name__}: {str(exc)[:120]})") from None


def _opset(model: Any, source: str) -> int:
    versions = {o.domain: o.version for o in model.opset_import}
    version = versions.get("", versions.get("ai.onnx", 0))
    if version < MIN_OPSET:
        raise ImportProblem(f"{source}: written with opset {version}; opsets {MIN_OPSET} and later are "
                            "imported (convert it with onnx.version_converter)")
    return version


def import_onnx(path: str | Path) -> ImportResult:
    p = Path(path)
    source = str(p)
    model = _load(p, source)
    graph = model.graph
    opset = _opset(model, source)
    if len(graph.node) > MAX_NODES:
        raise ImportProblem(f"{source}: {len(graph.node):,} operations; at most {MAX_NODES:,} are imported")
    nodes = list(graph.node)
    missing = [f"{n.op_type[:40]} at {(n.name or n.output[0] if n.output else '?')[:80]} (node {i + 1})"
               for i, n in enumerate(nodes) if n.domain not in ("", "ai.onnx") or n.op_type not in OPS]
    if missing:
        raise listing(source, "operation", missing)
    builder = FlatBuilder(source, "operation")
    tensors = Tensors(source, p.parent)
    values: dict[str, Value | np.ndarray] = {}
    for init in graph.initializer:
        values[init.name] = tensors.array(init, f"initializer {init.name[:80]!r}")
    _graph_input(builder, graph, values)
    uses: dict[str, int] = {}
    for n in nodes:
        for name in n.input:
            uses[name] = uses.get(name, 0) + 1
    for name in (o.name for o in graph.output):
        uses[name] = uses.get(name, 0) + 1
    for i, node in enumerate(nodes):
        where = f"{node.op_type} at {(node.name or node.output[0])[:80]} (node {i + 1})"
        ins = [values.get(name) if name else None for name in node.input]
        if any(name and name not in values for name in node.input):
            builder.unsupported(f"{where} (an input comes from nowhere, or later)")
            outs: list[Any] = [DEAD] * len(node.output)
        else:
            ctx = OnnxCtx(builder, tensors, node, where, attributes(node, tensors, where), ins, uses,
                          values, opset)
            outs = _convert(ctx)
        for name, value in zip(node.output, outs):
            if name:
                values[name] = value
    if len(graph.output) != 1:
        raise ImportProblem(f"{source}: the model has {len(graph.output)} outputs; one is imported")
    output = values.get(graph.output[0].name, DEAD)
    if isinstance(output, np.ndarray):
        raise ImportProblem(f"{source}: the output is a constant")
    return builder.finish(output, graph.name or p.stem)


def _convert(ctx: OnnxCtx) -> list[Any]:
    try:
        return OPS[ctx.node.op_type](ctx)
    except ImportProblem:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, ArithmeticError) as exc:
        return ctx.unsupported(f"its attributes cannot be read: {type(exc).__name__}: {str(exc)[:80]}")


def _graph_input(builder: FlatBuilder, graph: Any, values: dict[str, Any]) -> None:
    real = [i for i in graph.input if i.name not in values]
    if len(real) != 1:
        raise ImportProblem(f"{builder.source}: the model has {len(real)} inputs; "
                            "one image input is imported")
    inp = real[0]
    dims = [d.dim_value if d.HasField("dim_value") else None for d in inp.type.tensor_type.shape.dim]
    if len(dims) != 4 or any(d is None or d < 1 for d in dims[1:]):
        shown = "×".join("?" if d is None else str(d) for d in dims)
        raise ImportProblem(f"{builder.source}: the input {inp.name[:80]!r} is {shown}; an image input "
                            "N×C×H×W with fixed C, H and W is imported")
    c, h, w = dims[1:]
    values[inp.name] = builder.add("input", inp.name, {"channels": c, "height": h, "width": w}, [],
                                   f"the input {inp.name[:80]!r}")
