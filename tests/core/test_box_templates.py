"""The detection and localization templates: clean, on their task and dataset, heads of
the right shapes, built as analysed, and their files as the generator writes them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from visionstudio.core.build import build_model
from visionstudio.core.graph import analyze
from visionstudio.core.tasks.heads import head_problems, plan_heads
from visionstudio.core.templates import load_template, template

GENERATOR = Path(__file__).resolve().parents[2] / "resources" / "templates" / "make_box_templates.py"
# key: task, dataset, head names (the model's output order) and their output shapes
EXPECTED = {
    "detection_grid": ("detection", "shapes_detect", {"detect": (8, 8, 8)}),
    "localization": ("localization", "shapes_localize", {"box": (4,), "cls": (3,)}),
}


@pytest.mark.parametrize("key", EXPECTED)
def test_template_is_clean_and_its_heads_fit_the_task(key):
    task, dataset, heads = EXPECTED[key]
    doc = load_template(key)
    analysis = analyze(doc.graph)
    assert analysis.diagnostics == [] and analysis.input_shape == (3, 64, 64)
    assert doc.task == task and doc.dataset.key == dataset
    assert doc.name and doc.description and template(key).title and template(key).description
    assert set(doc.graph.positions) == set(doc.graph.nodes)
    assert len(set(doc.graph.positions.values())) == len(doc.graph.nodes)
    planned = plan_heads(task, doc.graph, analysis, doc.training.loss)
    assert {h.name: h.output_shape for h in planned} == heads
    assert head_problems(task, planned, None) == []
    model = build_model(doc.graph, analysis).eval()
    assert sum(p.numel() for p in model.parameters()) == analysis.total_params
    with torch.no_grad():
        out = model(torch.zeros(2, 3, 64, 64))
    outs = out if isinstance(out, tuple) else (out,)
    assert [tuple(o.shape[1:]) for o in outs] == list(heads.values())


def test_localization_heads_carry_their_losses_and_weights():
    doc = load_template("localization")
    planned = plan_heads("localization", doc.graph, analyze(doc.graph), doc.training.loss)
    found = {h.name: (h.target, h.loss["key"], h.weight) for h in planned}
    assert found == {"cls": ("class", "cross_entropy", 1.0), "box": ("box", "smooth_l1", 5.0)}


def test_files_are_what_the_generator_writes(capsys):
    spec = importlib.util.spec_from_file_location("make_box_templates", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0, "run: .venv/bin/python resources/templates/make_box_templates.py"
