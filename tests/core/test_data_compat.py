"""Registry, settings validation, data folder location and the compatibility messages
that tell a user why their network does not fit their dataset."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from visionstudio.core.data.base import DatasetError, DatasetInfo, LoadedDataset, default_data_dir
from visionstudio.core.data.compat import check_compatibility
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.data.registry import DATASETS, load_dataset
from visionstudio.core.layers import fmt_shape
from visionstudio.core.params import ConfigError


def tiny_loaded(shape=(3, 32, 32), classes=10) -> LoadedDataset:
    images = torch.zeros((2, *shape), dtype=torch.uint8)
    return LoadedDataset(images, torch.zeros(2, dtype=torch.int64), None, None,
                         [str(i) for i in range(classes)], (0.5,) * shape[0], (0.2,) * shape[0], [])


def test_registry_keys_and_specs():
    assert DATASETS.keys()[:7] == ["shapes", "mnist", "fashion_mnist", "cifar10", "image_folder",
                                   "shapes_regress", "image_csv"]
    for key, spec in DATASETS.items():
        assert spec.key == key and spec.title and spec.description and callable(spec.loader)
        assert spec.needs_download == (key in ("mnist", "fashion_mnist", "cifar10"))


def test_config_validates_against_the_registry():
    cfg = DatasetConfig.from_dict({"key": "shapes", "params": {"classes": 4}})
    assert cfg.params["classes"] == 4 and cfg.params["image_size"] == 28
    with pytest.raises(ConfigError, match="dataset.params.classes"):
        DatasetConfig.from_dict({"key": "shapes", "params": {"classes": 11}})
    with pytest.raises(ConfigError, match="unknown dataset"):
        DatasetConfig.from_dict({"key": "imagenet"})


def test_load_dataset_turns_bad_settings_into_dataset_errors():
    with pytest.raises(DatasetError, match="Unknown dataset"):
        load_dataset(DatasetConfig("imagenet"))
    with pytest.raises(DatasetError, match="classes"):
        load_dataset(DatasetConfig("shapes", {"classes": 1}))


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("VISIONSTUDIO_DATA_DIR", str(tmp_path / "mine"))
    assert default_data_dir() == tmp_path / "mine"
    monkeypatch.delenv("VISIONSTUDIO_DATA_DIR")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "VisionStudio" / "data"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("APPDATA", str(tmp_path / "roaming"))
    assert default_data_dir() == tmp_path / "roaming" / "VisionStudio" / "data"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert default_data_dir() == Path.home() / "Library" / "Application Support" / "VisionStudio" / "data"


def test_fitting_network_has_no_problems():
    assert check_compatibility(tiny_loaded(), (3, 32, 32), (10,)) == []
    assert check_compatibility(tiny_loaded(), None, None) == []


def test_image_shape_mismatch_names_both_shapes_and_the_fix():
    [msg] = check_compatibility(tiny_loaded((3, 32, 32)), (1, 28, 28), (10,))
    assert msg.startswith("The dataset gives 3×32×32 images but the network's Input is 1×28×28")
    assert "set Input to 3×32×32" in msg
    [msg] = check_compatibility(tiny_loaded((1, 28, 28)), (1, 32, 32), (10,), input_name="input")
    assert "Input (input) is 1×32×32" in msg and "set Input to 1×28×28" in msg


def test_class_count_mismatch_names_the_layer():
    [msg] = check_compatibility(tiny_loaded(), (3, 32, 32), (5,), output_name="dense2")
    assert msg == ("The dataset has 10 classes, the last layer dense2 has 5 units; "
                   "set its units to 10.")


def test_unflattened_output_is_explained():
    [msg] = check_compatibility(tiny_loaded(), (3, 32, 32), (10, 4, 4), output_name="conv3")
    assert "conv3 gives 10×4×4" in msg and "Flatten" in msg


def test_configs_are_checked_without_loading():
    msgs = check_compatibility(DatasetConfig("mnist"), (3, 32, 32), (10,))
    assert len(msgs) == 1 and msgs[0].startswith("MNIST gives 1×28×28 images")
    msgs = check_compatibility(DatasetConfig("shapes", {"classes": 4, "channels": 3}), (3, 28, 28), (10,))
    assert msgs == ["Shapes has 4 classes, the last layer has 10 units; set its units to 4."]


def test_image_folder_follows_the_input_but_needs_1_or_3_channels(tmp_path):
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
    cfg = DatasetConfig("image_folder", {"folder": str(tmp_path)})
    assert check_compatibility(cfg, (3, 100, 60), (3,)) == []
    msgs = check_compatibility(cfg, (2, 64, 64), (4,))
    assert any("set its channels to 3 (RGB) or 1 (grayscale)" in m for m in msgs)
    assert any("has 3 classes" in m for m in msgs)
    info = DatasetInfo("Custom", None, None)
    assert check_compatibility(info, (1, 8, 8), (7,)) == []


def test_fmt_shape():
    assert fmt_shape((3, 32, 32)) == "3×32×32" and fmt_shape(None) == "?"
