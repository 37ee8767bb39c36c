"""The user's box labels, YOLO text and COCO JSON, written here in the real formats.

Good files load into the detection layout; every label problem (box outside the image,
zero area, unknown class, missing image, malformed line, not a number) is named with its
file and line (COCO: annotation id and index) and left out; hostile files (huge, deeply
nested, wrong types, paths leaving the folder) give one DatasetError; fuzzed label files
give a clean load or a DatasetError, nothing else.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from visionstudio.core.data import coco
from visionstudio.core.data.base import DatasetError
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.data.registry import load_dataset, preview_dataset

SHAPE = (3, 16, 16)


def image(path: Path, width: int = 20, height: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width, 3), 90, np.uint8)).save(path)
    return path


def yolo(folder: Path, **kwargs):
    return load_dataset(DatasetConfig("yolo", {"folder": str(folder)}), target_shape=SHAPE, val_split=0,
                        **kwargs)


def coco_load(folder: Path, annotations: Path, **extra):
    return load_dataset(DatasetConfig("coco", {"images": str(folder), "annotations": str(annotations),
                                               **extra}), target_shape=SHAPE, val_split=0)


def real_rows(labels: torch.Tensor) -> list[list[float]]:
    return [[round(float(v), 4) for v in row] for row in labels if row[0] >= 0]


def test_yolo_ultralytics_layout_with_data_yaml_names_and_own_validation(tmp_path):
    for split in ("train", "val"):
        image(tmp_path / "images" / split / "a.png")
        (tmp_path / "labels" / split).mkdir(parents=True)
        (tmp_path / "labels" / split / "a.txt").write_text("1 0.5 0.5 0.5 0.4\n0 0.25 0.25 0.1 0.2\n")
    image(tmp_path / "images" / "train" / "empty.png")
    (tmp_path / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\n"
                                        "names:\n  0: cat\n  1: dog\n")
    data = yolo(tmp_path)
    assert data.task == "detection" and data.class_names == ["cat", "dog"]
    assert data.train_images.shape == (2, *SHAPE) and data.val_images.shape == (1, *SHAPE)
    assert data.train_labels.shape == (2, 2, 5) and data.val_labels.shape == (1, 2, 5)
    assert real_rows(data.val_labels[0]) == [[1, 0.5, 0.5, 0.5, 0.4], [0, 0.25, 0.25, 0.1, 0.2]]
    assert real_rows(data.train_labels[1]) == []          # an image without a label file
    assert any("no label file" in line for line in data.report)


def test_yolo_flat_layout_classes_txt_polygons_and_every_problem_with_file_and_line(tmp_path):
    for name in ("a", "b", "c"):
        image(tmp_path / "images" / f"{name}.png")
    (tmp_path / "images" / "broken.png").write_bytes(b"\x89PNG not really")
    labels = tmp_path / "labels"
    labels.mkdir()
    (tmp_path / "classes.txt").write_text("cat\ndog\n\n")
    (labels / "a.txt").write_text("\n".join([
        "0 0.5 0.5 0.2 0.2",            # 1 good
        "1 1.3 0.5 0.5 0.5",            # 2 outside
        "0 0.5 0.5 0 0.2",              # 3 zero area
        "7 0.5 0.5 0.1 0.1",            # 4 unknown class
        "0 0.5 0.5",                    # 5 malformed
        "0 0.5 abc 0.1 0.1",            # 6 not a number
        "1 0.1 0.1 0.3 0.1 0.2 0.4",    # 7 a polygon: its bounding box
        "0 0.5 0.5 0.2 0.2 inf",        # 8 malformed (6 fields)
        "1.5 0.5 0.5 0.1 0.1",          # 9 class not a whole number
        "0 0.5 0.5 1.005 0.5",          # 10 a hair outside: clipped
    ]) + "\n")
    (labels / "b.txt").write_text("1 120 50 40 40\n")   # pixels instead of fractions
    (labels / "orphan.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    data = yolo(tmp_path)
    text = "\n".join(data.report)
    for line, why in ((2, "box outside the image"), (3, "zero area"), (4, "unknown class 7"),
                      (5, "malformed line"), (6, "not a number: 'abc'"), (8, "malformed line"),
                      (9, "unknown class 1.5")):
        assert f"labels/a.txt line {line}: {why}" in text
    assert "labels/b.txt line 1: box outside the image" in text and "looks like pixels" in text
    assert "labels/orphan.txt: missing image" in text
    assert "images/broken.png" in text
    rows = real_rows(data.train_labels[0])
    assert rows == [[0, 0.5, 0.5, 0.2, 0.2], [1, 0.2, 0.25, 0.2, 0.3], [0, 0.5, 0.5, 1.0, 0.5]]
    assert data.num_train == 3 and real_rows(data.train_labels[1]) == []


def test_yolo_refusals_in_words(tmp_path):
    image(tmp_path / "images" / "a.png")
    with pytest.raises(DatasetError, match="class names"):
        yolo(tmp_path)
    for outside in ("/etc", "images/../../etc"):
        (tmp_path / "data.yaml").write_text(f"names: [a, b]\ntrain: {outside}\n")
        with pytest.raises(DatasetError, match="leaves the dataset folder"):
            yolo(tmp_path)
    (tmp_path / "data.yaml").write_text("names: [a, b\n")
    with pytest.raises(DatasetError, match="not valid YAML"):
        yolo(tmp_path)
    (tmp_path / "data.yaml").write_text("names: {0: a, 2: b}\n")
    with pytest.raises(DatasetError, match="without gaps"):
        yolo(tmp_path)
    (tmp_path / "data.yaml").write_text("names: [a]\n")
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a.txt").write_text("3 0.5 0.5 0.1 0.1\n")
    with pytest.raises(DatasetError, match="no usable boxes.*labels/a.txt line 1: unknown class 3"):
        yolo(tmp_path)


@pytest.mark.parametrize("text, match", [
    ("names: " + "[" * 600 + "]" * 600, "nested too deeply"),
    ("a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
     "names: [*b, *b, *b, *b, *b, *b, *b, *b]\n", "every class name must be text"),
    ("names: !!python/object/apply:os.system [ls]\n", "not valid YAML at line 1"),
    ("- cat\n- dog\n", "must be a mapping"),
    ("names: [" + ", ".join(f"c{i}" for i in range(1001)) + "]\n", "more than the 1000"),
])
def test_hostile_data_yaml_is_one_clear_error(tmp_path, text, match):
    image(tmp_path / "images" / "a.png")
    (tmp_path / "data.yaml").write_text(text)
    with pytest.raises(DatasetError, match=match):
        yolo(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX file system")
def test_a_pipe_named_like_a_label_is_reported_not_read(tmp_path):
    image(tmp_path / "images" / "a.png")
    image(tmp_path / "images" / "b.png")
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    os.mkfifo(tmp_path / "labels" / "b.txt")      # reading it would wait forever
    (tmp_path / "classes.txt").write_text("cat\n")
    data = yolo(tmp_path)
    assert data.num_train == 1
    assert any("labels/b.txt: cannot be read (not a regular file)" in line for line in data.report)


def test_images_without_any_label_file_are_refused_with_where_labels_go(tmp_path):
    image(tmp_path / "images" / "a.png")
    (tmp_path / "classes.txt").write_text("cat\n")
    with pytest.raises(DatasetError, match=r"None of the images .* has a label file.*labels/a\.txt"):
        yolo(tmp_path)


def test_yolo_preview_draws_boxes_without_decoding_the_whole_set(tmp_path):
    image(tmp_path / "images" / "a.png")
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a.txt").write_text("1 0.5 0.5 0.5 0.25\n")
    (tmp_path / "classes.txt").write_text("cat\ndog\n")
    shown = preview_dataset(DatasetConfig("yolo", {"folder": str(tmp_path)}), 4)
    assert shown["images"].shape == (1, 3, 64, 64) and shown["labels"].tolist() == [1]
    assert shown["boxes"] == [[(16.0, 24.0, 48.0, 40.0, 1)]]
    assert shown["counts"].tolist() == [0, 1] and shown["class_names"] == ["cat", "dog"]


def coco_files(tmp_path: Path, annotations: list, images: list | None = None, categories=None) -> Path:
    folder = tmp_path / "img"
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        image(folder / name, 40, 20)
    doc = {"images": images if images is not None else [
        {"id": 1, "file_name": "a.jpg", "width": 40, "height": 20},
        {"id": 2, "file_name": "b.jpg", "width": 40, "height": 20},
        {"id": 3, "file_name": "c.jpg"}],     # no size: read from the file's header
        "annotations": annotations,
        "categories": categories if categories is not None else [{"id": 3, "name": "cat"},
                                                                 {"id": 7, "name": "dog"}]}
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(doc))
    return path


def test_coco_loads_with_category_ids_in_order_and_pixel_boxes_as_fractions(tmp_path):
    path = coco_files(tmp_path, [
        {"id": 1, "image_id": 1, "category_id": 7, "bbox": [10, 5, 20, 10], "iscrowd": 0},
        {"id": 2, "image_id": 1, "category_id": 3, "bbox": [0, 0, 4, 2]},
        {"id": 3, "image_id": 3, "category_id": 3, "bbox": [0, 0, 40, 20]},
        {"id": 4, "image_id": 2, "category_id": 3, "bbox": [1, 1, 5, 5], "iscrowd": 1}])
    data = coco_load(tmp_path / "img", path)
    assert data.class_names == ["cat", "dog"] and data.train_labels.shape == (3, 2, 5)
    assert real_rows(data.train_labels[0]) == [[1, 0.5, 0.5, 0.5, 0.5], [0, 0.05, 0.05, 0.1, 0.1]]
    assert real_rows(data.train_labels[1]) == []          # its only region is a crowd
    assert real_rows(data.train_labels[2]) == [[0, 0.5, 0.5, 1.0, 1.0]]
    assert any("crowd" in line for line in data.report)


def test_coco_every_problem_named_by_annotation_and_left_out(tmp_path):
    images = [{"id": 1, "file_name": "a.jpg", "width": 40, "height": 20},
              {"id": 2, "file_name": "../../etc/passwd", "width": 40, "height": 20},
              {"id": 4, "file_name": "gone.jpg", "width": 40, "height": 20},
              {"id": "x", "file_name": "b.jpg"}]
    path = coco_files(tmp_path, [
        {"id": 10, "image_id": 1, "category_id": 3, "bbox": [10, 5, 20, 10]},
        {"id": 11, "image_id": 99, "category_id": 3, "bbox": [10, 5, 20, 10]},
        {"id": 12, "image_id": 1, "category_id": 5, "bbox": [10, 5, 20, 10]},
        {"id": 13, "image_id": 1, "category_id": 3, "bbox": [10, 5, 0, 10]},
        {"id": 14, "image_id": 1, "category_id": 3, "bbox": [30, 5, 20, 10]},
        {"id": 15, "image_id": 1, "category_id": 3, "bbox": ["1", 2, 3, 4]},
        {"id": 16, "image_id": 4, "category_id": 3, "bbox": [1, 1, 5, 5]},
        [1, 2, 3],
        {"id": 18, "image_id": [1], "category_id": {}, "bbox": [1e308, 1e308, 1e308, 1e308]}],
        images=images)
    data = coco_load(tmp_path / "img", path)
    text = "\n".join(data.report)
    for where, why in (("annotation id 11 (annotations[1])", "missing image"),
                       ("annotation id 12 (annotations[2])", "unknown class"),
                       ("annotation id 13 (annotations[3])", "zero area"),
                       ("annotation id 14 (annotations[4])", "box outside the image"),
                       ("annotation id 15 (annotations[5])", "malformed bbox"),
                       ("annotations[7]", "malformed annotation"),
                       ("annotation id 18 (annotations[8])", "missing image"),
                       ("images[1] (id 2)", "file name '../../etc/passwd' leaves the images folder"),
                       ("images[3]", "malformed image entry")):
        assert f"instances.json {where}: {why}" in text
    assert "gone.jpg" in text                             # the missing file, from the image scan
    assert data.num_train == 1 and real_rows(data.train_labels[0]) == [[0, 0.5, 0.5, 0.5, 0.5]]


@pytest.mark.parametrize("content, match", [
    ("[1, 2]", "JSON object"),
    ('{"images": {}, "annotations": [], "categories": []}', "'images' must be a list"),
    ('{"images": [], "categories": []}', "'annotations' must be a list"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"images": [', "not valid JSON"),
    ('{"images": [], "annotations": [], "categories": [{"id": true, "name": 3}]}', "no usable categories"),
])
def test_hostile_coco_json_is_one_clear_error(tmp_path, content, match):
    (tmp_path / "img").mkdir()
    (tmp_path / "bad.json").write_text(content)
    with pytest.raises(DatasetError, match=match):
        coco_load(tmp_path / "img", tmp_path / "bad.json")


def test_huge_coco_json_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = coco_files(tmp_path, [])
    monkeypatch.setattr(coco, "MAX_JSON_BYTES", 100)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("the file was read"))
    with pytest.raises(DatasetError, match="split it"):
        coco_load(tmp_path / "img", path)


def test_coco_validation_file_must_list_the_same_categories(tmp_path):
    path = coco_files(tmp_path, [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [1, 1, 5, 5]}])
    other = tmp_path / "val.json"
    other.write_text(json.dumps({"images": [], "annotations": [], "categories": [{"id": 1, "name": "x"}]}))
    with pytest.raises(DatasetError, match="same ones"):
        coco_load(tmp_path / "img", path, val_images=str(tmp_path / "img"), val_annotations=str(other))


line_text = st.lists(st.one_of(
    st.text(alphabet="0123456789.-e+ abcnaif\t", max_size=40),
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1, max_size=8).map(
        lambda vs: " ".join(str(v) for v in vs))), max_size=6).map("\n".join)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=line_text, raw=st.binary(max_size=30))
def test_fuzzed_yolo_label_files_load_or_fail_in_words(tmp_path_factory, text, raw):
    folder = tmp_path_factory.mktemp("fuzz")
    image(folder / "images" / "a.png")
    image(folder / "images" / "b.png")
    (folder / "labels").mkdir()
    (folder / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n" + text)
    (folder / "labels" / "b.txt").write_bytes(raw)
    (folder / "classes.txt").write_text("a\nb\n")
    data = yolo(folder)
    assert data.train_labels.shape[0] in (1, 2) and torch.isfinite(data.train_labels).all()
    if data.train_labels.shape[0] == 1:   # b.txt could not be read as text: b.png is left out
        assert any("labels/b.txt: not UTF-8 text" in line for line in data.report)
    rows = data.train_labels[data.train_labels[..., 0] >= 0]
    assert torch.all((rows[:, 1:] >= 0) & (rows[:, 1:] <= 1)) and torch.all(rows[:, 3:] > 0)


scalar = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-50, 50) | st.text(max_size=5)
json_value = st.recursive(scalar, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=4), inner, max_size=4), max_leaves=10)
annotation = st.fixed_dictionaries({}, optional={
    "id": json_value, "image_id": st.integers(0, 3) | json_value,
    "category_id": st.sampled_from([3, 7, 8]) | json_value,
    "bbox": st.lists(st.floats(-10, 60) | json_value, max_size=5), "iscrowd": json_value})


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(annotations=st.lists(annotation | json_value, max_size=8))
def test_fuzzed_coco_annotations_load_or_fail_in_words(tmp_path_factory, annotations):
    folder = tmp_path_factory.mktemp("fuzz")
    path = coco_files(folder, annotations)
    try:
        data = coco_load(folder / "img", path)
    except DatasetError as exc:
        assert "no usable boxes" in str(exc)
        return
    rows = data.train_labels[data.train_labels[..., 0] >= 0]
    assert torch.all((rows[:, 1:] >= 0) & (rows[:, 1:] <= 1)) and torch.all(rows[:, 0] < 2)


def test_over_the_memory_limit_items_come_lazily_with_their_boxes(tmp_path, monkeypatch):
    from visionstudio.core.data import detect_images

    for name in ("a", "b", "c", "d"):
        image(tmp_path / "images" / f"{name}.png")
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a.txt").write_text("1 0.5 0.5 0.5 0.4\n0 0.2 0.2 0.2 0.2\n")
    (tmp_path / "labels" / "c.txt").write_text("0 0.5 0.5 0.5 0.4\n")
    (tmp_path / "classes.txt").write_text("cat\ndog\n")
    config = DatasetConfig("yolo", {"folder": str(tmp_path)})
    eager = load_dataset(config, target_shape=SHAPE, val_split=0.25, seed=1)
    monkeypatch.setattr(detect_images, "MAX_IN_MEMORY_BYTES", 0)
    lazy = load_dataset(config, target_shape=SHAPE, val_split=0.25, seed=1)
    assert not lazy.in_memory and lazy.task == "detection" and lazy.num_train == 3 and lazy.num_val == 1
    for i in range(3):
        pixels, boxes = lazy.train_dataset[i]
        assert pixels.shape == SHAPE and pixels.dtype == torch.uint8
        assert torch.equal(boxes, eager.train_labels[i]) and torch.equal(pixels, eager.train_images[i])
    assert torch.equal(lazy.val_dataset[0][1], eager.val_labels[0])
