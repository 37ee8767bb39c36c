"""PyTorch code export: the generated model.py compiles, imports only torch and gives
bit-identical outputs to the app's model with the same weights."""

from __future__ import annotations

import ast
import py_compile

import pytest
import torch
from safetensors.torch import load_file, save_file

from visionstudio.core.build import BuildError, build_model
from visionstudio.core.export import WeightsError, export_project, load_weights
from visionstudio.core.export.block_text import camel
from visionstudio.core.export.codegen import class_name_for
from visionstudio.core.export.pytorch_code import export_pytorch
from visionstudio.core.layers import LAYERS
from visionstudio.core.project import document_from_dict

from .export_graphs import every_kind_project, template_projects
from .support import import_file

PROJECTS = template_projects() + [("every_kind", every_kind_project())]


_import = import_file


def _top_imports(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0])
    return names


def test_every_layer_kind_is_covered():
    doc = every_kind_project()
    # the block kinds need a definition: tests/core/test_export_blocks.py covers them; the
    # head kinds change what forward returns: tests/core/test_multi_head.py covers them
    layer_kinds = {k for k in LAYERS if LAYERS.category(k) != "Blocks" and not LAYERS.get(k).is_head}
    assert {n.kind for n in doc.graph.nodes.values()} == layer_kinds


@pytest.mark.parametrize("key,doc", PROJECTS, ids=[k for k, _ in PROJECTS])
def test_generated_code_reproduces_app_model(tmp_path, key, doc):
    # "Trained" weights: a different seed, with BatchNorm statistics moved off 0/1.
    app = build_model(doc.graph, seed=123)
    for name, buf in app.named_buffers():
        if name.endswith("running_mean"):
            buf.uniform_(-0.5, 0.5)
        elif name.endswith("running_var"):
            buf.uniform_(0.5, 2.0)
    weights = {k: v.clone() for k, v in app.state_dict().items()}
    files = export_pytorch(doc, tmp_path, weights)
    assert [p.name for p in files] == ["model.py", "weights.safetensors"]
    source = (tmp_path / "model.py").read_text(encoding="utf-8")
    py_compile.compile(str(tmp_path / "model.py"), doraise=True)
    # a Detect layer's decode uses torchvision's NMS (imported inside decode_detections)
    detects = any(n.kind == "detect" for n in doc.graph.nodes.values())
    allowed = {"torch", "torchvision"} if detects else {"torch"}
    assert _top_imports(source) <= allowed, _top_imports(source)
    assert "visionstudio" not in source
    assert all(len(line) <= 100 for line in source.splitlines())
    module = _import(tmp_path / "model.py", f"exported_{key}")
    cls_name = class_name_for(doc.name)
    model = getattr(module, cls_name)()
    model.load_state_dict(load_file(str(tmp_path / "weights.safetensors")), strict=True)
    model.eval()
    app.eval()
    torch.manual_seed(0)
    x = torch.randn(3, *module.INPUT_SHAPE)
    with torch.no_grad():
        got, want = model(x), app(x)
    if isinstance(want, tuple):  # several heads (a template of another task)
        assert isinstance(got, tuple) and len(got) == len(want)
        assert all(torch.equal(a, b) for a, b in zip(got, want))
    else:
        assert torch.equal(got, want)
    # One class per file (plus the layers' helper classes where used, such as WeightedSum,
    # and one per block definition: test_export_blocks.py), named layers.
    classes = [n.name for n in ast.parse(source).body if isinstance(n, ast.ClassDef)]
    blocks = {camel(key) for key in doc.graph.blocks.keys()}
    helpers = {name for key in LAYERS for name, _ in LAYERS.get(key).code_helpers}
    assert classes[-1] == cls_name and set(classes) <= {cls_name} | helpers | blocks
    for node in doc.graph.nodes.values():
        if node.kind in ("conv2d", "dense", "batchnorm2d"):
            assert f"self.{node.name} = " in source
    assert "# " in source and "×" in source  # shape comments


def test_initial_weights_are_the_seeded_app_weights(tmp_path):
    key, doc = PROJECTS[0]
    export_pytorch(doc, tmp_path)
    saved = load_file(str(tmp_path / "weights.safetensors"))
    expected = build_model(doc.graph, seed=doc.training.seed).state_dict()
    assert saved.keys() == expected.keys()
    assert all(torch.equal(saved[k], expected[k]) for k in expected)


def test_every_kind_source_reads_well(tmp_path):
    doc = every_kind_project()
    export_pytorch(doc, tmp_path)
    source = (tmp_path / "model.py").read_text(encoding="utf-8")
    for fragment in ('nn.Conv2d(3, 8, 3, padding="same")', "groups=2", "dilation=2",
                     "c1 = F.relu(self.c1(x))", "torch.cat([", "dim=1)", "x.mean(dim=(2, 3))",
                     "torch.flatten(", "F.leaky_relu(", "negative_slope=0.2", "F.elu(",
                     "alpha=0.5", "F.gelu(", "torch.sigmoid(", "torch.tanh(",
                     "nn.MaxPool2d(2)", "nn.AvgPool2d(2)", "ceil_mode=True",
                     "nn.BatchNorm2d(8, eps=0.001, momentum=0.2)", "affine=False",
                     "WeightedSum([0.3, 0.7])", "learnable=True", "nn.Dropout(0.3)",
                     "nn.Linear(32, 10, bias=False)", "if logits:", "return F.softmax(x, dim=1)"):
        assert fragment in source, fragment


def test_logits_flag_skips_only_the_final_softmax(tmp_path):
    _, doc = PROJECTS[0]  # classic CNN: dense2 with activation softmax
    export_pytorch(doc, tmp_path)
    module = _import(tmp_path / "model.py", "exported_logits")
    model = getattr(module, class_name_for(doc.name))()
    model.load_state_dict(load_file(str(tmp_path / "weights.safetensors")))
    model.eval()
    x = torch.randn(2, *module.INPUT_SHAPE)
    logits = model(x, logits=True)
    assert torch.allclose(torch.softmax(logits, 1), model(x))


@pytest.mark.parametrize("name,expected", [
    ("Classic CNN", "ClassicCNN"), ("small resnet v2", "SmallResnetV2"), ("3 layers", "Net3Layers"),
    ("", "Network"), ("???", "Network"), ("torch", "Torch"),
    ("weighted sum", "WeightedSumModel"),
])
def test_class_names(name, expected):
    assert class_name_for(name) == expected


def test_node_names_that_clash_with_module_members(tmp_path):
    doc = document_from_dict({"name": "clash", "graph": {
        "nodes": [{"id": "a", "kind": "input", "name": "x",
                   "params": {"channels": 1, "height": 4, "width": 4}},
                  {"id": "b", "kind": "flatten", "name": "self", "params": {}},
                  {"id": "c", "kind": "dense", "name": "training", "params": {"units": 3}},
                  {"id": "d", "kind": "dense", "name": "forward", "params": {"units": 2}}],
        "edges": [{"src": "a", "dst": "b"}, {"src": "b", "dst": "c"}, {"src": "c", "dst": "d"}]}})
    app = build_model(doc.graph, seed=1).eval()
    export_pytorch(doc, tmp_path, {k: v.clone() for k, v in app.state_dict().items()})
    module = _import(tmp_path / "model.py", "exported_clash")
    model = module.Clash()
    model.load_state_dict(load_file(str(tmp_path / "weights.safetensors")), strict=True)
    x = torch.randn(2, 1, 4, 4)
    assert torch.equal(model.eval()(x), app(x))


def test_invalid_graph_raises_build_error(tmp_path):
    doc = document_from_dict({"name": "bad", "graph": {
        "nodes": [{"id": "a", "kind": "input", "name": "input",
                   "params": {"channels": 1, "height": 4, "width": 4}},
                  {"id": "b", "kind": "dense", "name": "dense1", "params": {"units": 3}}],
        "edges": [{"src": "a", "dst": "b"}]}})
    with pytest.raises(BuildError) as info:
        export_project(doc, "pytorch", tmp_path)
    assert any("dense1" in str(d) for d in info.value.diagnostics)


def test_weights_errors_name_the_file(tmp_path):
    _, doc = PROJECTS[0]
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(WeightsError, match="nope.safetensors: checkpoint not found"):
        export_project(doc, "pytorch", tmp_path / "out", weights=missing)
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00garbage")
    with pytest.raises(WeightsError, match="corrupt.safetensors"):
        load_weights(corrupt)
    empty_dir = tmp_path / "ckpt"
    empty_dir.mkdir()
    with pytest.raises(WeightsError, match="no weights found"):
        load_weights(empty_dir)


def test_weights_that_do_not_fit_are_refused(tmp_path):
    _, doc = PROJECTS[0]
    state = build_model(doc.graph).state_dict()
    wrong = {k: v for k, v in state.items() if not k.startswith("conv1.")}
    wrong["extra.weight"] = torch.zeros(1)
    wrong["dense2.weight"] = torch.zeros(3, 3)
    path = tmp_path / "wrong.safetensors"
    save_file(wrong, str(path))
    with pytest.raises(WeightsError) as info:
        export_project(doc, "pytorch", tmp_path / "out", weights=path)
    text = str(info.value)
    assert "missing conv1.weight" in text and "extra.weight" in text and "dense2.weight is 3×3" in text


def test_checkpoint_folder_from_the_trainer(tmp_path):
    from visionstudio.core.training.checkpoint import save_checkpoint

    _, doc = PROJECTS[0]
    state = build_model(doc.graph, seed=7).state_dict()
    folder = save_checkpoint(tmp_path / "last", model_state=state, tensors={}, meta={"epoch": 1})
    result = export_project(doc, "pytorch", tmp_path / "out", weights=folder)
    saved = load_file(str(tmp_path / "out" / "weights.safetensors"))
    assert all(torch.equal(saved[k], state[k]) for k in state)
    assert "trained" in result.message
    (folder / "model.safetensors").write_bytes(b"broken")
    with pytest.raises(WeightsError, match="model.safetensors"):
        export_project(doc, "pytorch", tmp_path / "out2", weights=folder)
