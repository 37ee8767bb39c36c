"""The image CSV and the box datasets (YOLO, COCO) decode into one uint8 block, never a
list of images stacked into a second copy; a corrupt image in the middle is left out and
every row keeps its own targets or boxes (each image's pixels say which file it is)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from visionstudio.core.data import image_memory
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.data.image_memory import new_block, split_rows
from visionstudio.core.data.registry import load_dataset
from visionstudio.core.memory import AvailableMemory

SHAPE = (3, 8, 8)
COUNT = 9
BROKEN = 4   # the image in the middle that does not decode


def _flat(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(path)


def _no_stacking(monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("the in-memory set was stacked into a second copy")
    for module, name in ((np, "stack"), (torch, "stack"), (torch, "cat")):
        monkeypatch.setattr(module, name, refuse)


def _one_block(train, val):
    assert train.data_ptr() + train.numel() == val.data_ptr()   # neighbours: views of one block


def _which(images):
    """The file index each row shows (image i is flat, of value 20*i)."""
    assert torch.all(images == images[:, :1, :1, :1])            # each row is one whole image
    return (images[:, 0, 0, 0].to(torch.int64) // 20).tolist()


# -- the shared helpers ----------------------------------------------------------------

def test_new_block_decides_before_allocating_and_split_rows_moves_in_place():
    assert new_block(10, SHAPE, cap=10 * 192 - 1) is None
    assert new_block(10, SHAPE, cap=10 * 192, available=10 * 192 * 4 - 1) is None
    block = new_block(10, SHAPE, cap=10 * 192, available=None)
    assert block.shape == (10, *SHAPE) and block.dtype == np.uint8
    block[:] = np.arange(10, dtype=np.uint8)[:, None, None, None]
    address = block.ctypes.data
    train, val = split_rows(block, 7, [5, 0, 3], [6, 1])          # rows 7..9: files left out
    assert train[:, 0, 0, 0].tolist() == [5, 0, 3] and val[:, 0, 0, 0].tolist() == [6, 1]
    assert train.ctypes.data == address and val.ctypes.data == address + 3 * 192
    assert block[5:7, 0, 0, 0].tolist() == [2, 4]                  # the rows named by neither follow
    assert block[7:, 0, 0, 0].tolist() == [7, 8, 9]                # past ``used``: untouched
    with pytest.raises(ValueError):
        split_rows(block, 11, [0], [])


# -- the image CSV ---------------------------------------------------------------------

def _csv_folder(root):
    lines = ["file,index,minus"]
    for i in range(COUNT):
        name = f"im{i}.png"
        if i == BROKEN:
            (root / name).write_bytes(b"not an image")
        else:
            _flat(root / name, 20 * i)
        lines.append(f"{name},{i},{-2 * i}")
    (root / "targets.csv").write_text("\n".join(lines) + "\n")
    return root


def _load_csv(root, **kwargs):
    return load_dataset(DatasetConfig("image_csv", {"folder": str(root), "csv": ""}),
                        target_shape=SHAPE, **kwargs)


def _targets_match(images, targets):
    index = _which(images)
    assert targets[:, 0].to(torch.int64).tolist() == index
    assert targets[:, 1].tolist() == [-2.0 * i for i in index]
    return index


def test_image_csv_rows_keep_their_targets_around_a_corrupt_image(tmp_path, monkeypatch):
    root = _csv_folder(tmp_path)
    _no_stacking(monkeypatch)
    data = _load_csv(root, val_split=0.4, seed=2)
    assert (data.num_train, data.num_val) == (5, 3)
    _one_block(data.train_images, data.val_images)
    seen = _targets_match(data.train_images, data.train_labels) + \
        _targets_match(data.val_images, data.val_labels)
    assert sorted(seen) == [i for i in range(COUNT) if i != BROKEN]
    assert [p.name for p, _ in data.skipped_files] == [f"im{BROKEN}.png"]
    assert f"line {BROKEN + 2}" in data.skipped_files[0][1]


def test_image_csv_over_a_quarter_of_free_memory_is_lazy_and_aligned(tmp_path, monkeypatch):
    root = _csv_folder(tmp_path)
    monkeypatch.setattr(image_memory, "host_available",
                        lambda: AvailableMemory(COUNT * 192 * 4 - 1, "this machine", "test"))
    data = _load_csv(root, val_split=0.4, seed=2)
    assert data.train_images is None and len(data.train_dataset) + len(data.val_dataset) == COUNT - 1
    for ds in (data.train_dataset, data.val_dataset):
        for k in range(len(ds)):
            image, target = ds[k]
            index = int(image[0, 0, 0]) // 20
            assert [int(target[0]), float(target[1])] == [index, -2.0 * index]


# -- boxes: YOLO (own split and validation folders) and COCO ---------------------------

def _box_line(i):
    return f"0 {(i + 1) / 20:.4f} 0.5 0.1 0.1\n"   # the box's centre x says which image


def _boxes_match(images, labels):
    index = _which(images)
    assert [round(float(row[0, 1]) * 20) - 1 for row in labels] == index
    return index


def _yolo_images(folder, labels, indices):
    for i in indices:
        if i == BROKEN:
            (folder / f"im{i}.png").parent.mkdir(parents=True, exist_ok=True)
            (folder / f"im{i}.png").write_bytes(b"\x89PNG truncated")
        else:
            _flat(folder / f"im{i}.png", 20 * i)
        labels.mkdir(parents=True, exist_ok=True)
        (labels / f"im{i}.txt").write_text(_box_line(i))


def test_yolo_split_rows_keep_their_boxes_around_a_corrupt_image(tmp_path, monkeypatch):
    _yolo_images(tmp_path, tmp_path, range(COUNT))
    (tmp_path / "classes.txt").write_text("thing\n")
    _no_stacking(monkeypatch)
    data = load_dataset(DatasetConfig("yolo", {"folder": str(tmp_path)}), target_shape=SHAPE,
                        val_split=0.4, seed=5)
    assert data.num_train + data.num_val == COUNT - 1 and data.num_val > 0
    _one_block(data.train_images, data.val_images)
    seen = _boxes_match(data.train_images, data.train_labels) + _boxes_match(data.val_images, data.val_labels)
    assert sorted(seen) == [i for i in range(COUNT) if i != BROKEN]
    assert [p.name for p, _ in data.skipped_files] == [f"im{BROKEN}.png"]


def test_yolo_own_validation_rows_follow_the_training_rows(tmp_path, monkeypatch):
    _yolo_images(tmp_path / "images" / "train", tmp_path / "labels" / "train", range(COUNT))
    _yolo_images(tmp_path / "images" / "val", tmp_path / "labels" / "val", [10, BROKEN, 11])
    (tmp_path / "classes.txt").write_text("thing\n")
    _no_stacking(monkeypatch)
    data = load_dataset(DatasetConfig("yolo", {"folder": str(tmp_path)}), target_shape=SHAPE, val_split=0)
    assert (data.num_train, data.num_val) == (COUNT - 1, 2)
    _one_block(data.train_images, data.val_images)
    good = [i for i in range(COUNT) if i != BROKEN]
    assert sorted(_boxes_match(data.train_images, data.train_labels)) == good
    assert sorted(_boxes_match(data.val_images, data.val_labels)) == [10, 11]
    assert len(data.skipped_files) == 2


def test_coco_rows_keep_their_boxes_around_a_corrupt_image(tmp_path, monkeypatch):
    images, annotations = [], []
    for i in range(COUNT):
        path = tmp_path / "images" / f"im{i}.png"
        if i == BROKEN:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
        else:
            _flat(path, 20 * i)
        images.append({"id": i + 1, "file_name": path.name, "width": 8, "height": 8})
        cx = (i + 1) / 20 * 8
        annotations.append({"id": 100 + i, "image_id": i + 1, "category_id": 7,
                            "bbox": [cx - 0.4, 3.6, 0.8, 0.8]})
    ann = tmp_path / "instances.json"
    ann.write_text(json.dumps({"images": images, "annotations": annotations,
                               "categories": [{"id": 7, "name": "thing"}]}))
    _no_stacking(monkeypatch)
    data = load_dataset(DatasetConfig("coco", {"images": str(tmp_path / "images"), "annotations": str(ann)}),
                        target_shape=SHAPE, val_split=0.3, seed=1)
    _one_block(data.train_images, data.val_images)
    seen = _boxes_match(data.train_images, data.train_labels) + _boxes_match(data.val_images, data.val_labels)
    assert sorted(seen) == [i for i in range(COUNT) if i != BROKEN]
