"""MNIST, Fashion-MNIST and CIFAR-10 through torchvision's own dataset classes.

Files live in torchvision's layout under the data folder (``<data>/MNIST/raw``,
``<data>/FashionMNIST/raw``, ``<data>/cifar-10-batches-py``), so a folder a user
already filled with torchvision works as it is. Missing files are downloaded by
torchvision's own code (checksums included) when allowed; every failure becomes a
DatasetError naming the files and the folder they belong in. The official test split
is the validation set. Images are converted once to uint8 tensors N×C×H×W.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.error import URLError

import numpy as np

from visionstudio.core.data.base import (
    DatasetError,
    DatasetInfo,
    LoadContext,
    LoadedDataset,
)

if TYPE_CHECKING:  # asking whether a set is on disk must not load torch (the GUI asks)
    import torch


@dataclass(frozen=True)
class TorchvisionSet:
    key: str
    title: str
    class_name: str                 # torchvision.datasets.<class_name>
    shape: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    files: tuple[str, ...]          # what a user must place by hand, relative to ``folder``
    folder: str                     # relative to the data folder
    source: str                     # where to get the files
    size: str                       # how much a download fetches, in the user's words


MNIST_SET = TorchvisionSet(
    "mnist", "MNIST", "MNIST", (1, 28, 28), (0.1307,), (0.3081,),
    ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
     "t10k-labels-idx1-ubyte"),
    "MNIST/raw", "https://ossci-datasets.s3.amazonaws.com/mnist/ (the .gz files, unpacked)",
    "about 12 MB")
FASHION_SET = TorchvisionSet(
    "fashion_mnist", "Fashion-MNIST", "FashionMNIST", (1, 28, 28), (0.2860,), (0.3530,),
    MNIST_SET.files, "FashionMNIST/raw",
    "https://github.com/zalandoresearch/fashion-mnist (the .gz files, unpacked)", "about 30 MB")
CIFAR10_SET = TorchvisionSet(
    "cifar10", "CIFAR-10", "CIFAR10", (3, 32, 32), (0.4914, 0.4822, 0.4465),
    (0.2470, 0.2435, 0.2616),
    ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
     "test_batch", "batches.meta"),
    "cifar-10-batches-py",
    "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (unpack it there)", "about 170 MB")

SETS = {s.key: s for s in (MNIST_SET, FASHION_SET, CIFAR10_SET)}

# Tests may swap a class here (e.g. a CIFAR10 subclass with the checksum check off for
# tiny fake batches); product code always uses torchvision's classes.
DATASET_CLASSES: dict[str, Any] = {}


def dataset_class(info: TorchvisionSet) -> Any:
    if info.key in DATASET_CLASSES:
        return DATASET_CLASSES[info.key]
    import torchvision.datasets as tvd

    return getattr(tvd, info.class_name)


def _missing_message(info: TorchvisionSet, root: Path, why: str) -> str:
    folder = root / info.folder
    return (f"{why} Download {info.title} from {info.source} and put these files in "
            f"{folder}: {', '.join(info.files)}. Or allow downloads and try again.")


def _with_progress(cls: Any, info: TorchvisionSet, ctx: LoadContext) -> Any:
    """A subclass of ``cls`` whose download reports per-file progress (MNIST family).

    torchvision names the raw folder after the class, so the subclass keeps the name.
    """
    resources = getattr(cls, "resources", None)
    if not resources:
        return cls

    def download(self: Any) -> None:
        all_resources = list(type(self).resources)
        try:
            for i, resource in enumerate(all_resources):
                ctx.check_cancel()
                ctx.report_progress(f"Downloading {info.title}: {resource[0]}", i / len(all_resources))
                self.resources = [resource]  # the stock download skips files already there
                cls.download(self)
        finally:
            self.__dict__.pop("resources", None)
        ctx.report_progress(f"Downloaded {info.title}", 1.0)

    return type(cls.__name__, (cls,), {"download": download, "__module__": cls.__module__})


def _open(cls: Any, root: Path, train: bool, download: bool) -> Any:
    return cls(str(root), train=train, download=download)


def files_present(info: TorchvisionSet, root: Path) -> bool:
    """Whether every file a load needs is on disk: existence only (no torch, no reading),
    cheap enough to ask on the GUI thread. Damaged files still fail at load time."""
    folder = Path(root) / info.folder
    return all((folder / name).is_file() for name in info.files)


def _failure(info: TorchvisionSet, root: Path, exc: BaseException, downloading: bool) -> DatasetError:
    """The user's words for what went wrong opening or fetching ``info``."""
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if downloading and isinstance(exc, (URLError, OSError, RuntimeError)):
        return DatasetError(_missing_message(
            info, root, f"Could not download {info.title} (no network?): {detail}."))
    return DatasetError(f"{info.title} in {root / info.folder} could not be read ({detail}). "
                        f"Delete the folder and download it again.")


def download(info: TorchvisionSet, ctx: LoadContext) -> None:
    """Fetch ``info``'s files into the data folder with torchvision's own download code
    (its URLs and checksums), reporting per file where torchvision fetches several;
    ``ctx.cancel`` stops it between files (DatasetCancelled)."""
    root = Path(ctx.data_dir)
    ctx.report_progress(f"Downloading {info.title} ({info.size})…", 0.0)
    try:
        root.mkdir(parents=True, exist_ok=True)
        _open(_with_progress(dataset_class(info), info, ctx), root, True, True)
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001 - network and file errors alike become the user's words
        raise _failure(info, root, exc, downloading=True) from None
    ctx.report_progress(f"Downloaded {info.title}", 1.0)


def _read(cls: Any, info: TorchvisionSet, root: Path, ctx: LoadContext) -> tuple[Any, Any]:
    """The train and test splits as torchvision reads them (with CIFAR's checksums)."""
    ctx.check_cancel()
    train = _open(cls, root, True, False)
    ctx.check_cancel()
    ctx.report_progress(f"Reading {info.title} test split…", 0.8)
    return train, _open(cls, root, False, False)


def load_torchvision(info: TorchvisionSet, ctx: LoadContext) -> LoadedDataset:
    root = Path(ctx.data_dir)
    base_cls = dataset_class(info)
    report: list[str] = []
    ctx.report_progress(f"Opening {info.title}…", 0.0)
    if not files_present(info, root):
        if not ctx.download:
            raise DatasetError(_missing_message(
                info, root, f"{info.title} is not in {root / info.folder.split('/')[0]} "
                            f"and downloading is turned off."))
        download(info, ctx)
        report.append(f"Downloaded {info.title} to {root}.")
    try:
        try:
            train, test = _read(base_cls, info, root, ctx)
        except RuntimeError:   # torchvision's "not found or corrupted": fetch it again
            if not ctx.download or report:
                raise
            download(info, ctx)
            report.append(f"Downloaded {info.title} to {root}.")
            train, test = _read(base_cls, info, root, ctx)
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001 - a corrupt file: unpickling, parsing, checksum errors
        raise _failure(info, root, exc, downloading=False) from None
    train_images, train_labels = _to_tensors(train)
    val_images, val_labels = _to_tensors(test)
    classes = [str(c) for c in getattr(train, "classes", [])] or [str(i) for i in range(10)]
    report.insert(0, f"{info.title}: {len(train_labels)} training and {len(val_labels)} test "
                     f"images (the test split is used for validation).")
    ctx.report_progress(f"{info.title} ready", 1.0)
    return LoadedDataset(train_images, train_labels, val_images, val_labels, classes,
                         info.mean, info.std, report)


def _to_tensors(ds: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 N×C×H×W, int64 N) from a torchvision dataset's ``data``/``targets``."""
    import torch

    data = ds.data
    if isinstance(data, np.ndarray):
        data = torch.from_numpy(np.ascontiguousarray(data))
    data = data.to(torch.uint8)
    if data.dim() == 3:      # MNIST: N×H×W
        images = data.unsqueeze(1).contiguous()
    else:                    # CIFAR: N×H×W×C
        images = data.permute(0, 3, 1, 2).contiguous()
    targets = ds.targets
    labels = torch.as_tensor(np.asarray(targets), dtype=torch.int64) if not isinstance(
        targets, torch.Tensor) else targets.to(torch.int64)
    return images, labels.clone()


def make_loader(key: str):
    """(loader, describe, present, fetch) for the registry's spec of set ``key``."""
    info = SETS[key]

    def loader(params: dict, ctx: LoadContext) -> LoadedDataset:
        return load_torchvision(info, ctx)

    def describe(params: dict) -> DatasetInfo:
        return DatasetInfo(info.title, info.shape, 10, channels=(info.shape[0],))

    def present(params: dict, root: Path) -> bool:
        return files_present(info, root)

    def fetch(params: dict, ctx: LoadContext) -> None:
        download(info, ctx)

    return loader, describe, present, fetch
