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
from typing import Any
from urllib.error import URLError

import numpy as np
import torch

from visionstudio.core.data.base import DatasetError, DatasetInfo, LoadContext, LoadedDataset


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


MNIST_SET = TorchvisionSet(
    "mnist", "MNIST", "MNIST", (1, 28, 28), (0.1307,), (0.3081,),
    ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
     "t10k-labels-idx1-ubyte"),
    "MNIST/raw", "https://ossci-datasets.s3.amazonaws.com/mnist/ (the .gz files, unpacked)")
FASHION_SET = TorchvisionSet(
    "fashion_mnist", "Fashion-MNIST", "FashionMNIST", (1, 28, 28), (0.2860,), (0.3530,),
    MNIST_SET.files, "FashionMNIST/raw",
    "https://github.com/zalandoresearch/fashion-mnist (the .gz files, unpacked)")
CIFAR10_SET = TorchvisionSet(
    "cifar10", "CIFAR-10", "CIFAR10", (3, 32, 32), (0.4914, 0.4822, 0.4465),
    (0.2470, 0.2435, 0.2616),
    ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
     "test_batch", "batches.meta"),
    "cifar-10-batches-py",
    "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (unpack it there)")

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


def load_torchvision(info: TorchvisionSet, ctx: LoadContext) -> LoadedDataset:
    root = Path(ctx.data_dir)
    base_cls = dataset_class(info)
    report: list[str] = []
    ctx.report_progress(f"Opening {info.title}…", 0.0)
    try:
        try:
            train = _open(base_cls, root, True, False)
        except RuntimeError:
            if not ctx.download:
                raise DatasetError(_missing_message(
                    info, root, f"{info.title} is not in {root / info.folder.split('/')[0]} "
                                f"and downloading is turned off.")) from None
            root.mkdir(parents=True, exist_ok=True)
            report.append(f"Downloaded {info.title} to {root}.")
            ctx.report_progress(f"Downloading {info.title}…", 0.0)
            train = _open(_with_progress(base_cls, info, ctx), root, True, True)
        ctx.check_cancel()
        ctx.report_progress(f"Reading {info.title} test split…", 0.8)
        test = _open(base_cls, root, False, False)
    except DatasetError:
        raise
    except (URLError, OSError, RuntimeError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatasetError(_missing_message(
            info, root, f"Could not download {info.title} (no network?): {detail}.")) from None
    except Exception as exc:  # a corrupt file: unpickling / parsing errors
        raise DatasetError(f"{info.title} in {root / info.folder} could not be read "
                           f"({type(exc).__name__}: {exc}). Delete the folder and download it "
                           f"again.") from None
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
    info = SETS[key]

    def loader(params: dict, ctx: LoadContext) -> LoadedDataset:
        return load_torchvision(info, ctx)

    def describe(params: dict) -> DatasetInfo:
        return DatasetInfo(info.title, info.shape, 10, channels=(info.shape[0],))

    return loader, describe
