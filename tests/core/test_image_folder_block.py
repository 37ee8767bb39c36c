"""The in-memory set of an image folder is one uint8 block decoded into, never a list of
images stacked into a second copy; its size is checked against the memory still free."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from visionstudio.core.data import image_memory
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.data.image_cache import DecodedCache
from visionstudio.core.data.image_memory import fits_in_memory, pack_rows
from visionstudio.core.data.registry import load_dataset
from visionstudio.core.memory import AvailableMemory


def _folder(root, per_class=6, classes=3):
    """Class k, file i: a flat PNG of value 40*k + i, so each row says where it came from."""
    for k in range(classes):
        (root / f"c{k}").mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(np.full((8, 8, 3), 40 * k + i, np.uint8)).save(root / f"c{k}" / f"{i}.png")
    return root


def _load(folder, val_folder="", **kwargs):
    return load_dataset(DatasetConfig("image_folder", {"folder": str(folder), "val_folder": str(val_folder)}),
                        target_shape=(3, 8, 8), **kwargs)


def _no_stacking(monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("the in-memory set was stacked into a second copy")
    for module, name in ((np, "stack"), (torch, "stack"), (torch, "cat")):
        monkeypatch.setattr(module, name, refuse)


def _rows_match_labels(images, labels):
    values = images[:, 0, 0, 0].to(torch.int64)
    assert torch.equal(values // 40, labels)          # every row kept its own label
    assert torch.all(images == images[:, :1, :1, :1])  # and is one whole image


def test_split_set_is_two_views_of_one_block_never_stacked(tmp_path, monkeypatch):
    root = _folder(tmp_path / "pets")
    _no_stacking(monkeypatch)
    data = _load(root, val_split=0.34, seed=3)
    assert data.num_train + data.num_val == 18 and data.num_val > 0
    # neighbours in one block: the validation rows start where the training rows end
    assert data.train_images.data_ptr() + data.train_images.numel() == data.val_images.data_ptr()
    _rows_match_labels(data.train_images, data.train_labels)
    _rows_match_labels(data.val_images, data.val_labels)
    values = sorted(data.train_images[:, 0, 0, 0].tolist() + data.val_images[:, 0, 0, 0].tolist())
    assert values == sorted(40 * k + i for k in range(3) for i in range(6))


def test_validation_folder_rows_follow_the_training_rows(tmp_path, monkeypatch):
    train, val = _folder(tmp_path / "train", per_class=4), _folder(tmp_path / "val", per_class=2)
    (val / "c1" / "0.png").write_bytes(b"not an image")
    _no_stacking(monkeypatch)
    data = _load(train, val)
    assert data.num_train == 12 and data.num_val == 5
    _rows_match_labels(data.train_images, data.train_labels)
    _rows_match_labels(data.val_images, data.val_labels)
    assert data.train_images.data_ptr() + data.train_images.numel() == data.val_images.data_ptr()
    assert sorted(data.val_images[:, 0, 0, 0].tolist()) == [0, 1, 41, 80, 81]


def test_a_set_over_a_quarter_of_free_memory_is_read_lazily(tmp_path, monkeypatch):
    root = _folder(tmp_path / "pets")
    need = 18 * 3 * 8 * 8
    monkeypatch.setattr(image_memory, "host_available",
                        lambda: AvailableMemory(need * 4 - 1, "this machine", "test"))
    data = _load(root, val_split=0.0)
    assert data.train_images is None and len(data.train_dataset) == 18
    monkeypatch.setattr(image_memory, "host_available",
                        lambda: AvailableMemory(need * 4, "this machine", "test"))
    assert _load(root, val_split=0.0).train_images.shape == (18, 3, 8, 8)


def test_fits_in_memory_takes_the_cap_and_the_free_share():
    assert fits_in_memory(100, cap=100, available=400)
    assert not fits_in_memory(101, cap=100, available=10 ** 9)
    assert not fits_in_memory(100, cap=10 ** 9, available=399)


@pytest.mark.parametrize("seed", range(4))
def test_pack_rows_moves_rows_in_place_like_fancy_indexing(seed):
    rng = np.random.default_rng(seed)
    block = rng.integers(0, 255, (int(rng.integers(1, 40)), 2, 3), dtype=np.uint8)
    order = rng.permutation(len(block))[: int(rng.integers(0, len(block) + 1))].tolist()
    rest = [i for i in range(len(block)) if i not in order]
    expected = block[order + rest].copy()
    pack_rows(block, order)
    assert np.array_equal(block, expected)


def test_pack_rows_rejects_bad_orders():
    block = np.zeros((3, 2), np.uint8)
    with pytest.raises(ValueError):
        pack_rows(block, [0, 3])
    with pytest.raises(ValueError):
        pack_rows(block, [1, 1])


def test_released_cache_pages_keep_their_pixels(tmp_path):
    cache = DecodedCache.open("ab" * 32, 64, (3, 16, 16), folder=tmp_path, max_bytes=10 ** 8)
    for i in range(64):
        cache.put(i, np.full((3, 16, 16), i, np.uint8))
    cache.release(0, 64)
    assert all(int(cache.get(i)[2, 15, 15]) == i for i in range(64))
    cache.close()
