"""Regression data: the built-in shapes_regress set (layouts, seeds, targets that match
the pixels) and image_csv (a folder plus a CSV of values; every bad line reported with
the CSV's name and line and left out; names leading outside the folder refused)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from visionstudio.core.data import image_csv
from visionstudio.core.data.base import DatasetError
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.data.registry import DATASETS, describe_dataset, load_dataset
from visionstudio.core.data.shapes_regress import RADIUS, TARGET_CHOICES, target_names


def regress(**params) -> DatasetConfig:
    return DatasetConfig("shapes_regress", {"samples": 64, "val_samples": 16, **params})


# -- shapes_regress --------------------------------------------------------------------

@pytest.mark.parametrize("targets", TARGET_CHOICES)
def test_shapes_regress_layout_and_describe(targets):
    data = load_dataset(regress(targets=targets, image_size=24, channels=3))
    names = [t.strip() for t in targets.split(",")]
    assert data.task == "regression" and data.target_names == names and data.class_names == []
    assert data.train_images.shape == (64, 3, 24, 24) and data.train_images.dtype == torch.uint8
    assert data.train_labels.shape == (64, len(names)) and data.train_labels.dtype == torch.float32
    assert data.val_labels.shape == (16, len(names)) and data.num_train == 64 and data.num_val == 16
    info = describe_dataset(regress(targets=targets, image_size=24, channels=3))
    assert (info.task, info.targets, info.sample_shape, info.num_classes) == \
        ("regression", len(names), (3, 24, 24), None)
    assert DATASETS.get("shapes_regress").tasks == ("regression",)
    assert DATASETS.get("image_csv").tasks == ("regression",)


def test_shapes_regress_seeds_and_split():
    a, b = load_dataset(regress(seed=5)), load_dataset(regress(seed=5))
    c = load_dataset(regress(seed=6))
    assert torch.equal(a.train_images, b.train_images) and torch.equal(a.train_labels, b.train_labels)
    assert not torch.equal(a.train_labels, c.train_labels)
    assert not torch.equal(a.train_labels[:16], a.val_labels)   # its own stream
    split = load_dataset(regress(val_samples=0), val_split=0.25)
    assert (split.num_train, split.num_val) == (48, 16)


def test_shapes_regress_targets_are_what_the_pixels_show():
    """Noise-free squares: the bright pixels' centroid is (x, y), their area the square's."""
    data = load_dataset(regress(samples=40, noise=0.0, image_size=40, angle_range=80.0))
    size, angle, x, y = data.train_labels.double().unbind(1)
    assert size.min() >= 2 * RADIUS[0] * 40 - 1e-3 and size.max() <= 2 * RADIUS[1] * 40 + 1e-3
    assert angle.min() >= 0 and angle.max() < 80
    img = data.train_images[:, 0].double()
    lo = img.flatten(1).min(1).values[:, None, None]
    hi = img.flatten(1).max(1).values[:, None, None]
    cover = ((img - lo) / (hi - lo) > 0.5).double()     # background ramp is far below the shape
    grid = torch.arange(40, dtype=torch.float64) + 0.5
    area = cover.sum((1, 2))
    cx = (cover * grid[None, None, :]).sum((1, 2)) / area
    cy = (cover * grid[None, :, None]).sum((1, 2)) / area
    assert (cx - x).abs().max() < 0.6 and (cy - y).abs().max() < 0.6
    side = 0.8 * size                                   # the square's side is 0.8 of the size
    assert ((area - side ** 2).abs() / side ** 2).max() < 0.15


@pytest.mark.parametrize("params, words", [
    ({"shape": "circle"}, "looks the same at every angle"),
    ({"shape": "square", "angle_range": 90.0}, "below 90°"),
    ({"shape": "hexagon", "angle_range": 61.0}, "below 60°"),
    ({"channels": 2}, r"1 \(grayscale\) or 3"),
])
def test_shapes_regress_refuses_unmeasurable_settings(params, words):
    with pytest.raises(DatasetError, match=words):
        load_dataset(regress(**params))


def test_circles_without_angle_load():
    data = load_dataset(regress(shape="circle", targets="size, x, y"))
    assert data.target_names == ["size", "x", "y"] == target_names({"targets": "size, x, y"})


# -- image_csv ---------------------------------------------------------------------------

def make_images(folder: Path, names=("a.png", "b.png", "c.png", "d.png", "sub/e.png")) -> Path:
    for i, name in enumerate(names):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (12, 10), (20 * i, 200 - 20 * i, 90)).save(folder / name)
    return folder


def load_csv(folder: Path, text: str | None = None, csv: str = "", **kwargs):
    if text is not None:
        (Path(folder) / (csv or "targets.csv")).write_text(text, encoding="utf-8")
    return load_dataset(DatasetConfig("image_csv", {"folder": str(folder), "csv": csv}),
                        target_shape=kwargs.pop("shape", (3, 8, 8)), **kwargs)


def test_good_csv_loads_values_in_order_with_a_seeded_split(tmp_path):
    make_images(tmp_path)
    text = "file,size,angle\na.png,1.5,10\nb.png,2,20\r\nc.png, 3 ,-30\n\nd.png,4e0,40\nsub/e.png,5,50\n"
    data = load_csv(tmp_path, text, val_split=0.4, seed=1)
    assert data.task == "regression" and data.target_names == ["size", "angle"]
    assert (data.num_train, data.num_val) == (3, 2) and data.train_images.shape == (3, 3, 8, 8)
    rows = torch.cat([data.train_labels, data.val_labels]).tolist()
    assert sorted(rows) == [[1.5, 10], [2, 20], [3, -30], [4, 40], [5, 50]]
    assert data.skipped_files == [] and data.train_labels.dtype == torch.float32
    again = load_csv(tmp_path, val_split=0.4, seed=1)
    assert torch.equal(again.val_labels, data.val_labels)
    assert describe_dataset(DatasetConfig("image_csv", {"folder": str(tmp_path)})).targets == 2
    gray = load_csv(tmp_path, csv="t2.csv", text="file,v\na.png,1\nb.png,2\n", shape=(1, 6, 6), val_split=0)
    assert gray.train_images.shape == (2, 1, 6, 6) and gray.val_labels is None


BAD_LINES = [
    ("b.png,2", "line 3: 2 values, but the header has 3 columns"),
    ("b.png,2,3,4", "line 3: 4 values, but the header has 3 columns"),
    ("b.png,abc,1", "line 3: size is 'abc', not a number"),
    ("b.png,,1", "line 3: size is empty"),
    ("b.png,nan,1", "line 3: size is nan, not a finite number"),
    ("b.png,1,-inf", "line 3: angle is -inf, not a finite number"),
    ("a.png,1,1", "line 3: a.png is already on line 2"),
    ("./a.png,1,1", "line 3: ./a.png is already on line 2"),
    ("missing.png,1,1", "line 3: missing.png is not in the folder"),
    ("sub,1,1", "line 3: sub is not a file"),
    (",1,1", "line 3: no file name"),
    ("broken.png,1,1", "line 3: broken.png: not an image"),
    ("../outside.png,1,1", "line 3: ../outside.png leads outside the folder"),
    ("/etc/hostname,1,1", "line 3: /etc/hostname is an absolute path"),
    ("C:\\x.png,1,1", "is an absolute path"),
    ("~/x.png,1,1", "is an absolute path"),
    ("link_out.png,1,1", "line 3: link_out.png leads outside the folder"),
]


@pytest.mark.parametrize("line, words", BAD_LINES)
def test_every_bad_line_is_reported_with_file_and_line_and_left_out(tmp_path, line, words):
    folder = make_images(tmp_path / "images")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    make_images(tmp_path, ("outside.png",))
    os.symlink(tmp_path / "outside.png", folder / "link_out.png")
    data = load_csv(folder, f"file,size,angle\na.png,1,2\n{line}\nc.png,3,4\n", val_split=0)
    assert sorted(data.train_labels.tolist()) == [[1, 2], [3, 4]]
    [(path, why)] = data.skipped_files
    assert why.startswith("targets.csv line 3: ") and words in why
    assert why in data.report


def test_links_inside_the_folder_are_followed(tmp_path):
    folder = make_images(tmp_path)
    os.symlink(folder / "sub" / "e.png", folder / "alias.png")
    data = load_csv(folder, "file,v\nalias.png,1\nb.png,2\n", val_split=0)
    assert data.num_train == 2 and data.skipped_files == []


@pytest.mark.parametrize("text, words", [
    ("", "is empty"),
    ("  \n\n", "is empty"),
    ("a.png,1,2\nb.png,3,4\n", "line 1: the first line must be the header file,"),
    ("name,size\na.png,1\n", "the first line must be the header"),
    ("file\na.png\n", "the first line must be the header"),
    ("file,size,size\na.png,1,2\n", "names the target 'size' twice"),
    ("file,size,\na.png,1,2\n", "column 3 of the header needs a name"),
    ("file,size\n", "gives no usable image"),
    ("file,size\nmissing.png,1\n", "gives no usable image (1 line(s) left out): targets.csv line 2"),
])
def test_csv_that_cannot_be_used_says_why(tmp_path, text, words):
    make_images(tmp_path)
    with pytest.raises(DatasetError, match=words.replace("(", r"\(").replace(")", r"\)")):
        load_csv(tmp_path, text)


def test_missing_unreadable_and_huge_csvs_are_refused_before_reading(tmp_path, monkeypatch):
    make_images(tmp_path)
    with pytest.raises(DatasetError, match="does not exist"):
        load_csv(tmp_path)
    (tmp_path / "targets.csv").write_bytes(b"file,v\na.png,\xff\xfe1\n")
    with pytest.raises(DatasetError, match="not UTF-8"):
        load_csv(tmp_path)
    with pytest.raises(DatasetError, match="does not exist or is not a folder"):
        load_csv(tmp_path / "nope")
    (tmp_path / "targets.csv").write_text("file,v\n" + "a.png,1\n" * 100)
    monkeypatch.setattr(image_csv, "MAX_CSV_BYTES", 500)
    read = []
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self) or b"")
    with pytest.raises(DatasetError, match="more than the 0 MB"):
        load_csv(tmp_path)
    assert read == []                           # refused from its size alone
    monkeypatch.undo()
    monkeypatch.setattr(image_csv, "MAX_ROWS", 10)
    with pytest.raises(DatasetError, match="more than 10 lines"):
        load_csv(tmp_path)


def test_big_sets_come_back_lazy_with_value_targets(tmp_path, monkeypatch):
    make_images(tmp_path)
    monkeypatch.setattr(image_csv, "MAX_IN_MEMORY_BYTES", 0)
    data = load_csv(tmp_path, "file,v,w\na.png,1,2\nb.png,3,4\nc.png,5,6\n", val_split=0.34)
    assert not data.in_memory and data.sample_shape == (3, 8, 8)
    assert (len(data.train_dataset), len(data.val_dataset)) == (2, 1)
    image, target = data.train_dataset[0]
    assert image.shape == (3, 8, 8) and target.dtype == torch.float32 and target.shape == (2,)


def test_pretrained_weights_resize_whole_images_never_crop(tmp_path):
    from visionstudio.core.data.preprocessing import Preprocessing

    make_images(tmp_path)
    plain = load_csv(tmp_path, "file,v\na.png,1\nb.png,2\n", val_split=0)
    pre = Preprocessing("Test_Weights.V1", 9, 8, (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
    config = DatasetConfig("image_csv", {"folder": str(tmp_path)}, preprocessing=pre)
    loaded = load_dataset(config, target_shape=(3, 8, 8), val_split=0)
    assert torch.equal(loaded.train_images, plain.train_images)
    assert any("resized whole" in line for line in loaded.report) and loaded.mean == pre.mean


def test_describe_reads_only_a_regular_csv_header(tmp_path):
    def described(folder):
        return describe_dataset(DatasetConfig("image_csv", {"folder": str(folder)})).targets

    assert described(tmp_path) is None                      # no CSV yet
    os.mkfifo(tmp_path / "targets.csv")                     # opening it would block
    assert described(tmp_path) is None
    with pytest.raises(DatasetError, match="is not a file"):
        load_csv(tmp_path)


# -- fuzzed CSV text ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def fuzz_folder(tmp_path_factory):
    return make_images(tmp_path_factory.mktemp("fuzz"))


CELLS = st.sampled_from(["a.png", "b.png", "sub/e.png", "../a.png", "1", "-2.5", "nan", "x", "",
                         " 3 ", '"q,1"', "1e400", "/a.png"])
LINES = st.lists(CELLS, min_size=0, max_size=5).map(",".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.sampled_from(["file,v", "file,v,w", "v,w", "", "file"]),
       lines=st.lists(LINES, max_size=8), noise=st.text(max_size=20))
def test_fuzzed_csv_gives_an_error_or_accounts_for_every_line(fuzz_folder, header, lines, noise):
    path = fuzz_folder / "fuzz.csv"
    text = "\n".join([header, *lines, noise])
    path.write_text(text, encoding="utf-8")
    try:
        table = image_csv.read_targets(path, fuzz_folder)
    except DatasetError as exc:
        assert str(exc).strip()
        return
    used = len(table.lines) + len(table.problems)
    assert used <= len(text.splitlines())
    assert all(why.startswith("fuzz.csv line ") for _, _, why in table.problems)
    assert len(set(table.paths)) == len(table.paths)
    for path_, values in zip(table.paths, table.values):
        assert path_.resolve().is_relative_to(fuzz_folder.resolve())
        assert len(values) == len(table.names) and all(np.isfinite(values))


# -- the regression template -----------------------------------------------------------

def test_regression_template_is_clean_and_fits_its_dataset(capsys):
    import importlib.util

    from visionstudio.core.build import build_model
    from visionstudio.core.graph import analyze
    from visionstudio.core.tasks.heads import head_problems, plan_heads
    from visionstudio.core.templates import load_template, template, templates_dir
    from visionstudio.core.training.plan import RunPlan, plan_run

    doc = load_template("regression")
    analysis = analyze(doc.graph)
    assert analysis.diagnostics == [] and analysis.input_shape == (1, 32, 32)
    assert doc.task == "regression" and doc.dataset.key == "shapes_regress"
    assert template("regression").title and doc.description
    assert set(doc.graph.positions) == set(doc.graph.nodes)
    heads = plan_heads("regression", doc.graph, analysis, doc.training.loss)
    assert [(h.name, h.target, h.loss["key"], h.output_shape) for h in heads] == \
        [("head", "values", "mse", (4,))]
    assert head_problems("regression", heads, describe_dataset(doc.dataset)) == []
    model = build_model(doc.graph, analysis).eval()
    with torch.no_grad():
        assert tuple(model(torch.zeros(2, 1, 32, 32)).shape) == (2, 4)
    assert isinstance(plan_run(doc, {"device": "cpu"}), RunPlan)
    generator = templates_dir() / "make_regression_template.py"
    spec = importlib.util.spec_from_file_location("make_regression_template", generator)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0, f"run: .venv/bin/python {generator}"
