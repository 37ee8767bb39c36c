"""Image folders as an attacker (or an unlucky user) makes them: symlink loops and
repeats, decompression bombs, huge images, devices, and files that vanish while training.

Each test is one attack; the expectation is the user-facing behaviour: the scan ends,
every image is listed once, validation never shares a file with training, oversized
images are refused from their header, and every file that breaks mid-run is counted
and named in the run's report — from DataLoader workers too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile, ImageOps

from tests.core.hostile_folders import bilevel_png, deleting_loader, folder_project, make_folder
from tests.core.training_helpers import Recorder, config, one_thread, tiny_graph
from visionstudio.core.build import build_model
from visionstudio.core.data import image_decode, image_folder
from visionstudio.core.data.base import channel_stats
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.data.registry import load_dataset
from visionstudio.core.inspect.samples import SampleError, load_image_file
from visionstudio.core.runs import RunHistory
from visionstudio.core.training.trainer import Trainer

_threads = pytest.fixture(autouse=True)(one_thread)
needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt",
                                    reason="symbolic links need a POSIX file system here")


def load(folder, val_folder="", shape=(3, 8, 8), **kwargs):
    return load_dataset(DatasetConfig("image_folder", {"folder": str(folder),
                                                       "val_folder": str(val_folder)}),
                        target_shape=shape, **kwargs)


def labels_of(data) -> list[int]:
    parts = [data.train_labels, data.val_labels] if data.in_memory else []
    if not data.in_memory:
        parts = [torch.tensor(ds.labels) for ds in (data.train_dataset, data.val_dataset) if ds]
    return sorted(int(v) for p in parts if p is not None for v in p.tolist())


# -- symbolic links: the scan ends, and lists each real file once ----------------------------

@needs_symlinks
def test_a_loop_to_its_own_folder_lists_each_image_once(tmp_path):
    root = make_folder(tmp_path / "pets")
    os.symlink(".", root / "cat" / "loop")             # os.walk listed cat 41 times
    data = load(root, val_split=0.25)
    assert data.num_train + data.num_val == 8
    assert labels_of(data) == [0] * 4 + [1] * 4
    assert any("linked folder" in line for line in data.report)


@needs_symlinks
def test_links_to_the_parent_end_and_never_relabel_another_class(tmp_path):
    root = make_folder(tmp_path / "pets")
    os.symlink("..", root / "cat" / "up")               # with both, os.walk never ended
    os.symlink("..", root / "dog" / "up")
    os.symlink("../dog", root / "cat" / "dogs")         # would label the dogs as cats
    data = load(root, val_split=0.25)
    assert data.num_train + data.num_val == 8
    assert labels_of(data) == [0] * 4 + [1] * 4


@needs_symlinks
def test_two_links_to_one_folder_list_it_once(tmp_path):
    root = make_folder(tmp_path / "pets")
    extra = tmp_path / "more_cats"
    extra.mkdir()
    for i in range(3):
        Image.new("RGB", (8, 8), (i, 0, 0)).save(extra / f"x{i}.png")
    os.symlink(extra, root / "cat" / "more")            # images kept elsewhere are read
    os.symlink(extra, root / "cat" / "more_again")
    data = load(root, val_split=0.0)
    assert data.num_train == 11
    assert labels_of(data) == [0] * 7 + [1] * 4


@needs_symlinks
def test_a_file_linked_twice_is_listed_once(tmp_path):
    root = make_folder(tmp_path / "pets")
    os.symlink(root / "cat" / "0.png", root / "cat" / "again.png")
    os.symlink(root / "cat" / "0.png", root / "dog" / "stolen.png")
    os.link(root / "cat" / "1.png", root / "dog" / "hard.png")   # a hard link is the same file too
    data = load(root, val_split=0.0)
    assert data.num_train == 8 and labels_of(data) == [0] * 4 + [1] * 4
    assert any("only once" in line for line in data.report)


@needs_symlinks
def test_validation_never_shares_a_file_with_training(tmp_path):
    root = make_folder(tmp_path / "pets")
    val = tmp_path / "val"
    for cls in ("cat", "dog"):
        (val / cls).mkdir(parents=True)
        os.symlink(root / cls / "0.png", val / cls / "linked.png")
        Image.new("RGB", (8, 8), (9, 9, 9)).save(val / cls / "own.png")
    data = load(root, val)
    assert data.num_train == 8 and data.num_val == 2     # only the validation folder's own files
    assert any("also training images" in line for line in data.report)
    os.symlink(root, tmp_path / "same_as_train")
    data = load(root, tmp_path / "same_as_train")
    assert data.num_train == 8 and data.num_val == 0
    assert any("validation class folder(s) that are training folders" in line for line in data.report)


@pytest.mark.skipif(not Path("/dev/zero").exists() or os.name == "nt", reason="needs /dev/zero")
def test_a_link_to_a_device_is_refused_not_read(tmp_path):
    root = make_folder(tmp_path / "pets")
    os.symlink("/dev/zero", root / "cat" / "endless.png")
    data = load(root, val_split=0.0)
    assert data.num_train == 8
    reasons = {p.name: why for p, why in data.skipped_files}
    assert "not a regular file" in reasons["endless.png"]
    assert "endless.png" in "\n".join(data.report)


# -- the pixel limit: refused from the header, before decoding -------------------------------

@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")   # refused either way
def test_a_decompression_bomb_png_is_refused_without_decoding(tmp_path, monkeypatch):
    bomb = bilevel_png(tmp_path / "bomb.png", 12000, 12000)
    assert bomb.stat().st_size < 100_000
    decoded = []
    real_load = ImageFile.ImageFile.load

    def counting_load(self):
        decoded.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    with pytest.raises(image_folder.ImageProblem, match=r"too large.*144 MP.*50 MP limit"):
        image_folder.decode(bomb, (3, 32, 32))
    assert (12000, 12000) not in decoded
    # in a folder: left out with the reason, the other images train
    root = make_folder(tmp_path / "pets")
    bomb.rename(root / "cat" / "bomb.png")
    data = load(root, val_split=0.0)
    assert data.num_train == 8 and (12000, 12000) not in decoded
    assert any("bomb.png" in line and "too large" in line for line in data.report)


@pytest.mark.parametrize("width, height, words", [
    (9000, 7000, r"9000×7000 pixels \(63 MP\), more than the 50 MP limit"),  # under Pillow's own limit
    (20000, 20000, r"too large: 400 MP"),                                      # Pillow's bomb error
])
def test_the_pixel_limit_applies_below_and_above_pillows_limits(tmp_path, width, height, words):
    path = bilevel_png(tmp_path / "big.png", width, height, full=False)
    with pytest.raises(image_folder.ImageProblem, match=words):
        image_folder.decode(path, (1, 16, 16))
    with pytest.raises(image_folder.ImageProblem, match="too large"):
        image_folder.decode(path, (1, 16, 16), verify=False)    # the lazy path checks it too


def test_the_feature_viewer_applies_the_same_pixel_limit(tmp_path):
    path = bilevel_png(tmp_path / "huge.png", 9000, 7000, full=False)
    with pytest.raises(SampleError, match=r"huge.png cannot be used: too large.*50 MP"):
        load_image_file(path, (1, 28, 28))


# -- cheap decoding to the target size -----------------------------------------------------------

def _sizes_converted(monkeypatch) -> list[tuple[int, int]]:
    sizes: list[tuple[int, int]] = []
    real = image_decode.convert_image

    def spy(img, channels):
        sizes.append(img.size)
        return real(img, channels)

    monkeypatch.setattr(image_decode, "convert_image", spy)
    return sizes


def _reference(path: Path, channels: int, w: int, h: int) -> np.ndarray:
    """The straightforward conversion: full decode, rotate, convert, one bilinear resize."""
    with Image.open(path) as img:
        img = ImageOps.exif_transpose(img)
        img = image_decode.convert_image(img, channels).resize((w, h), Image.Resampling.BILINEAR)
    arr = np.asarray(img)
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def _smooth(width: int, height: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // width, y * 255 // height, (x + y) * 127 // (width + height)],
                    axis=-1).astype(np.uint8)


def test_a_big_jpeg_is_decoded_at_a_reduced_scale(tmp_path, monkeypatch):
    path = tmp_path / "photo.jpg"
    Image.fromarray(_smooth(2400, 1600), "RGB").save(path, quality=90)
    sizes = _sizes_converted(monkeypatch)
    arr = image_folder.decode(path, (3, 32, 48))
    assert arr.shape == (3, 32, 48) and arr.dtype == np.uint8 and arr.flags.writeable
    assert max(sizes[0]) <= 4 * 48, sizes                 # not 2400×1600
    assert np.abs(arr.astype(int) - _reference(path, 3, 48, 32).astype(int)).mean() < 3


def test_a_big_png_with_alpha_is_reduced_before_it_is_converted(tmp_path, monkeypatch):
    path = tmp_path / "alpha.png"
    rgba = np.concatenate([_smooth(1200, 900), np.full((900, 1200, 1), 128, np.uint8)], axis=-1)
    Image.fromarray(rgba, "RGBA").save(path)
    sizes = _sizes_converted(monkeypatch)
    arr = image_folder.decode(path, (1, 30, 40))
    assert arr.shape == (1, 30, 40) and max(sizes[0]) <= 2 * image_decode.REDUCING_GAP * 40, sizes
    assert np.abs(arr.astype(int) - _reference(path, 1, 40, 30).astype(int)).mean() < 3


def test_exif_rotation_is_kept_with_the_reduced_decode(tmp_path):
    path = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6                                       # stored sideways: rotate 270
    Image.fromarray(_smooth(1600, 800), "RGB").save(path, exif=exif.tobytes(), quality=90)
    arr = image_folder.decode(path, (3, 40, 20))           # upright it is 800 wide, 1600 high
    assert arr.shape == (3, 40, 20)
    assert np.abs(arr.astype(int) - _reference(path, 3, 20, 40).astype(int)).mean() < 3


def test_16_bit_scaling_in_integers_equals_the_float_formula():
    values = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    out = np.asarray(image_decode._to_8bit(Image.fromarray(values)))
    assert np.array_equal(out, np.rint(values.astype(np.float64) / 257.0).astype(np.uint8))


# -- channel_stats: exact, streamed, bounded ----------------------------------------------------

def _numpy_stats(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = images.astype(np.float64) / 255.0
    return x.mean(axis=(0, 2, 3)), np.maximum(x.std(axis=(0, 2, 3)), 1e-3)


def test_channel_stats_of_a_folder_match_numpy(tmp_path, monkeypatch):
    root = tmp_path / "pets"
    rng = np.random.default_rng(3)
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
        for i in range(6):
            pixels = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels, "RGB").save(root / cls / f"{i}.png")
    data = load(root, shape=(3, 10, 12), val_split=0.25)
    mean, std = _numpy_stats(data.train_images.numpy())
    assert np.allclose(data.mean, mean, atol=1e-5) and np.allclose(data.std, std, atol=1e-5)
    monkeypatch.setattr(image_folder, "MAX_IN_MEMORY_BYTES", 10)     # lazy: streamed sample
    lazy = load(root, shape=(3, 10, 12), val_split=0.25)
    images = np.stack([lazy.train_dataset[i][0].numpy() for i in range(len(lazy.train_dataset))])
    mean, std = _numpy_stats(images)
    assert np.allclose(lazy.mean, mean, atol=1e-5) and np.allclose(lazy.std, std, atol=1e-5)


def test_channel_stats_work_in_bounded_blocks(monkeypatch):
    images = torch.randint(0, 256, (5, 3, 40, 50), dtype=torch.uint8)
    expected = _numpy_stats(images.numpy())
    seen: list[int] = []
    real = torch.bincount
    monkeypatch.setattr(torch, "bincount", lambda x, **kw: seen.append(x.numel()) or real(x, **kw))
    for source in (images, (img for img in images), [images[:2], images[2:]]):
        seen.clear()
        mean, std = channel_stats(source, chunk=700)       # an image has 2000 values per channel
        assert np.allclose(mean, expected[0], atol=1e-5) and np.allclose(std, expected[1], atol=1e-5)
        assert seen and max(seen) < 2 * 700
    mean, std = channel_stats(images.float(), chunk=700)   # float images: float32 blocks
    assert np.allclose(mean, expected[0], atol=1e-5) and np.allclose(std, expected[1], atol=1e-5)


# -- files that break during the run are counted and reported --------------------------------

def lazy_folder(tmp_path, monkeypatch, per_class: int = 10):
    monkeypatch.setattr(image_folder, "MAX_IN_MEMORY_BYTES", 10)
    root = make_folder(tmp_path / "pets", per_class=per_class, mode="L")
    data = load(root, shape=(1, 8, 8), val_split=0.2)
    assert not data.in_memory
    return root, data


@pytest.mark.parametrize("workers", [0, 1])
def test_files_that_break_mid_run_are_counted_from_workers_too(tmp_path, monkeypatch, workers):
    root, data = lazy_folder(tmp_path, monkeypatch)
    gone = data.train_dataset.items[0][0]
    gone.unlink()                                          # deleted after the scan
    Path(data.val_dataset.items[0][0]).write_bytes(b"\x89PNG\r\n")   # replaced by junk
    rec = Recorder()
    trainer = Trainer(build_model(tiny_graph(classes=2, size=8), seed=0), config(epochs=2, batch_size=4),
                      callbacks=[rec], num_workers=workers)
    result = trainer.fit(data)
    assert result.status == "completed"
    note = [n for n in result.notes if "could not be read" in n]
    assert len(note) == 1 and note[0].startswith("2 images could not be read and were skipped")
    assert f"{gone.parent.name}/{gone.name}: file not found" in note[0]
    events = [e for r in rec.of("on_batch_end") for e in r.events if "could not be read" in e]
    assert events and f"{gone.parent.name}/{gone.name}" in events[0]   # told as it happened, once
    assert sum(f"{gone.parent.name}/{gone.name}" in e for e in events) == 1


def test_a_stand_in_keeps_its_own_label(tmp_path, monkeypatch):
    _, data = lazy_folder(tmp_path, monkeypatch, per_class=3)
    ds = data.train_dataset
    i = next(k for k in range(len(ds) - 1) if ds.items[k][1] != ds.items[k + 1][1])
    ds.items[i][0].unlink()
    image, label, problems = ds.sample(i)
    assert label == ds.items[i + 1][1] and image is not None
    assert problems == ((ds.display_name(ds.items[i][0]), "file not found (deleted or moved)"),)


def test_a_vanished_folder_stops_the_run_with_words(tmp_path, monkeypatch):
    root, data = lazy_folder(tmp_path, monkeypatch)
    for cls in ("cat", "dog"):
        for f in (root / cls).iterdir():
            f.unlink()
    trainer = Trainer(build_model(tiny_graph(classes=2, size=8), seed=0), config(epochs=1, batch_size=4),
                      num_workers=0)
    result = trainer.fit(data)
    assert result.status == "failed"
    assert "could not be read" in result.failure.message and "moved or deleted" in result.failure.message


def test_run_training_writes_the_count_into_the_result_and_run_json(tmp_path, monkeypatch):
    from visionstudio.core.training.run import run_training

    monkeypatch.setattr(image_folder, "MAX_IN_MEMORY_BYTES", 10)
    root = make_folder(tmp_path / "pets", per_class=10, mode="L")
    victims: list[str] = []
    deleting_loader(monkeypatch, victims)
    result = run_training(folder_project(root), out_dir=tmp_path / "run")   # default DataLoader workers
    assert result.status == "completed"
    summary = json.loads((tmp_path / "run" / "run.json").read_text())
    line = next(n for n in summary["notes"] if "could not be read" in n)
    assert line.startswith("2 images could not be read and were skipped")
    assert all(v in line for v in victims)


def test_the_cli_prints_one_summary_line(tmp_path, monkeypatch, capsys):
    from visionstudio.cli import main
    from visionstudio.core.project import save_project

    monkeypatch.setattr(image_folder, "MAX_IN_MEMORY_BYTES", 10)
    root = make_folder(tmp_path / "pets", per_class=10, mode="L")
    save_project(folder_project(root), tmp_path / "p.vsproj")
    victims: list[str] = []
    deleting_loader(monkeypatch, victims)
    code = main(["train", str(tmp_path / "p.vsproj"), "--out", str(tmp_path / "out"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    lines = [line for line in out.splitlines() if "could not be read" in line]
    assert len(lines) == 1 and lines[0].startswith("2 images could not be read and were skipped: ")
    assert all(v in lines[0] for v in victims)


def test_the_run_log_keeps_notes_added_during_the_run():
    from visionstudio.core.training.records import FitResult, FitStartRecord

    history = RunHistory()
    history.add(FitStartRecord("cpu", "fp32", False, 1, 4, 2, 2, 1, 0, 8, 2, 2, 10, False,
                               notes=("softmax folded",)))
    late = "1 image could not be read and was skipped: cat/1.png: file not found (deleted or moved)."
    history.add(FitResult("completed", 1, 2, (), None, None, "val_loss", None, None, 0.1,
                          notes=("softmax folded", late)))
    assert history.events == [late]
