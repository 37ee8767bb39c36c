"""What a dataset loader hands the trainer, the errors it raises, and the checks that
tell a user whether their network fits the data.

A loader returns a ``LoadedDataset``: uint8 image tensors (N×C×H×W, CPU) when the data
fits in memory (the fast path the trainer keeps on the device), or two lazy
``torch.utils.data.Dataset`` objects yielding ``(uint8 C×H×W tensor, int label)`` when
it does not. Every failure a user can cause is a ``DatasetError`` whose message says
what is wrong and what to do.

This module is the leaf of the data package: loaders build on it, the registry
(``registry.py``: which datasets there are, ``load_dataset``) on them, and the fit
checks (``compat.py``) on the registry.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # reading a project must not load torch; loading data does
    import torch


Progress = Callable[[str, float], None]
Cancel = Callable[[], bool]

APP_DIR_NAME = "VisionStudio"
DATA_DIR_ENV = "VISIONSTUDIO_DATA_DIR"


class DatasetError(Exception):
    """A dataset that cannot be loaded; the message is for the user (what and what to do)."""


class DatasetCancelled(DatasetError):
    """Loading was stopped through the ``cancel`` callback."""

    def __init__(self, message: str = "Loading the dataset was cancelled.") -> None:
        super().__init__(message)


@dataclass
class LoadedDataset:
    train_images: torch.Tensor | None      # uint8, N×C×H×W, CPU (in-memory fast path)
    train_labels: torch.Tensor | None      # int64, N
    val_images: torch.Tensor | None
    val_labels: torch.Tensor | None
    class_names: list[str]
    mean: tuple[float, ...]                # per channel, for images scaled to [0, 1]
    std: tuple[float, ...]
    report: list[str]                      # notes for the user: skipped files, downloads, ...
    train_dataset: torch.utils.data.Dataset | None = None  # lazy path: (uint8 C×H×W, int)
    val_dataset: torch.utils.data.Dataset | None = None
    # Files left out (image folders): (path, reason). The report summarises them.
    skipped_files: list[tuple[Path, str]] = field(default_factory=list)
    # What the labels are (core/tasks TASK_KINDS): "classification" int64 (N,);
    # "regression" float32 (N, T) raw values named by target_names; "localization"
    # float32 (N, 5) rows [class, cx, cy, w, h] (box centre and size as fractions of the
    # image); "detection" float32 (N, M, 5) such rows, padded with rows of -1.
    task: str = "classification"
    target_names: list[str] = field(default_factory=list)

    @property
    def in_memory(self) -> bool:
        return self.train_images is not None

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        if self.train_images is not None:
            return tuple(int(d) for d in self.train_images.shape[1:])  # type: ignore[return-value]
        shape = getattr(self.train_dataset, "sample_shape", None)
        if shape is not None:
            return tuple(int(d) for d in shape)  # type: ignore[return-value]
        if self.train_dataset is not None and len(self.train_dataset) > 0:  # type: ignore[arg-type]
            return tuple(int(d) for d in self.train_dataset[0][0].shape)  # type: ignore[return-value]
        raise ValueError("the dataset is empty")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def num_train(self) -> int:
        if self.train_labels is not None:
            return int(self.train_labels.shape[0])
        return len(self.train_dataset) if self.train_dataset is not None else 0  # type: ignore[arg-type]

    @property
    def num_val(self) -> int:
        if self.val_labels is not None:
            return int(self.val_labels.shape[0])
        return len(self.val_dataset) if self.val_dataset is not None else 0  # type: ignore[arg-type]


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset will give, known without loading it (for early compatibility checks).

    ``sample_shape`` is None where the images follow the network's Input (image folders);
    ``num_classes`` is None where it cannot be known cheaply.
    """

    title: str
    sample_shape: tuple[int, int, int] | None
    num_classes: int | None
    channels: tuple[int, ...] = (1, 3)   # channel counts the dataset can produce
    task: str = "classification"         # what its labels are (see LoadedDataset.task)
    targets: int | None = None           # regression: values per image, when known


@dataclass(frozen=True)
class LoadContext:
    """Everything ``load_dataset`` passes to a loader besides the dataset's own params."""

    val_split: float = 0.1
    seed: int = 0
    data_dir: Path = field(default_factory=lambda: default_data_dir())
    target_shape: tuple[int, int, int] | None = None
    download: bool = True
    progress: Progress | None = None
    cancel: Cancel | None = None
    preprocessing: Any = None        # a Preprocessing: the pretrained weights' resize and crop

    def report_progress(self, message: str, fraction: float) -> None:
        if self.progress is not None:
            self.progress(message, min(1.0, max(0.0, float(fraction))))

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel():
            raise DatasetCancelled()


def default_data_dir() -> Path:
    """Where downloaded datasets live: ``$VISIONSTUDIO_DATA_DIR`` if set, else the user's
    data directory (XDG on Linux, %APPDATA% on Windows, Application Support on macOS)."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / APP_DIR_NAME / "data"


# -- helpers shared by loaders ---------------------------------------------------------

def channel_blocks(images: Any, chunk: int) -> Iterable[torch.Tensor]:
    """C×L blocks of about ``chunk`` values per channel (small images gathered, big ones
    split), one dtype per block; an empty batch gives an empty block (its channels count)."""
    import torch

    pending: list[torch.Tensor] = []      # C×L blocks waiting to fill a chunk
    waiting = 0
    for batch in images:
        batch = torch.as_tensor(batch)
        batch = batch.unsqueeze(0) if batch.dim() == 3 else batch
        if batch.dim() != 4:
            continue
        channels = int(batch.shape[1])
        if batch.numel() == 0:
            yield batch.new_empty((channels, 0))
            continue
        flat = batch.reshape(batch.shape[0], channels, -1)
        per = flat.shape[2]
        rows, cols = max(1, chunk // per), min(per, chunk)
        for i in range(0, flat.shape[0], rows):
            for j in range(0, per, cols):
                part = flat[i:i + rows, :, j:j + cols].transpose(0, 1).reshape(channels, -1)
                if pending and (part.dtype != pending[0].dtype or part.shape[0] != pending[0].shape[0]):
                    yield torch.cat(pending, dim=1)
                    pending, waiting = [], 0
                pending.append(part)
                waiting += part.shape[1]
                if waiting >= chunk:
                    yield torch.cat(pending, dim=1) if len(pending) > 1 else pending[0]
                    pending, waiting = [], 0
    if pending:
        yield torch.cat(pending, dim=1) if len(pending) > 1 else pending[0]


class ChannelTotals:
    """Per-channel sum and sum of squares of values scaled to [0, 1]: uint8 values counted
    into a 256-bin histogram (exact, no float copy), other dtypes summed in float32 blocks
    with float64 totals."""

    def __init__(self, channels: int) -> None:
        import torch

        self.hist = torch.zeros(channels, 256, dtype=torch.int64)
        self.sums = torch.zeros(channels, 2, dtype=torch.float64)
        self.count = 0

    def add(self, block: torch.Tensor) -> None:   # C×L
        import torch

        self.count += int(block.shape[1])
        if block.dtype == torch.uint8:
            for ch in range(block.shape[0]):
                self.hist[ch] += torch.bincount(block[ch], minlength=256)
        else:
            x = block.to(torch.float32).div_(255.0)
            self.sums[:, 0] += x.sum(dim=1).double()
            self.sums[:, 1] += x.square_().sum(dim=1).double()

    def mean_std(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        import torch

        values = torch.arange(256, dtype=torch.float64) / 255.0
        total = self.sums.clone()
        total[:, 0] += self.hist.double() @ values
        total[:, 1] += self.hist.double() @ values.square()
        mean = total[:, 0] / self.count
        var = (total[:, 1] / self.count - mean.square()).clamp_min(0.0)
        std = var.sqrt().clamp_min(1e-3)  # a blank channel must not divide by zero
        return tuple(float(m) for m in mean), tuple(float(s) for s in std)


def channel_stats(images: torch.Tensor | Iterable[torch.Tensor],
                  chunk: int = 1 << 22) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images, as if scaled to [0, 1].

    ``images`` is an N×C×H×W tensor or an iterable of C×H×W / N×C×H×W tensors, consumed
    one at a time (a lazy dataset's sample is streamed, never stacked). Values are taken
    in blocks of about ``chunk`` per channel, so memory stays bounded whatever the number
    and size of the images (800 images of 3×1024×1024 once took 24 GB as float64).
    """
    import torch

    totals: ChannelTotals | None = None
    for block in channel_blocks([images] if isinstance(images, torch.Tensor) else images, chunk):
        totals = totals or ChannelTotals(int(block.shape[0]))
        totals.add(block)
    if totals is None or totals.count == 0:
        channels = totals.hist.shape[0] if totals is not None else 1
        return (0.0,) * channels, (1.0,) * channels
    return totals.mean_std()


def stratified_split(labels: Sequence[int] | torch.Tensor, val_split: float,
                     seed: int) -> tuple[list[int], list[int]]:
    """Indices (train, val): each class split by ``val_split``, shuffled with ``seed``.

    A class with two or more items gives at least one to validation when val_split > 0.
    """
    import numpy as np

    labels_arr = np.asarray(labels.tolist() if hasattr(labels, "tolist") else labels)
    rng = np.random.default_rng(seed)
    train: list[int] = []
    val: list[int] = []
    for cls in sorted(set(labels_arr.tolist())):
        idx = np.flatnonzero(labels_arr == cls)
        idx = idx[rng.permutation(len(idx))]
        n_val = int(round(len(idx) * val_split)) if val_split > 0 else 0
        if val_split > 0 and n_val == 0 and len(idx) >= 2:
            n_val = 1
        n_val = min(n_val, len(idx) - 1) if len(idx) > 1 else 0
        val.extend(idx[:n_val].tolist())
        train.extend(idx[n_val:].tolist())
    return sorted(train), sorted(val)
