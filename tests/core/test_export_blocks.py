"""Exporting networks made of blocks: one readable class per definition, shared by its
instances, with the app model's state-dict keys and bit-identical outputs; ONNX within
1e-4 in onnxruntime, TorchScript exact; and no block text ever becomes code."""

from __future__ import annotations

import ast

import pytest
import torch

from visionstudio.core.blocks.builtin import builtin_block
from visionstudio.core.build import build_model
from visionstudio.core.export import ExportError, export_project
from visionstudio.core.export.codegen import generate_model_source
from visionstudio.core.export.torchscript import load_torchscript
from visionstudio.core.graph import analyze
from visionstudio.core.graph.blocks import ExposedParam
from visionstudio.core.project import ProjectDocument
from visionstudio.core.templates import load_template

from .block_graphs import chain

BLOCK_TEMPLATES = ["resnet18_cifar", "resnet18", "mobilenet_se"]

# Every built-in, twice or more with different numbers, so the classes must take arguments.
EVERY_BUILTIN = [
    ("basic_block", {"channels": 16}), ("basic_block", {"channels": 16}),
    ("basic_block_projection", {"channels": 24, "stride": 2}), ("basic_block", {"channels": 24}),
    ("squeeze_excitation", {"channels": 24, "squeeze_channels": 6}),
    ("depthwise_separable", {"in_channels": 24, "out_channels": 32, "stride": 2}),
    ("depthwise_separable", {"in_channels": 32, "out_channels": 32, "stride": 1}),
    ("squeeze_excitation", {"channels": 32, "squeeze_channels": 4}),
    ("bottleneck", {"channels": 8, "out_channels": 32}),
    ("bottleneck", {"channels": 16, "out_channels": 48, "stride": 2}),
    ("inception", {"ch1x1": 8, "ch3x3red": 8, "ch3x3": 16, "ch5x5red": 4, "ch5x5": 8, "pool_proj": 8}),
    ("inception", {"ch1x1": 4, "ch3x3red": 4, "ch3x3": 8, "ch5x5red": 2, "ch5x5": 4, "pool_proj": 4}),
]


def _every_builtin():
    return chain((16, 16, 16), EVERY_BUILTIN)


def _small():
    """Projection basic block, SE, depthwise separable, inception: every kind of layer the
    built-ins hold, in four instances (ONNX export takes seconds per block)."""
    return chain((16, 16, 16), [EVERY_BUILTIN[i] for i in (2, 4, 5, 10)])


def _trained(graph, seed=7):
    """The app model with 'trained' weights: a seed, BatchNorm statistics off 0/1."""
    model = build_model(graph, seed=seed)
    for name, buf in model.named_buffers():
        if name.endswith("running_mean"):
            buf.uniform_(-0.5, 0.5)
        elif name.endswith("running_var"):
            buf.uniform_(0.5, 2.0)
    return model.eval()


def _exported(graph, name="Blocks"):
    generated = generate_model_source(graph, project_name=name)
    namespace: dict = {}
    exec(compile(generated.source, "model.py", "exec"), namespace)
    return generated, namespace[generated.class_name]().eval()


def _assert_same(graph, batch=2):
    app = _trained(graph)
    generated, model = _exported(graph)
    assert list(model.state_dict()) == list(app.state_dict())
    model.load_state_dict(app.state_dict(), strict=True)
    x = torch.randn(batch, *analyze(graph).input_shape)
    with torch.no_grad():
        assert torch.equal(model(x), app(x))
    return generated


def _classes(source: str) -> dict[str, ast.ClassDef]:
    return {n.name: n for n in ast.parse(source).body if isinstance(n, ast.ClassDef)}


def _init_args(cls: ast.ClassDef) -> list[str]:
    init = next(f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__")
    return [a.arg for a in init.args.args[1:]]


def test_every_builtin_exports_one_class_each_bit_identical():
    generated = _assert_same(_every_builtin())
    classes = _classes(generated.source)
    assert {"BasicBlock", "BasicBlockProjection", "SqueezeExcitation", "DepthwiseSeparable",
            "Bottleneck", "Inception"} <= set(classes)
    assert not any(name[-1].isdigit() for name in classes)  # shared, no per-instance copies
    assert _init_args(classes["DepthwiseSeparable"]) == ["in_channels", "out_channels", "stride"]
    assert _init_args(classes["SqueezeExcitation"]) == ["channels", "squeeze_channels"]
    assert _init_args(classes["BasicBlock"]) == ["channels"]  # stride 1 everywhere: written as is
    source = generated.source
    assert "self.block6 = DepthwiseSeparable(in_channels=24, out_channels=32, stride=2)" in source
    assert ("self.block10 = Bottleneck( in_channels=32, channels=16, out_channels=48, stride=2 )"
            in " ".join(source.split()))  # wrapped as black would
    assert all(len(line) <= 100 for line in source.splitlines())


@pytest.mark.parametrize("key", BLOCK_TEMPLATES)
def test_block_templates_export_bit_identical(key):
    doc = load_template(key)
    generated = _assert_same(doc.graph, batch=1 if key == "resnet18" else 2)
    classes = _classes(generated.source)
    expected = ({"DepthwiseSeparable", "SqueezeExcitation"} if key == "mobilenet_se"
                else {"BasicBlock", "BasicBlockProjection"})
    assert set(classes) == expected | {generated.class_name}


def test_nested_blocks_share_their_classes():
    """A user block holding an SE instance whose channels it exposes: both definitions get
    one class, the inner one constructed inside the outer; keys nest (unit1.se.fc1.weight)."""
    se = builtin_block("squeeze_excitation")
    unit = builtin_block("depthwise_separable")
    unit.key, unit.title = "ds_se", "DS + SE"
    graph = unit.graph
    out = next(n for n in graph.nodes.values() if n.kind == "block_output")
    last = graph.inputs_of(out.id)[0]
    from visionstudio.core.graph import Edge, make_node

    node = make_node(graph, "block", "se", {"block": "squeeze_excitation", "channels": 64,
                                             "squeeze_channels": 16})
    graph.nodes[node.id] = node
    graph.positions[node.id] = (300.0, 300.0)
    graph.edges.remove(last)
    graph.edges.append(Edge(last.src, node.id, 0))
    graph.edges.append(Edge(node.id, out.id, 0))
    unit.exposed += [ExposedParam("out_channels", node.id, "channels"),
                     ExposedParam("squeeze", node.id, "squeeze_channels")]
    net = chain((8, 8, 8), [("ds_se", {"in_channels": 8, "out_channels": 16, "stride": 1, "squeeze": 4}),
                            ("ds_se", {"in_channels": 16, "out_channels": 32, "stride": 2, "squeeze": 8})],
                definitions=[se, unit])
    assert analyze(net).diagnostics == []
    generated = _assert_same(net)
    classes = _classes(generated.source)
    assert set(classes) == {"SqueezeExcitation", "DsSe", generated.class_name}
    assert "self.se = SqueezeExcitation(channels=out_channels, squeeze_channels=squeeze)" in generated.source
    assert _init_args(classes["DsSe"]) == ["in_channels", "out_channels", "stride", "squeeze"]
    assert "block2.se.fc1.weight" in _trained(net).state_dict()


def test_instances_that_cannot_share_a_text_get_classes_of_their_own():
    """A block ending in Flatten -> Dense: the Dense's inputs depend on the image size,
    which is no argument, so two sizes need two classes, and the docstring says why."""
    from visionstudio.core.blocks.builtin import _Draft

    d = _Draft("head")
    d.add("block_input", "input", index=0)
    d.add("flatten", "flatten", "input")
    d.add("block_output", "output", d.add("dense", "fc", "flatten", units=10))
    head = d.definition("Head", "Flatten and a dense layer.", [(4, 4, 4)])
    net = chain((4, 8, 8), [("head", {})], definitions=[head])
    big = next(n for n in net.nodes.values() if n.kind == "block")
    from visionstudio.core.graph import Edge, make_node

    pool = make_node(net, "maxpool2d", "pool", {"kernel_size": 2})
    second = make_node(net, "block", "head2", {"block": "head"})
    cat = make_node(net, "concat", "cat")
    inp = next(n for n in net.nodes.values() if n.kind == "input")
    for n in (pool, second, cat):
        net.nodes[n.id] = n
    net.edges.extend([Edge(inp.id, pool.id, 0), Edge(pool.id, second.id, 0),
                      Edge(big.id, cat.id, 0), Edge(second.id, cat.id, 1)])
    generated = _assert_same(net)
    classes = _classes(generated.source)
    assert {"Head", "Head2"} <= set(classes)
    assert "get classes of their own: Head, Head2" in " ".join(generated.source.split())


def test_hostile_block_text_stays_text(tmp_path, monkeypatch):
    """Title and description reach model.py only as docstring text; an exposed name or inner
    layer name that is no Python name stops the export before anything is written."""
    monkeypatch.chdir(tmp_path)
    attack = '"""\nimport os; os.system("touch pwned")  # \\'
    definition = builtin_block("squeeze_excitation")
    definition.title, definition.description = attack, attack * 3
    net = chain((8, 4, 4), [("squeeze_excitation", {"channels": 8, "squeeze_channels": 2})],
                definitions=[definition])
    generated = _assert_same(net)  # compiled and run: the module defines classes, nothing else
    assert not (tmp_path / "pwned").exists()
    tree = ast.parse(generated.source)
    assert "os" not in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert "os.system" in ast.get_docstring(_classes(generated.source)["SqueezeExcitation"])

    hostile_name = definition.copy(key="se2")
    hostile_name.exposed = [ExposedParam("squeeze_channels=1):\n import os\n def f(x", e.node_id, e.param)
                            if e.name == "squeeze_channels" else e for e in definition.exposed]
    net2 = chain((8, 4, 4), [("se2", {"channels": 8}), ("se2", {"channels": 8})],
                 definitions=[hostile_name])
    (net2.node_by_name("block2").params)["squeeze_channels=1):\n import os\n def f(x"] = 4
    with pytest.raises(ExportError, match="not a valid Python name"):
        export_project(ProjectDocument(net2), "pytorch", tmp_path / "out")
    assert not (tmp_path / "out").exists()

    inner = builtin_block("basic_block")
    conv = next(n for n in inner.graph.nodes.values() if n.name == "conv1")
    conv.name = "conv1(x); import os; x"
    net3 = chain((64, 4, 4), [("basic_block", {})], definitions=[inner])
    for fmt in ("pytorch", "onnx", "torchscript"):
        with pytest.raises(ExportError, match="not a valid Python name"):
            export_project(ProjectDocument(net3), fmt, tmp_path / fmt)
        assert not (tmp_path / fmt).exists()


@pytest.mark.slow
def test_onnx_of_every_builtin_within_1e_4(tmp_path):
    import numpy as np
    import onnxruntime as ort

    graph = _small()
    model = _trained(graph)
    doc = ProjectDocument(graph)
    result = export_project(doc, "onnx", tmp_path, weights=dict(model.state_dict()))
    session = ort.InferenceSession(str(result.files[0]), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        x = torch.randn(batch, 16, 16, 16)
        got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
        with torch.no_grad():
            want = model(x).numpy()
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_torchscript_of_blocks_is_exact(tmp_path):
    graph = _small()
    model = _trained(graph)
    result = export_project(ProjectDocument(graph), "torchscript", tmp_path,
                            weights=dict(model.state_dict()))
    loaded = load_torchscript(result.files[0])
    x = torch.randn(3, 16, 16, 16)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_training_bundle_carries_the_block_classes(tmp_path):
    from .support import import_file

    doc = load_template("resnet18_cifar")
    export_project(doc, "script", tmp_path)
    source = (tmp_path / "model.py").read_text(encoding="utf-8")
    assert "class BasicBlock(nn.Module):" in source and "class BasicBlockProjection(nn.Module):" in source
    import json

    from safetensors.torch import load_file

    module = import_file(tmp_path / "model.py", "bundle_model")
    config = json.loads((tmp_path / "config.json").read_text(encoding="utf-8"))
    model = getattr(module, config["model"]["class"])()
    model.load_state_dict(load_file(str(tmp_path / "weights.safetensors")), strict=True)
    app = build_model(doc.graph, seed=doc.training.seed).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), app(x))


def test_a_block_with_two_inputs_takes_them_in_port_order():
    from visionstudio.core.blocks.builtin import _Draft
    from visionstudio.core.graph import Edge, GraphModel, make_node

    d = _Draft("merge")
    d.add("block_input", "a", index=0)
    d.add("block_input", "b", index=1)
    d.add("conv2d", "conv", "b", out_channels=8, kernel_size=1)
    d.add("block_output", "output", d.add("add", "add", "a", "conv"))
    d.expose("channels", "channels", ("conv", "out_channels"))
    net = GraphModel()
    net.blocks.add(d.definition("Merge", "", [(8, 4, 4), (4, 4, 4)]))
    nodes = [make_node(net, "input", "input", {"channels": 4, "height": 4, "width": 4}),
             make_node(net, "conv2d", "left", {"out_channels": 8, "kernel_size": 1}),
             make_node(net, "block", "merge1", {"block": "merge", "channels": 8})]
    for n in nodes:
        net.nodes[n.id] = n
    inp, left, merge = (n.id for n in nodes)
    net.edges.extend([Edge(inp, left, 0), Edge(left, merge, 0), Edge(inp, merge, 1)])
    generated = _assert_same(net)
    assert "def forward(self, x: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:" in generated.source
    assert "self.conv = nn.Conv2d(in_channels1, channels, 1)" in generated.source


def test_float_and_bool_exposed_values():
    """A float becomes an argument; a bool that differs splits the instances into one
    class per value (each still taking the float)."""
    from visionstudio.core.blocks.builtin import _Draft

    d = _Draft("unit")
    d.add("block_input", "input", index=0)
    d.add("conv2d", "conv", "input", out_channels=4, kernel_size=3, padding=1)
    d.add("block_output", "output", d.add("dropout", "drop", "conv", p=0.5))
    d.expose("bias", "bias", ("conv", "bias"))
    d.expose("p", "dropout", ("drop", "p"))
    net = chain((4, 6, 6), [("unit", {"bias": True, "p": 0.1}), ("unit", {"bias": False, "p": 0.3}),
                            ("unit", {"bias": True, "p": 0.25})],
                definitions=[d.definition("Unit", "", [(4, 6, 6)])])
    generated = _assert_same(net)
    classes = _classes(generated.source)
    assert _init_args(classes["Unit"]) == _init_args(classes["Unit2"]) == ["in_channels", "p"]
    assert "self.block3 = Unit(in_channels=4, p=0.25)" in generated.source
    assert "self.block2 = Unit2(in_channels=4, p=0.3)" in generated.source
