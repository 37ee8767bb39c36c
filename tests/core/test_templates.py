"""Template projects: each loads, analyzes cleanly, builds, and is described."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from visionstudio.core.graph import analyze
from visionstudio.core.layers import LAYERS
from visionstudio.core.project import ProjectFormatError
from visionstudio.core.summary import human_count, render_text, summarize
from visionstudio.core.templates import (
    DEFAULT_TEMPLATE,
    ENV_VAR,
    TEMPLATES,
    load_template,
    template,
    templates_dir,
)

KEYS = [t.key for t in TEMPLATES]
# The templates of the other tasks (heads, their own datasets) have their own tests
# (tests/core/test_box_templates.py for detection and localization).
CLASSIFICATION_KEYS = [k for k in KEYS if load_template(k).task == "classification"]
REPO_TEMPLATES = Path(__file__).resolve().parents[2] / "resources" / "templates"
# The templates built from blocks take colour images; the classic ones 1×28×28.
BLOCK_TEMPLATE_INPUTS = {"resnet18_cifar": (3, 32, 32), "resnet18": (3, 224, 224),
                         "mobilenet_se": (3, 32, 32)}


def _input_shape(key: str) -> tuple[int, int, int]:
    return BLOCK_TEMPLATE_INPUTS.get(key, (1, 28, 28))


def test_every_template_file_is_listed():
    on_disk = sorted(p.stem for p in REPO_TEMPLATES.glob("*.vsproj"))
    assert on_disk == sorted(KEYS)
    assert DEFAULT_TEMPLATE in KEYS
    assert templates_dir() == REPO_TEMPLATES


@pytest.mark.parametrize("key", CLASSIFICATION_KEYS)
def test_template_is_clean(key):
    doc = load_template(key)
    analysis = analyze(doc.graph)
    assert analysis.diagnostics == []
    assert analysis.input_shape == _input_shape(key) and analysis.output_shape == (10,)
    assert doc.name and doc.description and template(key).title and template(key).description
    assert doc.dataset.key == "shapes"
    # every node placed, names are the readable kind (conv1, pool1, dense1 ...)
    assert set(doc.graph.positions) == set(doc.graph.nodes)
    assert len(set(doc.graph.positions.values())) == len(doc.graph.nodes)
    for node in doc.graph.nodes.values():
        assert node.name.islower() and node.kind in LAYERS


def test_layout_flows_top_to_bottom():
    for key in KEYS:
        graph = load_template(key).graph
        for e in graph.edges:
            assert graph.positions[e.src][1] < graph.positions[e.dst][1], (key, e)


def test_classic_cnn_has_121930_parameters():
    doc = load_template("classic_cnn")
    kinds = [n.kind for n in doc.graph.nodes.values()]
    assert kinds == ["input", "conv2d", "maxpool2d", "conv2d", "maxpool2d", "flatten", "dense", "dense"]
    assert analyze(doc.graph).total_params == 121_930


def test_residual_and_inception_structure():
    resnet = load_template("small_resnet").graph
    kinds = [n.kind for n in resnet.nodes.values()]
    assert kinds.count("add") == 2 and "batchnorm2d" in kinds
    proj = resnet.node_by_name("res2_proj")
    assert proj.params["kernel_size"] == 1 and proj.params["stride"] == 2
    inception = load_template("inception_block").graph
    concat = inception.node_by_name("concat")
    assert len(inception.inputs_of(concat.id)) == 4
    assert analyze(inception).nodes[concat.id].output_shape == (56, 14, 14)


@pytest.mark.parametrize("key", CLASSIFICATION_KEYS)
def test_template_builds_and_matches_counts(key):
    import torch

    from visionstudio.core.build import build_model

    doc = load_template(key)
    model = build_model(doc.graph)
    assert sum(p.numel() for p in model.parameters()) == analyze(doc.graph).total_params
    with torch.no_grad():
        assert tuple(model.eval()(torch.zeros(2, *_input_shape(key))).shape) == (2, 10)


def test_unknown_template_key():
    with pytest.raises(KeyError, match="unknown template"):
        load_template("alexnet")


def test_env_var_overrides_and_missing_folder_is_a_format_error(tmp_path, monkeypatch):
    (tmp_path / "classic_cnn.vsproj").write_text(
        (REPO_TEMPLATES / "classic_cnn.vsproj").read_text(encoding="utf-8").replace(
            '"Classic CNN"', '"Mine"'), encoding="utf-8")
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert templates_dir() == tmp_path
    assert load_template("classic_cnn").name == "Mine"
    with pytest.raises(ProjectFormatError, match="missing"):
        load_template("lenet5")


def test_summary_rows_and_text():
    doc = load_template("classic_cnn")
    summary = summarize(doc.graph, doc.name)
    assert [r.name for r in summary.rows][:3] == ["input", "conv1", "pool1"]
    assert summary.rows[1].output_shape == (32, 26, 26) and summary.rows[1].params == 320
    assert summary.totals.params == 121_930 and summary.totals.weight_bytes == 487_720
    data = json.loads(json.dumps(summary.to_dict()))
    assert data["totals"]["params_human"] == "0.12 M" and data["ok"] is True
    text = render_text(summary)
    assert "121,930" in text and "0.12 M" in text and "0.49 MB" in text


def test_summary_of_a_broken_graph():
    doc = load_template("classic_cnn")
    conv2 = doc.graph.node_by_name("conv2")
    conv2.params["kernel_size"] = 20
    summary = summarize(doc.graph, doc.name)
    assert not summary.ok
    assert any(d["node"] == "conv2" for d in summary.diagnostics)
    assert "Problems" in render_text(summary) and "conv2:" in render_text(summary)


@pytest.mark.parametrize("n, text", [(0, "0"), (999, "999"), (1_500, "1.50 K"), (121_930, "0.12 M"),
                                     (5_056_000, "5.06 M"), (2_300_000_000, "2.30 G")])
def test_human_count(n, text):
    assert human_count(n) == text


def test_resnet18_has_torchvisions_parameter_count():
    from torchvision.models import resnet18

    reference = sum(p.numel() for p in resnet18(num_classes=10).parameters())
    assert reference == 11_181_642
    assert analyze(load_template("resnet18").graph).total_params == reference
    assert analyze(load_template("resnet18_cifar").graph).total_params == 11_173_962


def test_block_templates_are_made_of_block_instances():
    resnet = load_template("resnet18_cifar").graph
    blocks = [n.params["block"] for n in resnet.nodes.values() if n.kind == "block"]
    assert blocks == ["basic_block", "basic_block"] + ["basic_block_projection", "basic_block"] * 3
    assert sorted(resnet.blocks.keys()) == ["basic_block", "basic_block_projection"]
    mobilenet = load_template("mobilenet_se").graph
    kinds = [n.params["block"] for n in mobilenet.nodes.values() if n.kind == "block"]
    assert kinds.count("depthwise_separable") == 13 and kinds.count("squeeze_excitation") == 4
    assert analyze(mobilenet).total_params == 3_393_346
    for key in BLOCK_TEMPLATE_INPUTS:
        dataset = load_template(key).dataset.params
        assert (dataset["channels"], dataset["image_size"]) == BLOCK_TEMPLATE_INPUTS[key][:2]


def test_block_template_files_are_up_to_date():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_block_templates",
                                                  REPO_TEMPLATES / "make_block_templates.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0


def test_classic_template_files_are_up_to_date():
    """The five classic templates are written by packaging/make_templates.py; they had gone
    stale at schema 1 (still readable, through the migrations) with nothing to notice it."""
    import importlib.util

    path = REPO_TEMPLATES.parent.parent / "packaging" / "make_templates.py"
    spec = importlib.util.spec_from_file_location("make_templates", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0, f"run: .venv/bin/python {path}"
