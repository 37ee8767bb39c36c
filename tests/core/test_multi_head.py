"""Networks with several heads: the analysis rules, the built model's tuple, and the
exports (model.py, ONNX, TorchScript) returning the same heads in the same order."""

from __future__ import annotations

import warnings

import pytest
import torch
from safetensors.torch import load_file

from visionstudio.core.build import build_model
from visionstudio.core.export import export_project
from visionstudio.core.export.codegen import generate_model_source
from visionstudio.core.export.pytorch_code import export_pytorch
from visionstudio.core.export.source_check import checked_source
from visionstudio.core.export.torchscript import load_torchscript
from visionstudio.core.graph import analyze
from visionstudio.core.project import ProjectDocument

from .graph_strategies import GraphBuilder
from .support import import_file, torch_threads


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    with torch_threads(1):
        yield


def messages(analysis, name):
    return [str(d) for info in analysis.nodes.values() for d in info.diagnostics
            if d.message.startswith(f"{name}: ")]


def class_and_box() -> GraphBuilder:
    """input -> conv -> pool -> flatten, then a class head and a box head."""
    b = GraphBuilder()
    x = b.add("input", channels=3, height=12, width=12)
    x = b.add("conv2d", x, out_channels=4, kernel_size=3, activation="relu")
    x = b.add("maxpool2d", x)
    x = b.add("flatten", x, name="features")
    c = b.add("dense", x, units=3, name="scores")
    b.add("output", c, name="cls", target="class", loss="cross_entropy")
    d = b.add("dense", x, units=4, activation="sigmoid", name="coords")
    b.add("output", d, name="box", target="box", loss="smooth_l1", weight=5.0)
    return b


def doc_of(b: GraphBuilder, name="Two heads") -> ProjectDocument:
    return ProjectDocument(graph=b.graph, name=name, task="localization")


def test_analysis_lists_the_heads_by_name():
    b = class_and_box()
    a = analyze(b.graph)
    assert a.ok, a.errors
    assert [b.name(n) for n in a.output_ids] == ["box", "cls"]
    assert a.output_id == a.output_ids[0] and a.output_shape == (4,)


def test_next_to_heads_every_dead_end_is_a_problem():
    b = class_and_box()
    b.add("dense", b.id("features"), units=2, name="extra")
    a = analyze(b.graph)
    assert messages(a, "extra") == ["extra: feeds nothing; connect it to an Output or delete it"]
    assert not a.ok and [b.name(n) for n in a.output_ids] == ["box", "cls"]
    problem = next(d for d in a.diagnostics if d.message.startswith("extra"))
    assert "Output layer" in problem.hint


def test_a_head_that_feeds_on_is_a_problem():
    b = class_and_box()
    b.add("relu", b.id("cls"), name="after")
    a = analyze(b.graph)
    assert messages(a, "cls") == ["cls: is an Output, which ends the network, but feeds after"]
    assert messages(a, "after") == ["after: feeds nothing; connect it to an Output or delete it"]


def test_an_unconnected_head_and_a_loss_that_does_not_fit():
    b = class_and_box()
    b.add("output", name="loose")
    b.graph.nodes[b.id("box")].params["loss"] = "cross_entropy"
    a = analyze(b.graph)
    assert messages(a, "loose") == ["loose: its input is not connected"]
    assert messages(a, "box") == [
        "box: the cross-entropy loss does not fit the box target; use smooth L1 or L1 or MSE or Huber"]


def test_one_output_layer_is_one_tensor():
    b = GraphBuilder()
    x = b.add("input", channels=1, height=6, width=6)
    x = b.add("flatten", x)
    b.add("output", b.add("dense", x, units=5), name="only")
    model = build_model(b.graph)
    out = model(torch.zeros(2, 1, 6, 6))
    assert isinstance(out, torch.Tensor) and out.shape == (2, 5)
    assert model.head_names == ("only",) and model.head_targets == ("class",)


def test_without_heads_the_task_names_the_target():
    b = GraphBuilder()
    b.add("dense", b.add("flatten", b.add("input", channels=1, height=4, width=4)), units=2)
    assert build_model(b.graph).head_targets == ("class",)
    model = build_model(b.graph, task="regression")
    assert model.head_targets == ("values",) and model.head_names == ("dense1",)


def test_build_returns_the_heads_in_order():
    b = class_and_box()
    model = build_model(b.graph, seed=1).eval()
    assert model.head_names == ("box", "cls") and model.head_targets == ("box", "class")
    box, cls = model(torch.randn(2, 3, 12, 12))
    assert box.shape == (2, 4) and cls.shape == (2, 3)
    assert bool(((box > 0) & (box < 1)).all())   # the sigmoid before the box head


def test_model_py_returns_what_the_app_builds(tmp_path):
    b = class_and_box()
    doc = doc_of(b)
    app = build_model(b.graph, seed=7).eval()
    weights = {k: v.clone() for k, v in app.state_dict().items()}
    export_pytorch(doc, tmp_path, weights)
    source = (tmp_path / "model.py").read_text(encoding="utf-8")
    checked_source(source, "model.py")
    assert "forward returns a tuple, one tensor per head, in this order:" in source
    assert "0: box (box): N×4" in source and "1: cls (class): N×3" in source
    assert "return box, cls" in source and "-> tuple[torch.Tensor, ...]:" in source
    module = import_file(tmp_path / "model.py", "two_heads_model")
    assert module.HEAD_NAMES == ("box", "cls") and module.OUTPUT_SHAPE == ((4,), (3,))
    model = module.TwoHeads()
    model.load_state_dict(load_file(str(tmp_path / "weights.safetensors")), strict=True)
    model.eval()
    x = torch.randn(3, 3, 12, 12)
    with torch.no_grad():
        got, want = model(x), app(x)
    assert isinstance(got, tuple) and len(got) == 2
    assert all(torch.equal(g, w) for g, w in zip(got, want))
    generated = generate_model_source(b.graph, project_name="Two heads")
    assert generated.head_names == ("box", "cls") and generated.output_shapes == ((4,), (3,))


def test_a_single_output_keeps_its_model_py():
    b = GraphBuilder()
    x = b.add("flatten", b.add("input", channels=1, height=4, width=4))
    b.add("dense", x, units=3, activation="softmax")
    generated = generate_model_source(b.graph, project_name="One")
    assert "HEAD_NAMES" not in generated.source and "OUTPUT_SHAPE = (3,)" in generated.source
    assert "output: N×3." in generated.source and generated.head_names == ()


def test_torchscript_returns_both_heads(tmp_path):
    b = class_and_box()
    doc = doc_of(b)
    app = build_model(b.graph, seed=3).eval()
    weights = {k: v.clone() for k, v in app.state_dict().items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = export_project(doc, "torchscript", tmp_path, weights=weights)
        loaded = load_torchscript(result.files[0])
    x = torch.randn(2, 3, 12, 12)
    with torch.no_grad():
        got, want = loaded(x), app(x)
    assert len(got) == 2 and all(torch.allclose(g, w) for g, w in zip(got, want))


@pytest.mark.slow
def test_onnx_has_one_named_output_per_head(tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    b = class_and_box()
    doc = doc_of(b)
    app = build_model(b.graph, seed=4).eval()
    weights = {k: v.clone() for k, v in app.state_dict().items()}
    path = export_project(doc, "onnx", tmp_path, weights=weights).files[0]
    proto = onnx.load(str(path))
    assert [o.name for o in proto.graph.output] == ["box", "cls"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.randn(3, 3, 12, 12)
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        want = app(x)
    for g, w in zip(got, want):
        assert g.shape == tuple(w.shape)
        assert torch.allclose(torch.from_numpy(g), w, atol=1e-4)


def test_an_output_inside_a_block_definition_is_a_problem():
    from visionstudio.core.graph.analysis import analyze_block
    from visionstudio.core.graph.blocks import BlockLibrary

    from .block_helpers import conv_block

    definition = conv_block("with_head")
    inner = definition.graph
    relu = inner.node_by_name("relu1").id
    b = GraphBuilder(inner)
    b.add("output", relu, name="inner_head")
    library = BlockLibrary()
    library.add(definition)
    a = analyze_block(library, "with_head", [(3, 8, 8)])
    assert "inner_head: an Output layer ends the whole network and cannot sit inside a block" in [
        str(d) for d in a.diagnostics]
