"""The user's own images: one sub-folder per class (torchvision ImageFolder's layout).

Every file is opened before training (verify, then a decode), so unreadable,
truncated, zero-byte, oversized (over ``MAX_PIXELS``) and non-image files are reported
and left out instead of crashing an epoch. The folders are listed by image_scan.py (links
followed, but every real folder and file once), files decoded by image_decode.py
(converted to the network Input's channels and size, cheaply). Small sets come back as
uint8 tensors; sets larger than ``MAX_IN_MEMORY_BYTES`` come back as lazy datasets that
decode on demand and name every file that breaks during the run.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from visionstudio.core.data import image_parallel
from visionstudio.core.data.base import (
    DatasetError,
    DatasetInfo,
    LoadContext,
    LoadedDataset,
    channel_stats,
    stratified_split,
)
from visionstudio.core.data.image_cache import DecodedCache, dataset_key, file_stamp
from visionstudio.core.data.image_decode import MAX_PIXELS, ImageProblem, convert_image, decode
from visionstudio.core.data.image_scan import FolderScanner

MAX_IN_MEMORY_BYTES = 2 * 1024 ** 3   # above this the lazy datasets are returned
DEFAULT_SHAPE = (3, 64, 64)           # when no network Input is given
STATS_SAMPLE = 512                    # images used to estimate mean/std on the lazy path
REPORT_NAMES = 5                      # file names listed per reason in the report
SUBSTITUTES = 8                       # items tried in turn when a file breaks mid-run

__all__ = ["MAX_PIXELS", "FolderDataset", "ImageProblem", "convert_image", "decode",
           "describe_image_folder", "load_image_folder"]


# -- scanning ---------------------------------------------------------------------------

def _class_folders(folder: Path, role: str) -> tuple[list[str], list[Path]]:
    """(sorted class names, loose files at the top level)."""
    if not str(folder).strip() or str(folder) == ".":
        raise DatasetError(f"Choose the {role} folder: one sub-folder per class, "
                           f"e.g. pets/cat/1.jpg and pets/dog/2.jpg.")
    if not folder.exists():
        raise DatasetError(f"The {role} folder {folder} does not exist. Choose a folder with "
                           f"one sub-folder per class.")
    if not folder.is_dir():
        raise DatasetError(f"{folder} is a file, not a folder. Choose the folder that holds "
                           f"one sub-folder per class.")
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise DatasetError(f"The {role} folder {folder} cannot be read ({exc.strerror}).") from None
    classes = [e.name for e in entries if e.is_dir() and not e.name.startswith(".")]
    loose = [Path(e.path) for e in entries if e.is_file() and not e.name.startswith(".")]
    return classes, loose


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _summarise(skipped: list[tuple[Path, str]], root: Path) -> list[str]:
    by_reason: dict[str, list[Path]] = {}
    for path, reason in skipped:
        by_reason.setdefault(reason, []).append(path)
    lines = []
    for reason, paths in by_reason.items():
        names = ", ".join(_rel(p, root) for p in paths[:REPORT_NAMES])
        more = f" and {len(paths) - REPORT_NAMES} more" if len(paths) > REPORT_NAMES else ""
        noun = "file" if len(paths) == 1 else "files"
        lines.append(f"Left out {len(paths)} {noun}: {reason}: {names}{more}.")
    return lines


class FolderDataset(torch.utils.data.Dataset):
    """Lazy image-folder items: (uint8 C×H×W tensor, int label), decoded on demand.

    A file that breaks after the pre-scan (deleted, truncated, replaced) never stops an
    epoch and is never hidden: ``sample`` lets the next readable item of the list stand
    in, with that item's own label, and returns the broken files' names and reasons with
    it. The training feed calls ``sample`` (in DataLoader workers too) and collects the
    names in the main process, so the run reports them. Plain ``dataset[i]`` keeps them
    in ``failures`` — of this copy only (a worker's copy is its own).
    """

    def __init__(self, items: list[tuple[Path, int]], shape: tuple[int, int, int],
                 transform: Any = None, root: Path | None = None,
                 cache: DecodedCache | None = None, slots: list[int] | None = None,
                 stamps: list[str] | None = None) -> None:
        self.items = list(items)
        self.sample_shape = tuple(shape)
        self.transform = transform
        self.root = Path(root) if root is not None else None
        self.failures: list[tuple[Path, str]] = []
        # Decoded-image cache (each DataLoader worker maps the file itself): item i is
        # slot slots[i], valid while the file keeps stamps[i] (a file deleted or replaced
        # during the run is decoded, so it is reported, not served from the cache).
        self.cache = cache if slots is not None and stamps is not None else None
        self.slots = list(slots) if self.cache is not None else None
        self.stamps = list(stamps) if self.cache is not None else None

    def __len__(self) -> int:
        return len(self.items)

    def load(self, index: int) -> torch.Tensor:
        path, _ = self.items[index]
        if self.cache is not None:
            slot = self.slots[index]
            if file_stamp(path) == self.stamps[index]:
                cached = self.cache.get(slot)
                if cached is not None:
                    return torch.from_numpy(cached.copy())
                image = decode(path, self.sample_shape, verify=False)
                self.cache.put(slot, image)
                return torch.from_numpy(image)
        return torch.from_numpy(decode(path, self.sample_shape, verify=False))

    def _find(self, index: int) -> tuple[torch.Tensor | None, int, list[tuple[Path, str]]]:
        problems: list[tuple[Path, str]] = []
        for step in range(min(len(self.items), SUBSTITUTES)):
            j = (index + step) % len(self.items)
            try:
                image = self.load(j)
            except ImageProblem as exc:
                problems.append((self.items[j][0], str(exc)))
                continue
            if self.transform is not None:
                image = self.transform(image)
            return image, self.items[j][1], problems
        return None, self.items[index][1], problems

    def sample(self, index: int) -> tuple[torch.Tensor | None, int, tuple[tuple[str, str], ...]]:
        """(image, label, ((file name, reason), ...)); image is None when neither the item
        nor the next SUBSTITUTES - 1 could be read (the folder is likely gone)."""
        image, label, problems = self._find(index)
        return image, label, tuple((self.display_name(p), why) for p, why in problems)

    def display_name(self, path: Path) -> str:
        return _rel(Path(path), self.root) if self.root is not None else str(path)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image, label, problems = self._find(index)
        self.failures.extend(problems)
        if image is None:
            image = torch.zeros(self.sample_shape, dtype=torch.uint8)
        return image, label

    @property
    def labels(self) -> list[int]:
        return [label for _, label in self.items]


def _scan(files: list[tuple[Path, int]], shape: tuple[int, int, int], ctx: LoadContext,
          keep: bool, what: str, offset: float, span: float,
          cache: DecodedCache | None = None, base: int = 0
          ) -> tuple[list[tuple[Path, int]], list[np.ndarray], list[tuple[Path, str]], list[int]]:
    """Check (decode) every file; a file whose slot ``base + i`` of ``cache`` is filled was
    decoded by an earlier load of the same, unchanged files and is not decoded again."""
    good: list[tuple[Path, int]] = []
    arrays: list[np.ndarray] = []
    skipped: list[tuple[Path, str]] = []
    slots: list[int] = []
    total = max(1, len(files))
    step = max(1, total // 100)
    todo = cache.missing(base, base + len(files)) if cache is not None else 0
    workers = image_parallel.workers_for(todo)
    if workers:   # decoded on every core, into the cache
        verdicts: Any = image_parallel.decode_into_cache([p for p, _ in files], shape, cache, base,
                                                         workers, ctx.check_cancel)
    else:
        verdicts = ((i, cache.get(base + i) if cache is not None else None, None)
                    for i in range(len(files)))
    for i, arr, reason in verdicts:
        path, label = files[i]
        if i % step == 0:
            ctx.check_cancel()
            ctx.report_progress(f"Checking {what} images ({i}/{len(files)})…",
                                offset + span * i / total)
        if reason is None and arr is None:
            try:
                arr = decode(path, shape)
            except ImageProblem as exc:
                reason = str(exc)
            else:
                if cache is not None:
                    cache.put(base + i, arr)
        if reason is not None:
            skipped.append((path, reason))
            continue
        good.append((path, label))
        slots.append(base + i)
        if keep:
            arrays.append(arr)
    return good, arrays, skipped, slots


def _gather(root: Path, classes: list[str], scanner: FolderScanner) -> list[tuple[Path, int]]:
    items = []
    for index, name in enumerate(classes):
        items.extend((p, index) for p in scanner.list(root / name, "training"))
    return items


def _open_cache(paths: list[Path], stamps: list[str], shape: tuple[int, int, int],
                report: list[str], roots: list[Path]) -> DecodedCache | None:
    """The decoded-image cache of exactly these files at this size (None: run without)."""
    if not paths:
        return None
    cache = DecodedCache.open(dataset_key(paths, shape, stamps=stamps, roots=roots), len(paths), shape)
    if cache is not None and cache.filled:
        report.append(f"{cache.filled} of {len(paths)} images came from the decoded-image cache "
                      f"({cache.path.parent}).")
    return cache


def load_image_folder(params: dict, ctx: LoadContext) -> LoadedDataset:
    root = Path(os.path.expanduser(params["folder"].strip())) if params["folder"].strip() else Path("")
    val_text = params["val_folder"].strip()
    shape = tuple(ctx.target_shape) if ctx.target_shape else DEFAULT_SHAPE
    c, h, w = shape
    if c not in (1, 3):
        raise DatasetError(f"Image folders give 1-channel (grayscale) or 3-channel (RGB) images; "
                           f"the network's Input has {c} channels. Set its channels to 1 or 3.")
    classes, loose = _class_folders(root, "image")
    report: list[str] = []
    if not classes:
        raise DatasetError(f"{root} has no class sub-folders. Put the images into one sub-folder "
                           f"per class, e.g. {root / 'cat' / '1.jpg'} and {root / 'dog' / '2.jpg'}.")
    if loose:
        report.append(f"Ignored {len(loose)} file(s) directly in {root}: put each image in the "
                      f"sub-folder of its class.")
    val_root = Path(os.path.expanduser(val_text)) if val_text else None
    val_classes, val_loose = _class_folders(val_root, "validation") if val_root is not None else ([], [])
    reserved = [root, *(root / n for n in classes)]
    if val_root is not None:
        reserved += [val_root, *(val_root / n for n in val_classes)]
    scanner = FolderScanner(reserved, check=ctx.check_cancel)
    ctx.report_progress("Listing the image files…", 0.0)
    train_files = _gather(root, classes, scanner)
    val_files: list[tuple[Path, int]] = []
    if val_root is not None:
        unknown = [v for v in val_classes if v not in classes]
        if unknown:
            report.append(f"Validation folders without a training class were ignored: "
                          f"{', '.join(unknown)}.")
        if val_loose:
            report.append(f"Ignored {len(val_loose)} file(s) directly in {val_root}.")
        index = {name: i for i, name in enumerate(classes)}
        for name in val_classes:
            if name in index:
                val_files.extend((p, index[name]) for p in scanner.list(val_root / name, "validation"))
    report.extend(scanner.report())
    count = len(train_files) + len(val_files)
    in_memory = count * c * h * w <= MAX_IN_MEMORY_BYTES
    train_span = len(train_files) / max(1, count)
    stamps = [file_stamp(p) for p, _ in train_files + val_files]
    cache = _open_cache([p for p, _ in train_files + val_files], stamps, shape, report,
                        [root] + ([val_root] if val_root is not None else []))
    good, arrays, skipped, slots = _scan(train_files, shape, ctx, in_memory, "training", 0.0,
                                         train_span, cache)
    vgood, varrays, vskipped, vslots = _scan(val_files, shape, ctx, in_memory, "validation",
                                             train_span, 1.0 - train_span, cache, len(train_files))
    skipped_all = skipped + vskipped + scanner.special
    # Classes with no usable image are left out; labels are renumbered to stay dense.
    counts = Counter(label for _, label in good)
    empty = [name for i, name in enumerate(classes) if counts[i] == 0]
    if empty:
        report.append(f"Left out class folder(s) with no usable images: {', '.join(empty)}.")
    kept = [i for i in range(len(classes)) if counts[i] > 0]
    if len(kept) < 2:
        found = f"only {len(kept)} class" if kept else "no class"
        raise DatasetError(f"{root} has {found} with usable images; training needs at least two "
                           f"classes (one sub-folder each, with images inside)."
                           + (f" {len(skipped_all)} file(s) could not be read." if skipped_all else ""))
    remap = {old: new for new, old in enumerate(kept)}
    class_names = [classes[i] for i in kept]
    good_labels = [remap[label] for _, label in good]
    vkeep = [k for k, (_, label) in enumerate(vgood) if label in remap]
    vlabels = [remap[vgood[k][1]] for k in vkeep]

    if val_root is None:
        train_idx, val_idx = stratified_split(good_labels, ctx.val_split, ctx.seed)
        split_note = (f"validation: {len(val_idx)} images ({ctx.val_split:.0%} of each class, "
                      f"seed {ctx.seed})") if val_idx else "no validation images"
    else:
        train_idx, val_idx = list(range(len(good))), []
        split_note = f"validation: {len(vkeep)} images from {val_root}"
    report.insert(0, f"Image folder {root}: {len(train_idx)} training images in "
                     f"{len(class_names)} classes, {c}×{h}×{w}; {split_note}.")
    report.extend(_summarise(skipped_all, root if val_root is None else root.parent))

    def tensors(arrs: list[np.ndarray], labels: list[int]) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if not labels:
            return None, None
        return (torch.from_numpy(np.stack(arrs)) if arrs else torch.empty((0, c, h, w), dtype=torch.uint8),
                torch.tensor(labels, dtype=torch.int64))

    if in_memory:
        train_images, train_labels = tensors([arrays[i] for i in train_idx],
                                             [good_labels[i] for i in train_idx])
        if val_root is None:
            val_images, val_labels = tensors([arrays[i] for i in val_idx],
                                             [good_labels[i] for i in val_idx])
        else:
            val_images, val_labels = tensors([varrays[k] for k in vkeep], vlabels)
        mean, std = channel_stats(train_images)
        ctx.report_progress("Images ready", 1.0)
        return LoadedDataset(train_images, train_labels, val_images, val_labels, class_names,
                             mean, std, report, skipped_files=skipped_all)

    train_items = [(good[i][0], good_labels[i]) for i in train_idx]
    if val_root is None:
        val_items = [(good[i][0], good_labels[i]) for i in val_idx]
    else:
        val_items = [(vgood[k][0], lab) for k, lab in zip(vkeep, vlabels)]
    train_slots = [slots[i] for i in train_idx]
    val_slots = [slots[i] for i in val_idx] if val_root is None else [vslots[k] for k in vkeep]
    train_ds = FolderDataset(train_items, shape, root=root, cache=cache, slots=train_slots,
                             stamps=[stamps[s] for s in train_slots])
    val_ds = (FolderDataset(val_items, shape, root=val_root or root, cache=cache, slots=val_slots,
                            stamps=[stamps[s] for s in val_slots]) if val_items else None)
    rng = np.random.default_rng(ctx.seed)
    pick = rng.choice(len(train_ds), size=min(STATS_SAMPLE, len(train_ds)), replace=False)
    mean, std = channel_stats(train_ds[int(i)][0] for i in pick)   # streamed, never stacked
    gib = count * c * h * w / 1024 ** 3
    report.append(f"The images need about {gib:.1f} GiB as tensors, more than the "
                  f"{MAX_IN_MEMORY_BYTES / 1024 ** 3:.0f} GiB limit: they are read from disk "
                  f"during training (slower).")
    ctx.report_progress("Images ready", 1.0)
    return LoadedDataset(None, None, None, None, class_names, mean, std, report,
                         train_dataset=train_ds, val_dataset=val_ds, skipped_files=skipped_all)


def describe_image_folder(params: dict) -> DatasetInfo:
    classes = None
    folder = params.get("folder", "").strip()
    if folder:
        try:
            names, _ = _class_folders(Path(os.path.expanduser(folder)), "image")
            classes = len(names) or None
        except DatasetError:
            classes = None
    return DatasetInfo("The image folder", None, classes, channels=(1, 3))

