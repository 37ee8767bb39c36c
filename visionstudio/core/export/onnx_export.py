"""ONNX export with a dynamic batch dimension.

torch 2.9+ exports through ``torch.export`` (``dynamo=True``, needs onnxscript); that is
tried first. If it fails (or onnxscript is missing) the older TorchScript-based exporter
is used, with its deprecation warning silenced. The file is checked with
``onnx.checker`` when onnx is installed.

A network with one output names it ``output``; one with several heads names each output
after its head layer (``box1``, ``cls``), in the order the model returns them: the raw
heads, with any decoding left to the code that reads the file.
"""

from __future__ import annotations

import io
import os
import warnings
from contextlib import redirect_stdout
from pathlib import Path

import torch

from visionstudio.core.export.pytorch_code import resolved_weights
from visionstudio.core.export.source_check import check_layer_names
from visionstudio.core.export.weights import ExportError, export_model
from visionstudio.core.project import ProjectDocument, atomic_write_bytes

OPSET = 18
INPUT_NAME, OUTPUT_NAME = "input", "output"


def output_names(model: torch.nn.Module) -> list[str]:
    """``output`` for a single output, else the head layers' names in output order."""
    heads = tuple(getattr(model, "head_names", ()))
    return list(heads) if len(heads) > 1 else [OUTPUT_NAME]


def _export_dynamo(model: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    from torch.export import Dim

    batch = Dim("batch", min=1, max=65536)
    with redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model, (example,), dynamo=True, input_names=[INPUT_NAME], output_names=output_names(model),
            dynamic_shapes=({0: batch},), opset_version=OPSET, verbose=False,
            external_data=False, optimize=True,
        )
    atomic_write_bytes(path, program.model_proto.SerializeToString())


def _export_legacy(model: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    buffer = io.BytesIO()
    outputs = output_names(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (example,), buffer, dynamo=False, input_names=[INPUT_NAME],
            output_names=outputs, opset_version=OPSET,
            dynamic_axes={INPUT_NAME: {0: "batch"}, **{name: {0: "batch"} for name in outputs}},
        )
    atomic_write_bytes(path, buffer.getvalue())


def export_onnx(doc: ProjectDocument, path: str | os.PathLike[str],
                weights: dict[str, torch.Tensor] | None = None) -> Path:
    """Write the model (eval mode) as ONNX; returns the path. Input ``input`` is
    N×C×H×W float32 with N dynamic, output ``output`` is N×classes (or one output per
    head, named after it)."""
    check_layer_names(doc.graph)  # no project text in the file but identifiers
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    model = export_model(doc.graph)
    model.load_state_dict(resolved_weights(doc, weights), strict=True)
    model.eval()
    shape = tuple(model_input_shape(doc))
    example = torch.zeros(2, *shape)
    errors: list[str] = []
    for exporter in (_export_dynamo, _export_legacy):
        try:
            exporter(model, example, target)
            break
        except Exception as exc:  # noqa: BLE001 - fall back to the other exporter
            errors.append(f"{exporter.__name__[8:]}: {type(exc).__name__}: {str(exc)[:300]}")
    else:
        raise ExportError("ONNX export failed:\n" + "\n".join(errors))
    try:
        import onnx
    except ImportError:  # pragma: no cover - onnx is an optional extra
        return target
    try:
        onnx.checker.check_model(os.fspath(target), full_check=True)
    except Exception as exc:  # noqa: BLE001 - onnx.checker raises its own C++ error types
        raise ExportError(f"{target}: the exported ONNX model fails onnx.checker: {exc}") from None
    return target


def model_input_shape(doc: ProjectDocument) -> tuple[int, ...]:
    from visionstudio.core.graph import analyze

    analysis = analyze(doc.graph)
    shape = analysis.input_shape
    if shape is None:
        from visionstudio.core.build import BuildError

        raise BuildError(analysis.errors or ["the network has no Input layer"])
    return shape
