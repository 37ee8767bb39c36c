"""MNIST, Fashion-MNIST and CIFAR-10 through torchvision's real code path, on tiny
fake files in the real on-disk formats. No test touches the network."""

from __future__ import annotations

import os
import pickle
import socket
import struct
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
import torchvision.datasets as tvd

from visionstudio.core.data import torchvision_sets
from visionstudio.core.data.base import DatasetCancelled, DatasetError
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.data.registry import download_dataset, is_downloaded, load_dataset

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to use the network")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def write_idx_images(path: Path, images: np.ndarray) -> None:
    n, h, w = images.shape
    path.write_bytes(struct.pack(">IIII", 0x0803, n, h, w) + images.astype(np.uint8).tobytes())


def write_idx_labels(path: Path, labels: np.ndarray) -> None:
    path.write_bytes(struct.pack(">II", 0x0801, len(labels)) + labels.astype(np.uint8).tobytes())


def idx_content(name: str, n_train: int = 12, n_test: int = 5) -> tuple[str, np.ndarray]:
    """(kind, array) for one of the four MNIST raw files, deterministic."""
    train = name.startswith("train")
    n = n_train if train else n_test
    rng = np.random.default_rng(0 if train else 1)
    if "images" in name:
        return "images", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    return "labels", np.arange(n) % 10


def write_fake_mnist(root: Path, folder: str) -> Path:
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in IDX_FILES:
        kind, arr = idx_content(name)
        (write_idx_images if kind == "images" else write_idx_labels)(raw / name, arr)
    return raw


def write_fake_cifar(root: Path, per_batch: int = 4, test: int = 3) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    batches = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in batches:
        n = test if name == "test_batch" else per_batch
        entry = {"batch_label": name.encode(), "labels": [int(v) for v in rng.integers(0, 10, n)],
                 "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 "filenames": [f"{i}.png".encode() for i in range(n)]}
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": names, "num_cases_per_batch": per_batch, "num_vis": 3072}, f)
    return folder


class UncheckedCIFAR10(tvd.CIFAR10):
    """CIFAR10 with the MD5 checks off, for tiny fake batches in tests only."""

    def _check_integrity(self) -> bool:
        return all(os.path.exists(os.path.join(self.root, self.base_folder, f))
                   for f, _ in self.train_list + self.test_list)

    def _load_meta(self) -> None:
        with open(os.path.join(self.root, self.base_folder, self.meta["filename"]), "rb") as f:
            self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}


@pytest.mark.parametrize("key, folder, first_class", [
    ("mnist", "MNIST", "0 - zero"), ("fashion_mnist", "FashionMNIST", "T-shirt/top")])
def test_fake_idx_files_load_through_torchvision(tmp_path, key, folder, first_class):
    write_fake_mnist(tmp_path, folder)
    data = load_dataset(DatasetConfig(key), data_dir=tmp_path, download=False)
    assert data.in_memory and data.sample_shape == (1, 28, 28)
    assert data.train_images.dtype == torch.uint8 and data.train_images.shape == (12, 1, 28, 28)
    assert data.val_images.shape == (5, 1, 28, 28)
    assert data.train_labels.dtype == torch.int64
    assert data.train_labels.tolist() == [i % 10 for i in range(12)]
    _, expected = idx_content("train-images-idx3-ubyte")
    assert torch.equal(data.train_images[:, 0], torch.from_numpy(expected))
    assert data.class_names[0] == first_class and data.num_classes == 10
    assert len(data.mean) == 1 and len(data.std) == 1


def test_mnist_download_reports_progress_per_file(tmp_path, monkeypatch):
    """The download path runs torchvision's own MNIST.download; only the network
    transfer is replaced by writing the unpacked file."""
    fetched = []

    def fake_download(url, download_root, filename=None, md5=None, **kwargs):
        fetched.append(filename)
        name = filename[:-3]  # strip .gz: what extraction leaves behind
        kind, arr = idx_content(name)
        (write_idx_images if kind == "images" else write_idx_labels)(Path(download_root) / name, arr)

    monkeypatch.setattr("torchvision.datasets.mnist.download_and_extract_archive", fake_download)
    progress = []
    data = load_dataset(DatasetConfig("mnist"), data_dir=tmp_path,
                        progress=lambda msg, frac: progress.append((msg, frac)))
    assert fetched == [f + ".gz" for f in IDX_FILES]
    assert data.train_images.shape == (12, 1, 28, 28)
    fractions = [f for _, f in progress]
    assert fractions == sorted(fractions) or fractions[-1] == 1.0
    assert any("Downloading MNIST: train-images" in m for m, _ in progress)
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert any("Downloaded MNIST" in line for line in data.report)
    assert (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").exists()


@pytest.mark.parametrize("key, module, folder", [
    ("mnist", "mnist", "MNIST"), ("fashion_mnist", "mnist", "FashionMNIST"),
    ("cifar10", "cifar", "cifar-10-batches-py")])
def test_offline_and_missing_names_the_folder(tmp_path, monkeypatch, key, module, folder):
    def offline(*args, **kwargs):
        raise URLError("[Errno -3] Temporary failure in name resolution")
    monkeypatch.setattr(f"torchvision.datasets.{module}.download_and_extract_archive", offline)
    with pytest.raises(DatasetError) as info:
        load_dataset(DatasetConfig(key), data_dir=tmp_path, download=True)
    text = str(info.value)
    assert "Could not download" in text and "no network" in text
    assert str(tmp_path / folder) in text
    assert ("train-images-idx3-ubyte" if module == "mnist" else "data_batch_1") in text


@pytest.mark.parametrize("key, folder", [("mnist", "MNIST"), ("cifar10", "cifar-10-batches-py")])
def test_missing_without_download_says_what_and_where(tmp_path, monkeypatch, key, folder):
    def never(*args, **kwargs):
        raise AssertionError("download attempted although download=False")
    monkeypatch.setattr("torchvision.datasets.mnist.download_and_extract_archive", never)
    monkeypatch.setattr("torchvision.datasets.cifar.download_and_extract_archive", never)
    with pytest.raises(DatasetError) as info:
        load_dataset(DatasetConfig(key), data_dir=tmp_path, download=False)
    text = str(info.value)
    assert "downloading is turned off" in text and str(tmp_path / folder) in text


def test_fake_cifar_batches_load_with_checksums_disabled_in_the_test(tmp_path, monkeypatch):
    write_fake_cifar(tmp_path)
    monkeypatch.setitem(torchvision_sets.DATASET_CLASSES, "cifar10", UncheckedCIFAR10)
    data = load_dataset(DatasetConfig("cifar10"), data_dir=tmp_path, download=False)
    assert data.train_images.shape == (20, 3, 32, 32) and data.val_images.shape == (3, 3, 32, 32)
    assert data.train_images.dtype == torch.uint8 and data.train_images.is_contiguous()
    assert data.class_names[0] == "airplane" and data.num_classes == 10
    assert len(data.mean) == 3
    # Channel order: CIFAR rows are R plane, G plane, B plane of 32x32 each.
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "rb") as f:
        first = pickle.load(f)["data"][0]
    assert torch.equal(data.train_images[0], torch.from_numpy(first.reshape(3, 32, 32)))


def test_product_code_keeps_the_cifar_checksum(tmp_path, monkeypatch):
    """Fake batches fail torchvision's MD5 check outside the test's subclass."""
    write_fake_cifar(tmp_path)
    with pytest.raises(DatasetError) as info:
        load_dataset(DatasetConfig("cifar10"), data_dir=tmp_path, download=False)
    assert str(tmp_path / "cifar-10-batches-py") in str(info.value)


# -- on disk or not, and the download on its own (issue #13: the preview's Download) --------


def fake_mnist_fetch(monkeypatch, fetched: list, before=None) -> None:
    """torchvision's MNIST.download runs as it is; only the transfer writes the unpacked file."""
    def fetch(url, download_root, filename=None, md5=None, **kwargs):
        if before is not None:
            before(filename)
        fetched.append(filename)
        name = filename[:-3]
        kind, arr = idx_content(name)
        (write_idx_images if kind == "images" else write_idx_labels)(Path(download_root) / name, arr)
    monkeypatch.setattr("torchvision.datasets.mnist.download_and_extract_archive", fetch)


def test_is_downloaded_is_a_file_check(tmp_path):
    assert not is_downloaded(DatasetConfig("mnist"), tmp_path)
    assert not is_downloaded(DatasetConfig("cifar10"), tmp_path)
    write_fake_mnist(tmp_path, "MNIST")
    assert is_downloaded(DatasetConfig("mnist"), tmp_path)
    assert not is_downloaded(DatasetConfig("fashion_mnist"), tmp_path)
    (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    assert not is_downloaded(DatasetConfig("mnist"), tmp_path)
    assert is_downloaded(DatasetConfig("shapes"), tmp_path)       # made on the spot


def test_asking_whether_a_set_is_downloaded_loads_no_torch(tmp_path):
    """The panel asks on the GUI thread each time a dataset is chosen."""
    import subprocess
    import sys

    code = ("import sys\nfrom visionstudio.core.data.config import DatasetConfig\n"
            "from visionstudio.core.data.registry import is_downloaded\n"
            f"assert not is_downloaded(DatasetConfig('cifar10'), {str(tmp_path)!r})\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_download_dataset_fetches_every_file_with_progress(tmp_path, monkeypatch):
    fetched, progress = [], []
    fake_mnist_fetch(monkeypatch, fetched)
    download_dataset(DatasetConfig("mnist"), data_dir=tmp_path,
                     progress=lambda text, fraction: progress.append((text, fraction)))
    assert fetched == [f + ".gz" for f in IDX_FILES]
    assert is_downloaded(DatasetConfig("mnist"), tmp_path)
    assert progress[0] == ("Downloading MNIST (about 12 MB)…", 0.0)
    assert [f for t, f in progress if t.startswith("Downloading MNIST: ")] == [0.0, 0.25, 0.5, 0.75]
    assert progress[-1] == ("Downloaded MNIST", 1.0)


def test_download_dataset_stops_between_files_when_cancelled(tmp_path, monkeypatch):
    fetched = []
    fake_mnist_fetch(monkeypatch, fetched)
    with pytest.raises(DatasetCancelled):
        download_dataset(DatasetConfig("mnist"), data_dir=tmp_path, cancel=lambda: len(fetched) >= 1)
    assert fetched == ["train-images-idx3-ubyte.gz"]
    assert not is_downloaded(DatasetConfig("mnist"), tmp_path)


def test_download_of_a_set_without_one_says_so(tmp_path):
    with pytest.raises(DatasetError, match="needs no download"):
        download_dataset(DatasetConfig("shapes"), data_dir=tmp_path)


def test_corrupt_idx_files_say_so_in_words(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in IDX_FILES:
        (raw / name).write_bytes(b"garbage")
    with pytest.raises(DatasetError) as info:
        load_dataset(DatasetConfig("mnist"), data_dir=tmp_path, download=False)
    text = str(info.value)
    assert "could not be read" in text and str(raw) in text and "download it again" in text
    assert ": )" not in text
