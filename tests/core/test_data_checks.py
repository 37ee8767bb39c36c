"""Dataset checks find exactly the planted duplicates, leaks, unreadable files and imbalance;
an unchanged folder comes from the cache, a changed file is checked again."""

from __future__ import annotations

import os

import pytest

from tests.core.data_check_folders import planted_folder
from visionstudio.core.data.checks import check_dataset, last_result, train_warning
from visionstudio.core.data.checks_hash import near_pairs
from visionstudio.core.data.config import DatasetConfig


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("VISIONSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _config(planted) -> DatasetConfig:
    return DatasetConfig.from_dict({"key": "image_folder", "params": {
        "folder": str(planted["train"]), "val_folder": str(planted["val"])}})


def test_planted_folder_gets_exactly_those_findings(tmp_path, cache_dir):
    planted = planted_folder(tmp_path / "data")
    result = check_dataset(_config(planted))
    kinds = {f.kind: f for f in result.findings}
    assert set(kinds) == {"unreadable", "exact_duplicates", "near_duplicates", "leakage", "imbalance"}
    assert kinds["unreadable"].groups == [[planted["broken"]]]
    assert sorted(map(sorted, kinds["exact_duplicates"].groups)) == sorted(planted["exact"])
    assert kinds["exact_duplicates"].count == 3
    assert kinds["exact_duplicates"].detail["groups_with_identical_files"] == 1
    assert sorted(map(sorted, kinds["near_duplicates"].groups)) == sorted(planted["near"])
    leak = kinds["leakage"]
    assert leak.count == 2 and leak.detail == {"exact": 1, "near": 1} and leak.warns
    assert leak.message == "validation images that leak from training: 2 (exact 1, near 1)"
    assert {g[0]: g[1] for g in leak.groups} == planted["leaks"]
    assert result.class_names == ["bird", "cat", "dog"] and result.class_counts == [1, 15, 4]
    assert kinds["imbalance"].warns and kinds["imbalance"].detail["smallest"] == "bird"
    assert result.histograms["channels"] == {"3": 20}
    assert len(result.class_means[1]) == 3 and len(result.class_means[1][0]) == 32
    assert not result.cached


def test_cache_hit_and_invalidation(tmp_path, cache_dir):
    planted = planted_folder(tmp_path / "data")
    config = _config(planted)
    first = check_dataset(config)
    again = check_dataset(config)
    assert again.cached and again.findings == first.findings
    remembered = last_result(config, 0.1, 0)
    assert remembered is not None and [f.kind for f in remembered.warnings] == ["leakage", "imbalance"]
    warning = train_warning(config, 0.1, 0)
    assert warning is not None and "leak from training: 2" in warning and "imbalance" in warning
    assert train_warning(config, 0.2, 0) is None          # another split: never checked
    broken = planted["broken"]
    os.remove(broken)
    changed = check_dataset(config)
    assert not changed.cached and changed.finding("unreadable") is None


def test_old_results_are_pruned(tmp_path, cache_dir):
    from visionstudio.core.data import checks

    folder = checks.checks_folder()
    folder.mkdir(parents=True)
    for i in range(checks.KEEP_RESULTS + 5):
        path = folder / f"old{i}.json"
        path.write_text("{}")
        os.utime(path, ns=(i * 10**9, i * 10**9))
    checks._prune(folder)
    names = {p.name for p in folder.iterdir()}
    assert len(names) == checks.KEEP_RESULTS and "old0.json" not in names and "old68.json" in names


def test_auto_split_uses_the_training_split(tmp_path, cache_dir):
    """Without a validation folder the split is stratified_split's, as in training: a copy
    lands in validation only when training would put it there."""
    planted = planted_folder(tmp_path / "data")
    config = DatasetConfig.from_dict({"key": "image_folder", "params": {"folder": str(planted["train"])}})
    result = check_dataset(config, val_split=0.5, seed=3)
    exact = result.finding("exact_duplicates")
    assert exact is not None and exact.count == 2          # the validation folder is not read
    assert result.images == 17
    pairs = planted["exact"][:2] + planted["near"][:2]     # the pairs inside the training folder
    leak = result.finding("leakage")
    for group in (leak.groups if leak else []):
        assert any(sorted(group) == pair for pair in pairs)


def test_band_search_finds_every_pair_within_three_bits():
    base = 0x0123456789ABCDEF
    spread = base ^ (1 << 3) ^ (1 << 20) ^ (1 << 40)      # 3 bits, one in each of three bands
    far = base ^ 0xF0F0                                   # 8 bits
    assert near_pairs([base, spread, far, base]) == [(0, 3), (0, 1)]
    with pytest.raises(ValueError):
        near_pairs([base], distance=4)


def test_builtin_set_is_checked_from_its_tensors(cache_dir):
    config = DatasetConfig.from_dict({"key": "shapes", "params": {
        "samples": 40, "val_samples": 10, "image_size": 8, "classes": 4}})
    result = check_dataset(config)
    assert result.images == 50 and sum(result.class_counts) == 50
    assert all(g[0].startswith(("training #", "validation #")) for f in result.findings for g in f.groups)


def test_cancel_stops_the_check_and_caches_nothing(tmp_path, cache_dir):
    from visionstudio.core.data.base import DatasetCancelled

    planted = planted_folder(tmp_path / "data")
    with pytest.raises(DatasetCancelled):
        check_dataset(_config(planted), cancel=lambda: True)
    assert last_result(_config(planted), 0.1, 0) is None


def test_oversized_header_is_refused_before_decoding(tmp_path):
    """A PNG whose header announces 60 MP (a few hundred bytes on disk) is never decoded."""
    import struct
    import zlib

    from visionstudio.core.data.checks_hash import fingerprint

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = tmp_path / "bomb.png"
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 10_000, 6_000, 8, 2, 0, 0, 0))
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + header
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    record, thumb = fingerprint(bomb)
    assert thumb is None and record["problem"].startswith("too large: 10000×6000 pixels")
