"""The decoded-image cache: a second load and a second epoch decode nothing, any change
to the folder gives a new cache, a damaged cache file is rebuilt and never trusted, the
size cap evicts the oldest, and the pixels are the same with and without it."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from visionstudio.core.data import image_cache, image_dataset, image_folder
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.data.image_cache import HEADER_BYTES, MAGIC, DecodedCache, dataset_key
from visionstudio.core.data.registry import load_dataset

SHAPE = (3, 12, 12)


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "decoded"
    monkeypatch.setenv(image_cache.CACHE_DIR_ENV, str(folder))
    monkeypatch.delenv(image_cache.CACHE_MAX_ENV, raising=False)
    return folder


@pytest.fixture
def decodes(monkeypatch):
    """Counts every call of the decoder the image folder uses."""
    calls = []
    real = image_folder.decode

    def counting(path, shape, **kw):
        calls.append(Path(path))
        return real(path, shape, **kw)

    monkeypatch.setattr(image_folder, "decode", counting)     # the pre-scan
    monkeypatch.setattr(image_dataset, "decode", counting)    # the lazy items of a large set
    return calls


def make_folder(root: Path, per_class: int = 6, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for name in ("cat", "dog"):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (20, 16, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def load(root: Path):
    return load_dataset(DatasetConfig("image_folder", {"folder": str(root), "val_folder": ""}),
                        target_shape=SHAPE, val_split=0.25, seed=0)


def cache_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*{image_cache.SUFFIX}")) if folder.exists() else []


def same(a, b) -> None:
    assert torch.equal(a.train_images, b.train_images) and torch.equal(a.val_images, b.val_images)
    assert torch.equal(a.train_labels, b.train_labels) and torch.equal(a.val_labels, b.val_labels)


def test_second_load_decodes_nothing_and_gives_the_same_tensors(tmp_path, decodes, cache_dir):
    root = make_folder(tmp_path / "pets")
    first = load(root)
    assert len(decodes) == 12 and len(cache_files(cache_dir)) == 1
    decodes.clear()
    second = load(root)
    assert decodes == []
    same(first, second)
    assert any("12 of 12 images came from the decoded-image cache" in line for line in second.report)


def test_cached_and_uncached_pixels_are_identical(tmp_path, monkeypatch, cache_dir):
    root = make_folder(tmp_path / "pets")
    load(root)                                    # fills the cache
    cached = load(root)                           # read from it
    monkeypatch.setenv(image_cache.CACHE_MAX_ENV, "0")   # no cache at all
    plain = load(root)
    same(cached, plain)


def test_lazy_second_epoch_reads_the_cache_in_a_worker_copy_too(tmp_path, monkeypatch, decodes):
    monkeypatch.setattr(image_folder, "MAX_IN_MEMORY_BYTES", 10)
    root = make_folder(tmp_path / "pets")
    data = load(root)
    assert not data.in_memory
    decodes.clear()
    epoch = [data.train_dataset[i][0] for i in range(len(data.train_dataset))]
    assert decodes == []                          # filled during the scan: no decode
    worker = pickle.loads(pickle.dumps(data.train_dataset))   # what a spawned worker gets
    again = [worker[i][0] for i in range(len(worker))]
    assert decodes == []
    for a, b in zip(epoch, again):
        assert torch.equal(a, b)
    direct = image_folder.decode(data.train_dataset.items[0][0], SHAPE, verify=False)
    assert np.array_equal(epoch[0].numpy(), direct)


def test_an_empty_slot_is_decoded_once_then_read(tmp_path, decodes, monkeypatch):
    monkeypatch.setattr(image_folder, "MAX_IN_MEMORY_BYTES", 10)
    data = load(make_folder(tmp_path / "pets"))
    ds = data.train_dataset
    ds.cache._filled[ds.slots[0]] = 0             # as if the slot was never written
    decodes.clear()
    first = ds[0][0]
    assert len(decodes) == 1
    assert torch.equal(ds[0][0], first) and len(decodes) == 1


@pytest.mark.parametrize("change", ["mtime", "size", "added", "removed", "renamed"])
def test_a_changed_folder_gets_a_new_cache(tmp_path, decodes, cache_dir, change):
    root = make_folder(tmp_path / "pets")
    load(root)
    old = cache_files(cache_dir)
    target = root / "cat" / "0.png"
    if change == "mtime":
        st = target.stat()
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    elif change == "size":
        Image.fromarray(np.full((20, 16, 3), 7, np.uint8)).save(target)
    elif change == "added":
        Image.fromarray(np.zeros((20, 16, 3), np.uint8)).save(root / "dog" / "new.png")
    elif change == "removed":
        target.unlink()
    else:
        target.rename(root / "cat" / "0b.png")
    decodes.clear()
    fresh = load(root)
    expected = {"added": 13, "removed": 11}.get(change, 12)
    assert len(decodes) == expected               # nothing served from the stale cache
    assert len(cache_files(cache_dir)) == 2 and old[0] in cache_files(cache_dir)
    if change == "size":                          # the new pixels are the ones loaded
        decoded = image_folder.decode(target, SHAPE)
        all_images = torch.cat([fresh.train_images, fresh.val_images])
        assert any(torch.equal(img, torch.from_numpy(decoded)) for img in all_images)


def _corrupt(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "garbage":
        path.write_bytes(os.urandom(len(data)))
    elif how == "truncated":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "magic":
        data[: len(MAGIC)] = b"NOTCACHE"
        path.write_bytes(bytes(data))
    elif how == "huge":      # a header announcing a billion images, with a valid checksum
        key = path.name[: -len(image_cache.SUFFIX)]
        path.write_bytes(image_cache._header(bytes.fromhex(key), 10 ** 9, SHAPE)
                         + bytes(data[HEADER_BYTES:]))
    elif how == "shape":     # the same byte count, laid out as another shape
        key = path.name[: -len(image_cache.SUFFIX)]
        path.write_bytes(image_cache._header(bytes.fromhex(key), 12, (1, 12, 36))
                         + bytes(data[HEADER_BYTES:]))
    elif how == "checksum":
        data[40] ^= 0xFF                          # inside the key digest: the CRC no longer matches
        path.write_bytes(bytes(data))
    elif how == "empty":
        path.write_bytes(b"")


@pytest.mark.parametrize("how", ["garbage", "truncated", "magic", "huge", "shape", "checksum", "empty"])
def test_a_damaged_cache_file_is_rebuilt_not_trusted(tmp_path, decodes, cache_dir, how):
    root = make_folder(tmp_path / "pets")
    first = load(root)
    (path,) = cache_files(cache_dir)
    size = path.stat().st_size
    _corrupt(path, how)
    decodes.clear()
    again = load(root)
    assert len(decodes) == 12                     # every image decoded again
    same(first, again)
    assert path.exists() and path.stat().st_size == size
    decodes.clear()
    same(first, load(root))                       # and the rebuilt file is used
    assert decodes == []


def test_the_size_cap_evicts_the_oldest(tmp_path, cache_dir, monkeypatch):
    one = DecodedCache.open("aa" * 32, 12, SHAPE)
    size = one.path.stat().st_size
    monkeypatch.setenv(image_cache.CACHE_MAX_ENV, str(int(size * 2.5)))
    first = one.path
    os.utime(first, ns=(1, 1_000_000_000))        # the oldest
    second = DecodedCache.open("bb" * 32, 12, SHAPE).path
    os.utime(second, ns=(1, 2_000_000_000))
    third = DecodedCache.open("cc" * 32, 12, SHAPE).path
    assert not first.exists() and second.exists() and third.exists()


def test_a_dataset_bigger_than_the_cap_is_loaded_without_a_cache(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv(image_cache.CACHE_MAX_ENV, "1000")
    data = load(make_folder(tmp_path / "pets"))
    assert data.num_train + data.num_val == 12 and cache_files(cache_dir) == []


def test_an_unwritable_cache_folder_means_no_cache_not_an_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    monkeypatch.setenv(image_cache.CACHE_DIR_ENV, str(blocker / "decoded"))   # under a file
    data = load(make_folder(tmp_path / "pets"))
    assert data.num_train + data.num_val == 12


def test_slots_written_by_one_mapping_are_seen_by_another():
    a = DecodedCache.open("dd" * 32, 4, SHAPE)
    b = DecodedCache.open("dd" * 32, 4, SHAPE)
    image = np.arange(np.prod(SHAPE), dtype=np.uint8).reshape(SHAPE)
    assert b.get(2) is None
    a.put(2, image)
    assert np.array_equal(b.get(2), image) and b.filled == 1
    a.put(1, image[:1])                          # a wrong shape is never written
    assert b.get(1) is None


def test_the_key_covers_shape_settings_and_order(tmp_path):
    root = make_folder(tmp_path / "pets", per_class=2)
    files = sorted(root.rglob("*.png"))
    base = dataset_key(files, SHAPE)
    assert dataset_key(files, SHAPE) == base
    assert dataset_key(files, (1, 12, 12)) != base
    assert dataset_key(files, SHAPE, "other") != base
    assert dataset_key(list(reversed(files)), SHAPE) != base


def test_the_parallel_prescan_fills_the_cache_and_reports_bad_files(tmp_path, monkeypatch, decodes):
    from visionstudio.core.data import image_parallel

    root = make_folder(tmp_path / "pets")
    (root / "cat" / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (root / "dog" / "cut.png").write_bytes((root / "dog" / "0.png").read_bytes()[:60])
    monkeypatch.setattr(image_parallel, "workers_for", lambda todo, workers=None: 2)
    parallel = load(root)                          # decoded in two worker processes
    assert decodes == []                           # (none of it in this process)
    monkeypatch.setattr(image_parallel, "workers_for", lambda todo, workers=None: 0)
    monkeypatch.setenv(image_cache.CACHE_MAX_ENV, "0")
    plain = load(root)                             # one process, no cache
    same(parallel, plain)
    assert sorted(map(str, parallel.skipped_files)) == sorted(map(str, plain.skipped_files))
    assert {p.name for p, _ in parallel.skipped_files} == {"junk.png", "cut.png"}
    monkeypatch.delenv(image_cache.CACHE_MAX_ENV)
    decodes.clear()
    again = load(root)                             # the slots the workers wrote are read
    same(parallel, again)
    assert sorted(p.name for p in decodes) == ["cut.png", "junk.png"]   # only the bad ones retried
