"""ONNX (dynamic batch, onnxruntime within 1e-4) and TorchScript exports."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from visionstudio.core.build import build_model
from visionstudio.core.export import export_project
from visionstudio.core.export.torchscript import load_torchscript

from .export_graphs import every_kind_project, template_projects

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _trained(doc, seed=5):
    model = build_model(doc.graph, seed=seed)
    for name, buf in model.named_buffers():
        if name.endswith("running_var"):
            buf.uniform_(0.5, 2.0)
    return model.eval(), {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.slow
@pytest.mark.parametrize("which", ["small_resnet", "every_kind"])
def test_onnx_matches_pytorch(tmp_path, which):
    doc = every_kind_project() if which == "every_kind" else dict(template_projects())[which]
    model, weights = _trained(doc)
    result = export_project(doc, "onnx", tmp_path, weights=weights)
    path = result.files[0]
    assert path.name == "model.onnx"
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    dim0 = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim0.dim_param and not dim0.dim_value  # dynamic batch
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for batch in (1, 3):
        shape = next(n for n in doc.graph.nodes.values() if n.kind == "input").params
        x = torch.randn(batch, shape["channels"], shape["height"], shape["width"])
        got = session.run(None, {name: x.numpy()})[0]
        with torch.no_grad():
            want = model(x).numpy()
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("key,doc", template_projects() + [("every_kind", every_kind_project())],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_torchscript_matches_pytorch(tmp_path, key, doc):
    model, weights = _trained(doc)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # the deprecation is handled inside
        result = export_project(doc, "torchscript", tmp_path, weights=weights)
    loaded = load_torchscript(result.files[0])
    shape = next(n for n in doc.graph.nodes.values() if n.kind == "input").params
    for batch in (1, 3):
        x = torch.randn(batch, shape["channels"], shape["height"], shape["width"])
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), model(x), atol=1e-5, rtol=1e-5)
