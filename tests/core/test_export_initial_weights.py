"""An export "with initial weights" of an imported project carries what a fresh run starts
from: the import's weights (the exported model.py predicts as Keras did), with a layer
changed since the import seeded exactly as training seeds it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from visionstudio.core.build import build_model
from visionstudio.core.export import WeightsError, export_project
from visionstudio.core.export.codegen import class_name_for
from visionstudio.core.graph.transfer_commands import adapt_head
from visionstudio.core.importers import import_model, save_import
from visionstudio.core.project import load_project

KERAS = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
EXPECTED = np.load(KERAS / "expected.npz")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("imported")
    path, _ = save_import(import_model(str(KERAS / "mnist_cnn.keras")), folder / "m.vsproj")
    return path


def _exported(doc, out: Path, name: str):
    result = export_project(doc, "pytorch", out)
    spec = importlib.util.spec_from_file_location(name, out / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = getattr(module, class_name_for(doc.name))()
    model.load_state_dict(load_file(str(out / "weights.safetensors")), strict=True)
    return result, model.eval()


def test_export_carries_the_imported_weights(project, tmp_path):
    doc = load_project(project)
    result, model = _exported(doc, tmp_path / "out", "exported_import")
    assert "with the initial weights m.weights.safetensors" in result.message
    x = torch.from_numpy(EXPECTED["mnist_cnn_x"]).permute(0, 3, 1, 2)   # NHWC -> NCHW
    with torch.no_grad():
        got = model(x).numpy()
    np.testing.assert_allclose(got, EXPECTED["mnist_cnn_y"], atol=1e-5, rtol=0)


def test_a_changed_layer_is_seeded_as_a_run_seeds_it(project, tmp_path):
    doc = load_project(project)
    source = load_file(project.with_name("m.weights.safetensors"))
    adapt_head(doc.graph, 5).do(doc)
    export_project(doc, "pytorch", tmp_path)
    saved = load_file(str(tmp_path / "weights.safetensors"))
    seeded = build_model(doc.graph, seed=doc.training.seed).state_dict()
    for key in ("conv2d.weight", "conv2d_1.bias", "dense.weight"):
        assert torch.equal(saved[key], source[key])
    assert saved["dense_1.weight"].shape == (5, 64)
    assert torch.equal(saved["dense_1.weight"], seeded["dense_1.weight"])


def test_missing_initial_weights_refuse_the_export_naming_the_file(project, tmp_path):
    (tmp_path / "m.vsproj").write_bytes(project.read_bytes())   # without its weights beside it
    doc = load_project(tmp_path / "m.vsproj")
    with pytest.raises(WeightsError, match="m.weights.safetensors.*missing"):
        export_project(doc, "pytorch", tmp_path / "out")
    assert not (tmp_path / "out").exists()
