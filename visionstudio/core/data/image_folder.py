"""The user's own images: one sub-folder per class (torchvision ImageFolder's layout).

Every file is opened before training (verify, then a decode), so unreadable,
truncated, zero-byte, oversized (over ``MAX_PIXELS``) and non-image files are reported
and left out instead of crashing an epoch. The folders are listed by image_scan.py (links
followed, but every real folder and file once), files decoded by image_decode.py
(converted to the network Input's channels and size, cheaply). Small sets come back as
uint8 tensors, decoded straight into one block (image_memory.py: no second copy while
stacking); sets larger than ``MAX_IN_MEMORY_BYTES`` or a quarter of the memory still
available come back as lazy datasets that read the decoded-image cache (or decode) on
demand and name every file that breaks during the run.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
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
from visionstudio.core.data.image_dataset import FolderDataset, relative_name
from visionstudio.core.data.image_decode import (
    MAX_PIXELS,
    EvalResize,
    ImageProblem,
    convert_image,
    decode,
)
from visionstudio.core.data.image_memory import new_block, pack_rows
from visionstudio.core.data.image_scan import FolderScanner

MAX_IN_MEMORY_BYTES = 2 * 1024 ** 3   # above this the lazy datasets are returned
DEFAULT_SHAPE = (3, 64, 64)           # when no network Input is given
STATS_SAMPLE = 512                    # images used to estimate mean/std on the lazy path
REPORT_NAMES = 5                      # file names listed per reason in the report
RELEASE_EVERY = 1024                  # cache slots between two releases of their pages

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


def _summarise(skipped: list[tuple[Path, str]], root: Path) -> list[str]:
    by_reason: dict[str, list[Path]] = {}
    for path, reason in skipped:
        by_reason.setdefault(reason, []).append(path)
    lines = []
    for reason, paths in by_reason.items():
        names = ", ".join(relative_name(p, root) for p in paths[:REPORT_NAMES])
        more = f" and {len(paths) - REPORT_NAMES} more" if len(paths) > REPORT_NAMES else ""
        noun = "file" if len(paths) == 1 else "files"
        lines.append(f"Left out {len(paths)} {noun}: {reason}: {names}{more}.")
    return lines


def _scan(files: list[tuple[Path, int]], shape: tuple[int, int, int], ctx: LoadContext,
          keep: bool, what: str, offset: float, span: float,
          cache: DecodedCache | None = None, base: int = 0, fit: EvalResize | None = None,
          into: np.ndarray | None = None
          ) -> tuple[list[tuple[Path, int]], list[np.ndarray], list[tuple[Path, str]], list[int]]:
    """Check (decode) every file; a file whose slot ``base + i`` of ``cache`` is filled was
    decoded by an earlier load of the same, unchanged files and is not decoded again.
    ``into`` (with ``keep``): a block with a row per file; the k-th good image is copied
    into row k and ``arrays`` holds those rows (no list of separate images to stack).
    The cache's pages are released as the scan goes, so they do not add up in RSS."""
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
                                                         workers, ctx.check_cancel, fit)
    else:
        verdicts = ((i, cache.get(base + i) if cache is not None else None, None)
                    for i in range(len(files)))
    released = 0
    for i, arr, reason in verdicts:
        path, label = files[i]
        if cache is not None and i - released >= RELEASE_EVERY:
            cache.release(base + released, base + i)
            released = i
        if i % step == 0:
            ctx.check_cancel()
            ctx.report_progress(f"Checking {what} images ({i}/{len(files)})…",
                                offset + span * i / total)
        if reason is None and arr is None:
            try:
                arr = decode(path, shape, fit=fit)
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
        if keep and into is not None:
            into[len(arrays)] = arr
            arrays.append(into[len(arrays)])
        elif keep:
            arrays.append(arr)
    if cache is not None:
        cache.release(base + released, base + len(files))
    return good, arrays, skipped, slots


def _gather(root: Path, classes: list[str], scanner: FolderScanner) -> list[tuple[Path, int]]:
    items = []
    for index, name in enumerate(classes):
        items.extend((p, index) for p in scanner.list(root / name, "training"))
    return items


def _open_cache(paths: list[Path], stamps: list[str], shape: tuple[int, int, int],
                report: list[str], roots: list[Path], fit: EvalResize | None = None
                ) -> DecodedCache | None:
    """The decoded-image cache of exactly these files at this size, decoded this way (None:
    run without)."""
    if not paths:
        return None
    key = dataset_key(paths, shape, "" if fit is None else fit.key(), stamps=stamps, roots=roots)
    cache = DecodedCache.open(key, len(paths), shape)
    if cache is not None and cache.filled:
        report.append(f"{cache.filled} of {len(paths)} images came from the decoded-image cache "
                      f"({cache.path.parent}).")
    return cache


@dataclass
class _Listing:
    """What the folders hold before any image is opened."""

    root: Path
    val_root: Path | None
    classes: list[str]
    train_files: list[tuple[Path, int]]
    val_files: list[tuple[Path, int]]
    scanner: FolderScanner
    report: list[str]
    fit: EvalResize | None = None


@dataclass
class _Usable:
    """The images that decoded, with labels renumbered over the classes that kept any."""

    class_names: list[str]
    good: list[tuple[Path, int]]
    labels: list[int]
    arrays: list[np.ndarray]
    slots: list[int]
    vgood: list[tuple[Path, int]]
    vkeep: list[int]
    vlabels: list[int]
    varrays: list[np.ndarray]
    vslots: list[int]
    skipped: list[tuple[Path, str]]


def load_image_folder(params: dict, ctx: LoadContext) -> LoadedDataset:
    shape = tuple(ctx.target_shape) if ctx.target_shape else DEFAULT_SHAPE
    c, h, w = shape
    if c not in (1, 3):
        raise DatasetError(f"Image folders give 1-channel (grayscale) or 3-channel (RGB) images; "
                           f"the network's Input has {c} channels. Set its channels to 1 or 3.")
    listing = _list_folders(params, ctx)
    listing.fit = _fit(ctx.preprocessing, shape, listing.report)
    files = listing.train_files + listing.val_files
    block = new_block(len(files), shape, MAX_IN_MEMORY_BYTES)   # None: over the limit, lazy
    stamps = [file_stamp(p) for p, _ in files]
    cache = _open_cache([p for p, _ in files], stamps, shape, listing.report,
                        [listing.root] + ([listing.val_root] if listing.val_root is not None else []),
                        listing.fit)
    usable = _decode_all(listing, shape, ctx, block is not None, cache, block)
    train_idx, val_idx = _split(listing, usable, ctx, shape)
    if block is not None:
        return _in_memory(listing, usable, train_idx, val_idx, shape, ctx, block)
    return _streamed(listing, usable, train_idx, val_idx, shape, ctx, cache, stamps)


def _fit(pre: Any, shape: tuple[int, int, int], report: list[str]) -> EvalResize | None:
    """The weights' resize-then-centre-crop, when the network's Input is their crop."""
    if pre is None:
        return None
    if shape[1:] != (pre.crop, pre.crop):
        report.append(f"{pre.source} expects a {pre.crop}×{pre.crop} centre crop of images resized "
                      f"to {pre.resize}; the network's Input is {shape[1]}×{shape[2]}, so images "
                      f"are resized straight to it instead.")
        return None
    report.append(f"Images are resized to {pre.resize} on their shorter side ({pre.interpolation}), "
                  f"then centre-cropped to {pre.crop}×{pre.crop}, as {pre.source} expects.")
    return EvalResize(pre.resize, pre.interpolation)


def _list_folders(params: dict, ctx: LoadContext) -> _Listing:
    root = Path(os.path.expanduser(params["folder"].strip())) if params["folder"].strip() else Path("")
    val_text = params["val_folder"].strip()
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
    return _Listing(root, val_root, classes, train_files, val_files, scanner, report)


def _decode_all(listing: _Listing, shape: tuple[int, int, int], ctx: LoadContext, in_memory: bool,
                cache: DecodedCache | None, block: np.ndarray | None = None) -> _Usable:
    """Open every file; classes with no usable image are left out and labels renumbered
    to stay dense."""
    train_files, val_files, classes = listing.train_files, listing.val_files, listing.classes
    train_span = len(train_files) / max(1, len(train_files) + len(val_files))
    good, arrays, skipped, slots = _scan(train_files, shape, ctx, in_memory, "training", 0.0,
                                         train_span, cache, fit=listing.fit, into=block)
    vgood, varrays, vskipped, vslots = _scan(val_files, shape, ctx, in_memory, "validation",
                                             train_span, 1.0 - train_span, cache, len(train_files),
                                             listing.fit,
                                             None if block is None else block[len(arrays):])
    skipped_all = skipped + vskipped + listing.scanner.special
    counts = Counter(label for _, label in good)
    empty = [name for i, name in enumerate(classes) if counts[i] == 0]
    if empty:
        listing.report.append(f"Left out class folder(s) with no usable images: {', '.join(empty)}.")
    kept = [i for i in range(len(classes)) if counts[i] > 0]
    if len(kept) < 2:
        found = f"only {len(kept)} class" if kept else "no class"
        raise DatasetError(f"{listing.root} has {found} with usable images; training needs at least "
                           f"two classes (one sub-folder each, with images inside)."
                           + (f" {len(skipped_all)} file(s) could not be read." if skipped_all else ""))
    remap = {old: new for new, old in enumerate(kept)}
    vkeep = [k for k, (_, label) in enumerate(vgood) if label in remap]
    return _Usable([classes[i] for i in kept], good, [remap[label] for _, label in good], arrays, slots,
                   vgood, vkeep, [remap[vgood[k][1]] for k in vkeep], varrays, vslots, skipped_all)


def _split(listing: _Listing, usable: _Usable, ctx: LoadContext,
           shape: tuple[int, int, int]) -> tuple[list[int], list[int]]:
    """Training and validation indices into ``usable.good`` (validation from a split of the
    training folder unless a validation folder was given), and the report's first line."""
    c, h, w = shape
    if listing.val_root is None:
        train_idx, val_idx = stratified_split(usable.labels, ctx.val_split, ctx.seed)
        split_note = (f"validation: {len(val_idx)} images ({ctx.val_split:.0%} of each class, "
                      f"seed {ctx.seed})") if val_idx else "no validation images"
    else:
        train_idx, val_idx = list(range(len(usable.good))), []
        split_note = f"validation: {len(usable.vkeep)} images from {listing.val_root}"
    listing.report.insert(0, f"Image folder {listing.root}: {len(train_idx)} training images in "
                             f"{len(usable.class_names)} classes, {c}×{h}×{w}; {split_note}.")
    listing.report.extend(_summarise(usable.skipped, listing.root if listing.val_root is None
                                     else listing.root.parent))
    return train_idx, val_idx


def _rows(block: np.ndarray, lo: int, labels: list[int]
          ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    if not labels:
        return None, None
    return (torch.from_numpy(block[lo:lo + len(labels)]),   # a view: no copy
            torch.tensor(labels, dtype=torch.int64))


def _in_memory(listing: _Listing, usable: _Usable, train_idx: list[int], val_idx: list[int],
               shape: tuple[int, int, int], ctx: LoadContext, block: np.ndarray) -> LoadedDataset:
    """The training and validation tensors as views of ``block``: its rows are moved in
    place (training rows first, then validation), never stacked into a second copy."""
    if listing.val_root is None:
        order, val_labels_list = train_idx + val_idx, [usable.labels[i] for i in val_idx]
    else:   # the validation folder's rows follow the training folder's good rows
        order = train_idx + [len(usable.good) + k for k in usable.vkeep]
        val_labels_list = usable.vlabels
    pack_rows(block, order)
    train_images, train_labels = _rows(block, 0, [usable.labels[i] for i in train_idx])
    val_images, val_labels = _rows(block, len(train_idx), val_labels_list)
    mean, std = channel_stats(train_images)
    ctx.report_progress("Images ready", 1.0)
    return LoadedDataset(train_images, train_labels, val_images, val_labels, usable.class_names,
                         mean, std, listing.report, skipped_files=usable.skipped)


def _streamed(listing: _Listing, usable: _Usable, train_idx: list[int], val_idx: list[int],
              shape: tuple[int, int, int], ctx: LoadContext, cache: DecodedCache | None,
              stamps: list[str]) -> LoadedDataset:
    """Lazy datasets that decode on demand: the set is over the in-memory limit."""
    good, labels, root, val_root = usable.good, usable.labels, listing.root, listing.val_root
    train_items = [(good[i][0], labels[i]) for i in train_idx]
    if val_root is None:
        val_items = [(good[i][0], labels[i]) for i in val_idx]
        val_slots = [usable.slots[i] for i in val_idx]
    else:
        val_items = [(usable.vgood[k][0], lab) for k, lab in zip(usable.vkeep, usable.vlabels)]
        val_slots = [usable.vslots[k] for k in usable.vkeep]
    train_slots = [usable.slots[i] for i in train_idx]
    train_ds = FolderDataset(train_items, shape, root=root, cache=cache, slots=train_slots,
                             stamps=[stamps[s] for s in train_slots], fit=listing.fit)
    val_ds = (FolderDataset(val_items, shape, root=val_root or root, cache=cache, slots=val_slots,
                            stamps=[stamps[s] for s in val_slots], fit=listing.fit)
              if val_items else None)
    rng = np.random.default_rng(ctx.seed)
    pick = rng.choice(len(train_ds), size=min(STATS_SAMPLE, len(train_ds)), replace=False)
    mean, std = channel_stats(_sampled(train_ds, pick, cache))   # streamed, never stacked
    count = len(listing.train_files) + len(listing.val_files)
    gib = count * int(np.prod(shape)) / 1024 ** 3
    listing.report.append(f"The images need about {gib:.1f} GiB as tensors, more than the "
                          f"{MAX_IN_MEMORY_BYTES / 1024 ** 3:.0f} GiB limit: they are read from disk "
                          f"during training (slower).")
    ctx.report_progress("Images ready", 1.0)
    return LoadedDataset(None, None, None, None, usable.class_names, mean, std, listing.report,
                         train_dataset=train_ds, val_dataset=val_ds, skipped_files=usable.skipped)


def _sampled(ds: FolderDataset, pick: np.ndarray, cache: DecodedCache | None) -> Any:
    """The stats sample; the cache pages read around each item (kernel read-around) are
    released as it goes, so the lazy path's peak RSS does not take them in."""
    for k, i in enumerate(pick):
        yield ds[int(i)][0]
        if cache is not None and k % 64 == 63:
            cache.release(0, cache.count)
    if cache is not None:
        cache.release(0, cache.count)


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

