"""Getting batches onto the device.

Fast path (in-memory datasets): the images are converted once to normalised float
tensors kept on the device; each epoch is a ``randperm`` and batches are index_select
calls — no DataLoader, no per-batch host round trip. Augmentation runs on the device,
a batch at a time. Lazy datasets (too big for memory) go through a DataLoader with
worker processes (and pinned memory on CUDA), then the same on-device normalisation.
Both paths draw their order from the same CPU generator, so a run is reproducible and
can resume mid-epoch.

Labels come in the layout of the dataset's task (LoadedDataset.task): integer classes
(N,), or float targets (N, T), (N, 5), (N, M, 5). Integer labels are kept int64 and float
ones float32; lazy datasets may yield an int or a target tensor per image, and collate
stacks whichever it gets. A ``TargetAugment`` (boxes: core/tasks/box_augment.py) moves
the targets with the images; a plain augmentation leaves them as they are.

Files of a lazy dataset can break while it trains (deleted, truncated). A dataset with a
``sample(index) -> (image or None, label, ((name, reason), ...))`` method (the image
folder's) says which files it could not read; the names travel back with each batch
from the DataLoader workers (a worker's own counters would die with it), the feed keeps
them (``LazyFeed.problems``) and the trainer reports them: ``unreadable_events`` in the
batch records as they happen, ``unreadable_notes`` in the run's result.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

Augment = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class TargetAugment:
    """An augmentation that moves the targets with the images (boxes move with a flip):
    ``fn(images, targets) -> (images, targets)``, images float N×C×H×W in [0, 1]."""

    fn: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def _labels_on(labels: torch.Tensor, device: torch.device, non_blocking: bool = False) -> torch.Tensor:
    """Labels on the device: class indices as int64, targets of any other layout as float32."""
    labels = torch.as_tensor(labels)
    dtype = torch.float32 if labels.is_floating_point() else torch.long
    return labels.to(device=device, dtype=dtype, non_blocking=non_blocking)


def _augmented(normalizer: Normalizer, xb: torch.Tensor, yb: torch.Tensor,
               augment: Augment | TargetAugment | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The normalised batch, augmented; a TargetAugment's moved targets come back with it."""
    if not isinstance(augment, TargetAugment):
        return normalizer(xb, augment), yb
    moved: list[torch.Tensor] = []

    def images_only(x: torch.Tensor) -> torch.Tensor:
        x, y = augment.fn(x, yb)
        moved.append(y)
        return x

    xb = normalizer(xb, images_only)
    return xb, moved[0] if moved else yb
FLOAT_CACHE_LIMIT = 2 << 30  # bytes: bigger in-memory sets stay uint8, converted per batch
FLOAT_CACHE_SHARE = 4        # ... and so do sets whose float copy needs over 1/4 of the free memory
REPORT_NAMES = 5             # unreadable files named in a message (then "and N more")


class ImagesUnreadable(RuntimeError):
    """No image of a batch could be read: the dataset's files are gone."""


@dataclass
class TrainData:
    """What the trainer needs from a dataset (a LoadedDataset converts with from_loaded)."""

    num_classes: int
    train_images: torch.Tensor | None = None   # uint8 N×C×H×W
    train_labels: torch.Tensor | None = None   # int64 N, or the float targets of ``task``
    val_images: torch.Tensor | None = None
    val_labels: torch.Tensor | None = None
    mean: tuple[float, ...] | None = None      # per channel, on the 0..1 scale
    std: tuple[float, ...] | None = None
    train_dataset: Any = None                  # lazy: yields (uint8 C×H×W, int)
    val_dataset: Any = None
    class_names: tuple[str, ...] = ()
    sample_shape: tuple[int, ...] | None = None
    report: list[str] = field(default_factory=list)
    task: str = "classification"               # the label layout (LoadedDataset.task)
    target_names: tuple[str, ...] = ()         # regression: the values' names

    @property
    def in_memory(self) -> bool:
        return self.train_images is not None

    @classmethod
    def from_loaded(cls, loaded: Any) -> TrainData:
        if isinstance(loaded, TrainData):
            return loaded
        names = tuple(getattr(loaded, "class_names", ()) or ())
        return cls(
            num_classes=int(getattr(loaded, "num_classes", len(names))),
            train_images=getattr(loaded, "train_images", None),
            train_labels=getattr(loaded, "train_labels", None),
            val_images=getattr(loaded, "val_images", None),
            val_labels=getattr(loaded, "val_labels", None),
            mean=_tuple(getattr(loaded, "mean", None)), std=_tuple(getattr(loaded, "std", None)),
            train_dataset=getattr(loaded, "train_dataset", None),
            val_dataset=getattr(loaded, "val_dataset", None),
            class_names=names,
            sample_shape=_tuple(getattr(loaded, "sample_shape", None)),
            report=list(getattr(loaded, "report", []) or []),
            task=str(getattr(loaded, "task", "classification") or "classification"),
            target_names=tuple(getattr(loaded, "target_names", ()) or ()),
        )

    @classmethod
    def from_tensors(cls, images: torch.Tensor, labels: torch.Tensor,
                     val_images: torch.Tensor | None = None, val_labels: torch.Tensor | None = None,
                     *, num_classes: int | None = None) -> TrainData:
        classes = num_classes or int(labels.max().item()) + 1
        return cls(classes, images, labels.long(), val_images,
                   None if val_labels is None else val_labels.long(),
                   sample_shape=tuple(images.shape[1:]))

    def stats(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per-channel mean/std on the 0..1 scale (computed when the dataset gave none)."""
        if self.mean is not None and self.std is not None:
            return tuple(self.mean), tuple(self.std)
        if self.train_images is None:
            c = (self.sample_shape or (1,))[0]
            return (0.5,) * c, (0.25,) * c
        from visionstudio.core.data.base import channel_stats  # streamed: no float copy of the images

        return channel_stats(self.train_images[: 10_000])


def _tuple(value: Any) -> tuple | None:
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        return tuple(value.flatten().tolist())
    return tuple(value)


class Normalizer:
    """uint8 -> float in [0, 1] (``unit``), augmentation's domain; then standardised per
    channel and laid out channels_last (``standardize``)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], device: torch.device,
                 channels_last: bool) -> None:
        self.mean = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self.inv_std = (1.0 / torch.tensor(std, dtype=torch.float32, device=device)).view(1, -1, 1, 1)
        self.channels_last = channels_last
        # uint8 straight to standardised floats: x * (1/255/std) + (-mean/std), one float
        # tensor made (not four passes and a second full-size temporary)
        self.scale255 = self.inv_std / 255.0
        self.shift = -self.mean * self.inv_std

    @staticmethod
    def unit(x: torch.Tensor) -> torch.Tensor:
        return x.float().div_(255.0) if x.dtype == torch.uint8 else x

    def standardize(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            x = (x - self.mean).mul_(self.inv_std)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
        return x

    def __call__(self, x: torch.Tensor, augment: Augment | None = None) -> torch.Tensor:
        if augment is None and x.dtype == torch.uint8 and x.dim() == 4:
            x = (x * self.scale255).add_(self.shift)
            return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x
        x = self.unit(x)
        if augment is not None:
            x = augment(x)
        return self.standardize(x)


def batch_slices(n: int, batch_size: int) -> list[tuple[int, int]]:
    """Batch bounds; a lone last sample is dropped (BatchNorm cannot train on one)."""
    out = [(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    if len(out) > 1 and out[-1][1] - out[-1][0] == 1:
        out.pop()
    return out


def free_memory(device: torch.device) -> int | None:
    """Bytes that can still be allocated on ``device`` without swapping (None: unknown)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def float_copy_fits(images: torch.Tensor, device: torch.device) -> bool:
    """Whether the float copy of ``images`` (4 bytes a value) may be made: decided from the
    size before anything is allocated, so peak memory stays the uint8 set's own (plus one
    float batch) when the copy would not fit (FLOAT_CACHE_LIMIT, or 1/FLOAT_CACHE_SHARE of
    the memory still free)."""
    need = images.numel() * 4
    if need > FLOAT_CACHE_LIMIT:
        return False
    free = free_memory(device)
    return free is None or need * FLOAT_CACHE_SHARE <= free


class MemoryFeed:
    def __init__(self, images: torch.Tensor, labels: torch.Tensor, normalizer: Normalizer,
                 device: torch.device, *, augmented: bool = False) -> None:
        self.n = int(images.shape[0])
        self.device = device
        self.normalizer = normalizer
        x = images.to(device)
        # Cache floats once: standardised (no augmentation) or in [0, 1] (augmentation
        # works on [0, 1] images; standardising after it is one cheap op per batch).
        # Otherwise ("raw") the uint8 set is indexed as it is and each batch converted.
        self.stage = "raw"
        if float_copy_fits(x, device):
            x, self.stage = (normalizer.unit(x), "unit") if augmented else (normalizer(x), "ready")
        self.x = x
        self.y = _labels_on(labels, device)

    def batches(self, order: torch.Tensor | None, batch_size: int, start: int = 0,
                augment: Augment | TargetAugment | None = None
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        slices = batch_slices(self.n, batch_size)
        if order is not None:
            order = order.to(self.device, non_blocking=True)
        norm = self.normalizer
        for lo, hi in slices[start:]:
            if order is None:
                xb, yb = self.x[lo:hi], self.y[lo:hi]
            else:
                idx = order[lo:hi]
                xb, yb = self.x.index_select(0, idx), self.y.index_select(0, idx)
            if self.stage == "ready":
                if norm.channels_last and xb.dim() == 4:
                    xb = xb.contiguous(memory_format=torch.channels_last)
            else:
                xb, yb = _augmented(norm, xb, yb, augment)
            yield xb, yb


class _Reporting(torch.utils.data.Dataset):
    """(image or None, label, problems) for any lazy dataset; module level so that it
    pickles into spawned DataLoader workers."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Any, int, tuple[tuple[str, str], ...]]:
        sample = getattr(self.dataset, "sample", None)
        if sample is not None:
            return sample(index)
        image, label = self.dataset[index][:2]
        return image, label, ()


def _collate(items: list[tuple[Any, Any, tuple]]) -> tuple[Any, Any, tuple[tuple[str, str], ...]]:
    """Stack the readable samples (class indices, or target tensors of one shape); the
    problems of all of them ride along."""
    from torch.utils.data import default_collate

    problems = tuple(p for _, _, found in items for p in found)
    kept = [(x, y) for x, y, _ in items if x is not None]
    if not kept:
        return None, None, problems
    images = default_collate([torch.as_tensor(x) for x, _ in kept])
    targets = [torch.as_tensor(y) for _, y in kept]
    if all(t.dim() == 0 and not t.is_floating_point() for t in targets):
        labels = torch.tensor([int(t) for t in targets], dtype=torch.long)
    else:
        labels = torch.stack([t.float() for t in targets])
    return images, labels, problems


def describe_unreadable(problems: Sequence[tuple[str, str]]) -> str:
    """'3 images could not be read and were skipped: a.png: truncated; …'."""
    n = len(problems)
    names = "; ".join(f"{name}: {why}" for name, why in list(problems)[:REPORT_NAMES])
    more = f" and {n - REPORT_NAMES} more" if n > REPORT_NAMES else ""
    return (f"{n} image{'s' if n != 1 else ''} could not be read and "
            f"{'were' if n != 1 else 'was'} skipped: {names}{more}.")


def _problems(feeds: Sequence[Any]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for feed in feeds:
        for name, why in (getattr(feed, "problems", None) or {}).items():
            merged.setdefault(name, why)
    return merged


def unreadable_events(*feeds: Any) -> list[str]:
    """One sentence naming the files that failed since the last call (or nothing)."""
    fresh: list[tuple[str, str]] = []
    for feed in feeds:
        if hasattr(feed, "take_new_problems"):
            fresh.extend(feed.take_new_problems())
    return [describe_unreadable(fresh)] if fresh else []


def unreadable_notes(*feeds: Any) -> list[str]:
    """One sentence for the whole run: every file that could not be read (or nothing)."""
    merged = _problems(feeds)
    return [describe_unreadable(list(merged.items()))] if merged else []


class LazyFeed:
    def __init__(self, dataset: Any, normalizer: Normalizer, device: torch.device,
                 num_workers: int | None = None) -> None:
        self.dataset = dataset
        self.problems: dict[str, str] = {}   # file name -> reason, from every worker
        self._told = 0                       # problems already handed out as events
        self.n = len(dataset)
        self.device = device
        self.normalizer = normalizer
        if num_workers is None:
            num_workers = min(4, max((os.cpu_count() or 1) - 1, 0))
        self.num_workers = num_workers
        self.pin = device.type == "cuda"

    def batches(self, order: torch.Tensor | None, batch_size: int, start: int = 0,
                augment: Augment | TargetAugment | None = None
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        from torch.utils.data import DataLoader

        idx = order.tolist() if order is not None else list(range(self.n))
        sampler = [idx[lo:hi] for lo, hi in batch_slices(self.n, batch_size)[start:]]
        if not sampler:
            return
        loader = DataLoader(_Reporting(self.dataset), batch_sampler=sampler,
                            num_workers=self.num_workers, pin_memory=self.pin, collate_fn=_collate)
        for xb, yb, problems in loader:
            for name, why in problems:
                self.problems.setdefault(name, why)
            if xb is None:
                raise ImagesUnreadable(
                    f"no image of a batch could be read; "
                    f"{describe_unreadable(list(self.problems.items()))} The image folder may "
                    f"have been moved or deleted, or its drive removed.")
            xb = torch.as_tensor(xb).to(self.device, non_blocking=True)
            yield _augmented(self.normalizer, xb, _labels_on(yb, self.device, non_blocking=True), augment)

    def take_new_problems(self) -> list[tuple[str, str]]:
        """Problems not handed out before (for the next batch record's events)."""
        items = list(self.problems.items())
        fresh, self._told = items[self._told:], len(items)
        return fresh


def make_feeds(data: TrainData, normalizer: Normalizer, device: torch.device, *,
               augmented: bool, num_workers: int | None) -> tuple[Any, Any]:
    """(train feed, validation feed or None); the train feed is None without training data."""
    if data.in_memory:
        train: Any = MemoryFeed(data.train_images, data.train_labels, normalizer, device,
                                augmented=augmented)
        val: Any = (MemoryFeed(data.val_images, data.val_labels, normalizer, device)
                    if data.val_images is not None and len(data.val_images) else None)
    elif data.train_dataset is not None:
        train = LazyFeed(data.train_dataset, normalizer, device, num_workers)
        val = (LazyFeed(data.val_dataset, normalizer, device, num_workers)
               if data.val_dataset is not None and len(data.val_dataset) else None)
    else:
        return None, None
    return train, val
