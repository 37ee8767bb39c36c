"""ConvTranspose2d, Upsample, ZeroPad2d and the adaptive pools in whole networks: the code
they emit (readable, and building exactly the app's model), their ONNX export (within 1e-4
in onnxruntime, dynamic batch), their errors in the user's words, and project text that
tries to become code."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstudio.core.build import build_model
from visionstudio.core.export import export_project
from visionstudio.core.export.codegen import generate_model_source
from visionstudio.core.export.torchscript import load_torchscript
from visionstudio.core.graph import analyze
from visionstudio.core.layers import LAYERS, ShapeError
from visionstudio.core.params import validate_all
from visionstudio.core.project import ProjectFormatError, document_from_dict

from .support import import_file, torch_threads

# Every kind of this module with its less common settings (and a dilated MaxPool2d),
# one after another: 4×9×11 -> ... -> 16 features. amax1's 7×5 does not divide its 20×31 input, the case
# torch's own ONNX exporters refuse.
CHAIN = [
    ("inp", "input", {"channels": 4, "height": 9, "width": 11}),
    ("ct1", "conv_transpose2d", {"out_channels": 6, "kernel_size": [3, 2], "stride": [2, 3],
                                 "padding": 1, "output_padding": [1, 0], "groups": 2, "dilation": 2,
                                 "bias": False}),
    ("amax1", "adaptive_maxpool2d", {"output_size": [7, 5]}),
    ("up1", "upsample", {"scale_factor": 1.5, "mode": "bilinear", "align_corners": True}),
    ("pad1", "zeropad2d", {"left": 0, "right": 2, "top": 3, "bottom": 1}),
    ("up2", "upsample", {"by": "size", "size": [9, 13]}),
    ("aavg1", "adaptive_avgpool2d", {"output_size": [4, 3]}),
    ("up3", "upsample", {}),
    ("up4", "upsample", {"by": "size", "size": [5, 7], "mode": "bilinear"}),
    ("pad2", "zeropad2d", {}),
    ("mp1", "maxpool2d", {"kernel_size": 2, "stride": 1, "padding": 1, "dilation": 2, "ceil_mode": True}),
    ("ct2", "conv_transpose2d", {}),
    ("amax2", "adaptive_maxpool2d", {}),
    ("fl", "flatten", {}),
]
SHAPES = {"ct1": (6, 20, 31), "amax1": (6, 7, 5), "up1": (6, 10, 7), "pad1": (6, 14, 9),
          "up2": (6, 9, 13), "aavg1": (6, 4, 3), "up3": (6, 8, 6), "up4": (6, 5, 7), "pad2": (6, 7, 9),
          "mp1": (6, 7, 9), "ct2": (16, 14, 18), "amax2": (16, 1, 1), "fl": (16,)}


def _chain_project(nodes=CHAIN):
    return document_from_dict({"name": "Resize", "graph": {
        "nodes": [{"id": n, "kind": k, "name": n, "params": p} for n, k, p in nodes],
        "edges": [{"src": a[0], "dst": b[0]} for a, b in zip(nodes, nodes[1:])]}})


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    with torch_threads(1):
        yield


def test_chain_shapes():
    analysis = analyze(_chain_project().graph)
    assert analysis.ok, analysis.errors
    by_name = {n: analysis.nodes[n].output_shape for n, _, _ in CHAIN[1:]}
    assert by_name == SHAPES


def test_emitted_code_is_readable_and_builds_the_apps_model(tmp_path):
    doc = _chain_project()
    analysis = analyze(doc.graph)
    generated = generate_model_source(doc.graph, project_name="Resize", analysis=analysis)
    for line in (
        "nn.ConvTranspose2d(4, 6, (3, 2), stride=(2, 3), padding=1, output_padding=(1, 0), groups=2, "
        "bias=False, dilation=2)",
        "nn.AdaptiveMaxPool2d((7, 5))",
        'nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True)',
        "nn.ZeroPad2d((0, 2, 3, 1))",
        'nn.Upsample(size=(9, 13), mode="nearest")',
        "nn.AdaptiveAvgPool2d((4, 3))",
        'nn.Upsample(scale_factor=2.0, mode="nearest")',
        'nn.Upsample(size=(5, 7), mode="bilinear")',
        "nn.ZeroPad2d(1)",
        "nn.MaxPool2d(2, stride=1, padding=1, dilation=2, ceil_mode=True)",
        "nn.ConvTranspose2d(6, 16, 2, stride=2)",
        "nn.AdaptiveMaxPool2d(1)",
    ):
        assert line in generated.source, line
    path = tmp_path / "model.py"
    path.write_text(generated.source, encoding="utf-8")
    ours = getattr(import_file(path, "resize_model"), generated.class_name)().eval()
    app = build_model(doc.graph, analysis, seed=3).eval()
    ours.load_state_dict(app.state_dict(), strict=True)
    assert sum(p.numel() for p in ours.parameters()) == analysis.total_params == 4 * 3 * 6 + 6 * 16 * 4 + 16
    x = torch.randn(3, 4, 9, 11)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), app(x), rtol=0, atol=0)


@pytest.mark.slow
def test_onnx_matches_pytorch_within_1e4(tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    doc = _chain_project()
    model = build_model(doc.graph, seed=5).eval()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    path = export_project(doc, "onnx", tmp_path, weights=weights).files[0]
    proto = onnx.load(str(path))
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # dynamic batch
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        x = torch.randn(batch, 4, 9, 11)
        got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
        with torch.no_grad():
            want = model(x).numpy()
        assert got.shape == want.shape == (batch, 16)
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_torchscript_matches_pytorch(tmp_path):
    doc = _chain_project()
    model = build_model(doc.graph, seed=4).eval()
    path = export_project(doc, "torchscript", tmp_path, weights=model.state_dict()).files[0]
    loaded = load_torchscript(path)
    for batch in (1, 3):
        x = torch.randn(batch, 4, 9, 11)
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), model(x), atol=1e-5, rtol=1e-5)


def test_adaptive_max_pool_while_exporting_is_exactly_torchs(monkeypatch):
    """The slice-and-max form used for ONNX picks torch's windows for every small size."""
    from torch import nn

    from visionstudio.core.layers.resize_modules import AdaptiveMaxPool2d

    x = torch.randn(2, 3, 13, 11)
    eager = {out: nn.AdaptiveMaxPool2d(out)(x) for out in ((1, 1), (2, 3), (5, 7), (13, 11), (16, 4))}
    monkeypatch.setattr(torch.onnx, "is_in_onnx_export", lambda: True)
    for out, want in eager.items():
        assert torch.equal(AdaptiveMaxPool2d(out)(x), want), out


def _infer(kind, shape, **params):
    spec = LAYERS.get(kind)
    clean, problems = validate_all(spec.params, params)
    assert not problems, problems
    return spec.infer([shape], clean)


@pytest.mark.parametrize("kind, shape, params, message, hint", [
    ("conv_transpose2d", (3, 4, 4), {"stride": 1, "output_padding": 1},
     "output padding 1×1 must be smaller than the stride 1×1 or the dilation 1×1", "below the stride"),
    ("conv_transpose2d", (3, 1, 1), {"kernel_size": 1, "padding": 1},
     "padding 1×1 removes the whole 1×1 input", "less padding"),
    ("conv_transpose2d", (3, 4, 4), {"groups": 2},
     "its input channels (3) cannot be split into 2 groups", "divides both 3 and 16"),
    ("conv_transpose2d", (12,), {}, "receives a 12 vector", "Flatten"),
    ("upsample", (3, 2, 3), {"scale_factor": 0.25},
     "scale 0.25 shrinks its 2×3 input to nothing (0×0)", "at least 0.5"),
    ("upsample", (3, 4, 4), {"align_corners": True},
     "align corners only applies to bilinear upsampling", "mode to bilinear"),
    ("zeropad2d", (7,), {}, "receives a 7 vector", "Flatten"),
    ("adaptive_avgpool2d", (7,), {}, "receives a 7 vector", "Flatten"),
    ("maxpool2d", (1, 2, 2), {"kernel_size": 3}, "window 3×3 is larger than its 2×2 input", "ceil mode"),
])
def test_errors_speak_to_the_user(kind, shape, params, message, hint):
    with pytest.raises(ShapeError) as info:
        _infer(kind, shape, **params)
    assert message in str(info.value)
    assert hint in info.value.hint


def test_summaries_say_the_setting():
    def summary(kind, **params):
        spec = LAYERS.get(kind)
        return spec.summary(validate_all(spec.params, params)[0])

    assert summary("upsample") == "×2.0 · nearest"
    assert summary("upsample", by="size", size=[4, 6], mode="bilinear") == "→4×6 · bilinear"
    assert summary("zeropad2d", left=0, right=1, top=2, bottom=3) == "0·1·2·3"
    assert summary("adaptive_avgpool2d", output_size=[7, 7]) == "→7×7"
    assert summary("conv_transpose2d", stride=[2, 1]) == "16 · 2×2 · s2×1"


@pytest.mark.parametrize("field, value", [
    ("mode", 'nearest"); import os; os.system("x'),
    ("by", "__import__('os')"),
    ("scale_factor", "2.0); import os #"),
    ("size", [4, "os.system"]),
    ("left", "1); import os #"),
])
def test_project_text_never_becomes_code(field, value):
    kind = "zeropad2d" if field == "left" else "upsample"
    nodes = [("inp", "input", {"channels": 1, "height": 4, "width": 4}), ("x", kind, {field: value}),
             ("fl", "flatten", {})]
    with pytest.raises(ProjectFormatError) as info:
        _chain_project(nodes)
    assert f"graph.nodes[1].params.{field}" in str(info.value)
