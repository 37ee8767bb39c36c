"""Image folders: the pre-scan reports bad files, awkward formats convert, splits are
stratified and seeded, big sets go lazy, and a file breaking mid-epoch never crashes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from visionstudio.core.data import image_folder
from visionstudio.core.data.base import DatasetCancelled, DatasetError
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.data.registry import load_dataset

from .hazards import make_hazard_folder


def load(folder, val_folder="", **kwargs):
    return load_dataset(DatasetConfig("image_folder", {"folder": str(folder), "val_folder": str(val_folder)}),
                        **kwargs)


def test_hazard_folder_reports_bad_files_and_converts_the_rest(tmp_path):
    hazards = make_hazard_folder(tmp_path / "pets")
    progress = []
    data = load(hazards.root, target_shape=(3, 16, 16), val_split=0.2,
                progress=lambda m, f: progress.append(f))
    assert data.class_names == hazards.classes
    assert data.num_train + data.num_val == hazards.num_good
    assert data.train_images.shape[1:] == (3, 16, 16) and data.train_images.dtype == torch.uint8
    assert data.val_images.shape[1:] == (3, 16, 16)
    assert set(data.val_labels.tolist()) == {0, 1}           # stratified: each class in val
    skipped = {p.relative_to(hazards.root).as_posix(): why for p, why in data.skipped_files}
    assert set(skipped) == set(hazards.bad)
    for rel, word in hazards.bad.items():
        assert word in skipped[rel]
    report = "\n".join(data.report)
    for rel in hazards.bad:
        assert rel in report
    assert "empty" in report and "README.txt" not in report and "directly in" in report
    assert progress and progress[-1] == 1.0 and all(0 <= f <= 1 for f in progress)


@pytest.mark.parametrize("name, channels, expected", [
    ("circles/cmyk.jpg", 3, (255, 0, 0)),          # CMYK converted to RGB
    ("circles/transparent.png", 3, (255, 255, 255)),  # RGBA composited on white
    ("circles/palette.gif", 3, (255, 255, 255)),   # palette transparency on white
    ("circles/gray16.png", 1, (117,)),             # 16-bit 30000/65535 scaled, not clipped
    ("circles/tiny.png", 3, (10, 200, 30)),        # 1x1 resized up
    ("squares/gray_alpha.png", 1, (100,)),
    ("squares/bilevel.png", 3, (255, 255, 255)),
])
def test_awkward_formats_convert_sensibly(tmp_path, name, channels, expected):
    hazards = make_hazard_folder(tmp_path)
    arr = image_folder.decode(hazards.root / name, (channels, 7, 9))
    assert arr.shape == (channels, 7, 9) and arr.dtype == np.uint8
    centre = tuple(int(v) for v in arr[:, 3, 4])
    assert all(abs(a - b) <= 3 for a, b in zip(centre, expected)), centre


def test_grayscale_target_and_seeded_split(tmp_path):
    hazards = make_hazard_folder(tmp_path)
    a = load(hazards.root, target_shape=(1, 8, 8), val_split=0.3, seed=5)
    b = load(hazards.root, target_shape=(1, 8, 8), val_split=0.3, seed=5)
    assert a.sample_shape == (1, 8, 8) and len(a.mean) == 1
    assert torch.equal(a.train_images, b.train_images) and torch.equal(a.val_labels, b.val_labels)
    none = load(hazards.root, target_shape=(1, 8, 8), val_split=0.0)
    assert none.val_images is None and none.num_train == hazards.num_good


def test_val_folder_and_unknown_classes(tmp_path):
    train = make_hazard_folder(tmp_path / "train")
    val = tmp_path / "val"
    for cls in ("squares", "circles", "zebras"):
        (val / cls).mkdir(parents=True)
        Image.new("RGB", (5, 5), (1, 2, 3)).save(val / cls / "a.png")
    data = load(train.root, val, target_shape=(3, 10, 10), val_split=0.5)
    assert data.num_train == train.num_good                 # no ratio split with a val folder
    assert sorted(data.val_labels.tolist()) == [0, 1]
    assert "zebras" in "\n".join(data.report)


@pytest.mark.parametrize("setup, words", [
    (lambda p: None, "Choose the image folder"),
    (lambda p: p.mkdir(), "no class sub-folders"),
    (lambda p: (p / "only").mkdir(parents=True) or Image.new("L", (3, 3)).save(p / "only" / "x.png"),
     "at least two"),
])
def test_unusable_folders_explain_themselves(tmp_path, setup, words):
    folder = tmp_path / "data"
    setup(folder)
    param = "" if words == "Choose the image folder" else folder
    with pytest.raises(DatasetError, match=words):
        load(param, target_shape=(3, 8, 8))


def test_missing_folder_and_bad_channels(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load(tmp_path / "nope", target_shape=(3, 8, 8))
    hazards = make_hazard_folder(tmp_path / "h")
    with pytest.raises(DatasetError, match="channels to 1 or 3"):
        load(hazards.root, target_shape=(4, 8, 8))


def test_cancel_stops_the_scan(tmp_path):
    hazards = make_hazard_folder(tmp_path)
    with pytest.raises(DatasetCancelled):
        load(hazards.root, target_shape=(3, 8, 8), cancel=lambda: True)


def test_large_sets_go_lazy_and_survive_files_breaking_mid_epoch(tmp_path, monkeypatch):
    hazards = make_hazard_folder(tmp_path)
    monkeypatch.setattr(image_folder, "MAX_IN_MEMORY_BYTES", 100)
    data = load(hazards.root, target_shape=(3, 12, 12), val_split=0.2)
    assert not data.in_memory and data.train_images is None
    assert data.sample_shape == (3, 12, 12)
    assert len(data.train_dataset) + len(data.val_dataset) == hazards.num_good
    assert any("GiB" in line for line in data.report)
    # A file that was fine at scan time goes bad: the epoch goes on.
    path, label = data.train_dataset.items[0]
    Path(path).write_bytes(b"garbage")
    loader = torch.utils.data.DataLoader(data.train_dataset, batch_size=4)
    seen = 0
    for images, labels in loader:
        assert images.dtype == torch.uint8 and images.shape[1:] == (3, 12, 12)
        seen += len(labels)
    assert seen == len(data.train_dataset)
    assert data.train_dataset.failures and data.train_dataset.failures[0][0] == path
