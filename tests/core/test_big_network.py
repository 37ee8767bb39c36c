"""The ResNet-50-sized graph of benchmarks/big_networks.py is the real architecture: it
analyzes without errors, its shapes follow torchvision's stages, and its parameter count
equals torchvision's resnet50 (timings live in the benchmark, not here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from visionstudio.core.graph import analyze

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "big_networks.py"


@pytest.fixture(scope="module")
def big_networks():
    spec = importlib.util.spec_from_file_location("big_networks", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_resnet50_graph_analyzes_cleanly_with_torchvision_shapes(big_networks):
    graph = big_networks.resnet50_graph()
    a = analyze(graph)
    assert a.errors == []
    assert len(graph.nodes) == 175 and len(graph.edges) == 190
    shape = {graph.nodes[i].name: info.output_shape for i, info in a.nodes.items()}
    assert shape["stem_pool"] == (64, 56, 56)
    assert shape["layer1_2_out"] == (256, 56, 56)
    assert shape["layer2_3_out"] == (512, 28, 28)
    assert shape["layer3_5_out"] == (1024, 14, 14)
    assert shape["layer4_2_out"] == (2048, 7, 7)
    assert a.output_shape == (1000,)
    assert sum(1 for n in graph.nodes.values() if n.kind == "conv2d") == 53
    assert sum(1 for n in graph.nodes.values() if n.kind == "add") == 16


def test_resnet50_parameter_count_matches_torchvision(big_networks):
    torchvision = pytest.importorskip("torchvision")
    import torch

    from visionstudio.core.build import build_model

    graph = big_networks.resnet50_graph()
    with torch.device("meta"):          # shapes only: no 2 x 25 M weights initialised
        reference = sum(p.numel() for p in torchvision.models.resnet50(weights=None).parameters())
        model = build_model(graph, seed=0)
    assert reference == big_networks.RESNET50_PARAMS == 25_557_032
    assert analyze(graph).total_params == reference
    assert sum(p.numel() for p in model.parameters()) == reference


def test_resnet50_document_saves_and_reopens(big_networks, tmp_path):
    from visionstudio.core.project.io import load_project, save_project

    doc = big_networks.resnet50_document()
    save_project(doc, tmp_path / "resnet50.vsproj")
    back = load_project(tmp_path / "resnet50.vsproj")
    assert analyze(back.graph).total_params == 25_557_032
    assert back.graph.positions == doc.graph.positions
