"""Every layer kind is declared in one module with all its parts (parameter schema,
shape rule, torch builder, code emitter), and the code it emits builds the module the
app builds: same parameter count, same output shape, same output for the same weights."""

from __future__ import annotations

import inspect

import pytest
import torch

from visionstudio.core.build import build_model
from visionstudio.core.export.codegen import generate_model_source
from visionstudio.core.graph import analyze
from visionstudio.core.layers import LAYERS
from visionstudio.core.params import ParamSpec, defaults
from visionstudio.core.project import document_from_dict

from .export_graphs import _NODES
from .support import import_file, torch_threads

IMAGE = {"channels": 4, "height": 9, "width": 9}


def _settings(kind: str) -> list[dict]:
    """The defaults, plus every setting tests/core/export_graphs.py uses for the kind."""
    return [{}] + [p for _, k, p in _NODES if k == kind and p]


def _graph(kind: str, params: dict, prelude: tuple[str, ...], merge_inputs: int):
    """input -> prelude layers -> the layer under test (a merge gets one branch per port)."""
    nodes = [{"id": "inp", "kind": "input", "name": "inp", "params": IMAGE}]
    edges, last = [], "inp"
    for i, k in enumerate(prelude):
        nodes.append({"id": f"pre{i}", "kind": k, "name": f"pre{i}", "params": {}})
        edges.append({"src": last, "dst": f"pre{i}"})
        last = f"pre{i}"
    if LAYERS.get(kind).is_source:  # a network needs one layer after its input
        return document_from_dict({"name": "one", "graph": {"nodes": [
            {"id": "inp", "kind": kind, "name": "inp", "params": {**IMAGE, **params}},
            {"id": "n", "kind": "dropout", "name": "layer", "params": {"p": 0.0}}],
            "edges": [{"src": "inp", "dst": "n"}]}})
    for port in range(merge_inputs):  # branches a merge can tell apart
        nodes.append({"id": f"b{port}", "kind": "dropout", "name": f"b{port}", "params": {"p": 0.0}})
        edges.append({"src": last, "dst": f"b{port}"})
    nodes.append({"id": "n", "kind": kind, "name": "layer", "params": params})
    sources = [f"b{port}" for port in range(merge_inputs)] or [last]
    edges += [{"src": s, "dst": "n", "port": port} for port, s in enumerate(sources)]
    return document_from_dict({"name": "one", "graph": {"nodes": nodes, "edges": edges}})


def _valid_graph(kind: str, params: dict):
    spec = LAYERS.get(kind)
    merge_inputs = 2 if spec.is_merge else 0
    for prelude in ((), ("flatten",), ("conv2d",)):  # conv2d: a grid of 32 channels (Detect)
        doc = _graph(kind, params, prelude, merge_inputs)
        analysis = analyze(doc.graph)
        if analysis.ok:
            return doc, analysis
    raise AssertionError(f"{kind}: no small graph takes it ({analysis.errors})")


@pytest.mark.parametrize("kind", LAYERS.keys())
def test_every_kind_has_all_parts_in_one_module(kind):
    spec = LAYERS.get(kind)
    assert isinstance(spec.params, tuple) and all(isinstance(p, ParamSpec) for p in spec.params)
    for part in (spec.infer, spec.build, spec.emit):
        assert callable(part), (kind, part)
    modules = {inspect.getmodule(part).__name__ for part in (spec.infer, spec.build, spec.emit)}
    assert len(modules) == 1 and next(iter(modules)).startswith("visionstudio.core.layers."), modules
    assert set(defaults(spec.params)) == {p.name for p in spec.params}


def _generated_module(doc, analysis, folder):
    generated = generate_model_source(doc.graph, project_name="Parts", analysis=analysis)
    path = folder / "model.py"
    path.write_text(generated.source, encoding="utf-8")
    return getattr(import_file(path, "parts_model"), generated.class_name)(), generated


# The block kinds stand for a definition (ports, instances): their emitted classes are
# checked against the app's model in tests/core/test_export_blocks.py.
LAYER_KINDS = [k for k in LAYERS.keys() if LAYERS.category(k) != "Blocks"]


@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_emitted_code_builds_what_the_app_builds(kind, tmp_path):
    with torch_threads(1):
        for i, params in enumerate(_settings(kind)):
            doc, analysis = _valid_graph(kind, params)
            torch.manual_seed(0)
            app = build_model(doc.graph, analysis).eval()
            (tmp_path / str(i)).mkdir()
            ours, generated = _generated_module(doc, analysis, tmp_path / str(i))
            ours.eval()
            count = sum(p.numel() for p in app.parameters())
            assert sum(p.numel() for p in ours.parameters()) == count, (kind, params)
            ours.load_state_dict(app.state_dict(), strict=True)
            x = torch.rand(3, *analysis.nodes[analysis.input_id].output_shape)
            with torch.no_grad():
                expected, got = app(x), ours(x)
            out_shape = analysis.nodes[analysis.output_id].output_shape
            assert tuple(got.shape) == tuple(expected.shape) == (3, *out_shape), (kind, params)
            assert generated.output_shape == tuple(out_shape)
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
