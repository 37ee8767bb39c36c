"""Built-in datasets brought to a pretrained network's Input (issue #16): resized as the
weights expect, channels matched, the weights' mean/std used, lazy when too big."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms import v2

from tests.core.training_helpers import one_thread
from visionstudio.core.data import fit_input
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.data.preprocessing import Preprocessing
from visionstudio.core.data.registry import describe_dataset, load_dataset
from visionstudio.core.graph.commands import SetParam
from visionstudio.core.templates import load_template
from visionstudio.core.training.plan import RunPlan, execute, plan_run

_threads = pytest.fixture(autouse=True)(one_thread)
PRE = Preprocessing("Test_Weights.V1", 36, 32, (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))


def shapes(preprocessing=PRE, **params) -> DatasetConfig:
    return DatasetConfig("shapes", {"samples": 40, "val_samples": 10, "image_size": 16, "channels": 1,
                                    **params}, preprocessing=preprocessing)


def test_grayscale_shapes_become_the_weights_rgb_crop_with_their_statistics():
    plain = load_dataset(shapes(None), seed=0)
    loaded = load_dataset(shapes(), seed=0, target_shape=(3, 32, 32))
    assert tuple(loaded.train_images.shape) == (40, 3, 32, 32) and loaded.val_images.shape[1:] == (3, 32, 32)
    assert loaded.mean == PRE.mean and loaded.std == PRE.std
    # exactly torchvision's eval transform: Resize(shorter side 36), CenterCrop(32), gray -> RGB
    expected = v2.CenterCrop(32)(v2.Resize(36, antialias=True)(plain.train_images[3]))
    assert torch.equal(loaded.train_images[3], expected.expand(3, 32, 32))
    assert any("resized to 36 on their shorter side" in line and "repeated into 3 channels" in line
               for line in loaded.report)


def test_an_input_other_than_the_crop_is_resized_straight_to_it():
    loaded = load_dataset(shapes(), seed=0, target_shape=(1, 24, 20))
    assert tuple(loaded.train_images.shape[1:]) == (1, 24, 20)
    assert any("resized to the network's Input 24×20" in line for line in loaded.report)
    # a 1-channel Input keeps the data's own single-channel statistics
    assert len(loaded.mean) == 1


def test_a_set_too_big_at_the_new_size_is_resized_lazily(monkeypatch):
    monkeypatch.setattr(fit_input, "MAX_RESIZED_BYTES", 1000)
    loaded = load_dataset(shapes(), seed=0, target_shape=(3, 32, 32))
    assert loaded.train_images is None and loaded.num_train == 40 and loaded.num_val == 10
    image, label = loaded.train_dataset[5]
    assert image.dtype == torch.uint8 and tuple(image.shape) == (3, 32, 32) and isinstance(label, int)
    assert loaded.sample_shape == (3, 32, 32)
    assert any("each is resized as training reads it" in line for line in loaded.report)


def test_without_preprocessing_nothing_is_resized_and_describe_tells_the_fixed_size():
    loaded = load_dataset(shapes(None), seed=0, target_shape=(3, 32, 32))
    assert tuple(loaded.train_images.shape[1:]) == (1, 16, 16)
    assert describe_dataset(shapes(None)).sample_shape == (1, 16, 16)
    # with the weights' preprocessing the images follow the network's Input
    info = describe_dataset(shapes())
    assert info.sample_shape is None and info.channels == (1, 3)
def test_a_pretrained_project_trains_on_built_in_shapes_at_its_input_size(tmp_path):
    doc = load_template("classic_cnn")
    input_id = next(nid for nid, node in doc.graph.nodes.items() if node.kind == "input")
    for name, value in (("channels", 3), ("height", 32), ("width", 32)):
        SetParam(input_id, name, value).do(doc)
    doc.set_dataset(shapes(classes=10))
    plan = plan_run(doc, {"device": "cpu", "epochs": 1, "batch_size": 20}, runs_root=tmp_path)
    assert isinstance(plan, RunPlan), plan
    result = execute(plan)
    assert result.ok and result.fit.status == "completed", result


def test_box_datasets_are_never_cropped():
    """A crop would cut and shift the boxes: detection data keeps its size, and says so."""
    config = DatasetConfig("shapes_detect", {"samples": 20, "val_samples": 5}, preprocessing=PRE)
    loaded = load_dataset(config, seed=0, target_shape=(3, 32, 32))
    assert tuple(loaded.train_images.shape[1:]) != (3, 32, 32)
    assert any("keeps its own size" in line for line in loaded.report)
