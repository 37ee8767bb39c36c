"""Labelled images (YOLO, COCO) -> a detection ``LoadedDataset``, with the image folders'
safety: every file opened before training (image_folder.py's scan: size cap,
decompression-bomb guard, corrupt files left out with the reason, the decoded-image
cache, decoding on every core for big sets), lazy datasets past the in-memory limit.
In memory the images are decoded straight into one uint8 block (image_memory.py): the
training and validation tensors are views of it, never stacked copies.

Images are resized straight to the network's Input (no crop), so boxes given as
fractions of the image stay right; the pretrained weights' resize-and-centre-crop is not
used here (it would cut boxes) and the report says so. An image whose file cannot be
read is left out with its boxes. Validation comes from the dataset's own split when it
has one, else from a seeded random split of the training images (val_split).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from visionstudio.core.data.base import DatasetError, LoadContext, LoadedDataset, channel_stats
from visionstudio.core.data.box_labels import BoxRecord, LabelProblems, label_array, random_split
from visionstudio.core.data.image_cache import file_stamp
from visionstudio.core.data.image_dataset import FolderDataset
from visionstudio.core.data.image_folder import (
    DEFAULT_SHAPE,
    MAX_IN_MEMORY_BYTES,
    STATS_SAMPLE,
    _open_cache,
    _scan,
    _summarise,
)
from visionstudio.core.data.image_memory import new_block, split_rows


def load_box_records(title: str, root: Path, train: list[BoxRecord], val: list[BoxRecord] | None,
                     class_names: list[str], problems: LabelProblems, report: list[str],
                     ctx: LoadContext) -> LoadedDataset:
    """Decode the records' images at the Input's size and pack their boxes (detection layout)."""
    shape = tuple(ctx.target_shape) if ctx.target_shape else DEFAULT_SHAPE
    c, h, w = shape
    if c not in (1, 3):
        raise DatasetError(f"{title} gives 1-channel (grayscale) or 3-channel (RGB) images; the "
                           f"network's Input has {c} channels. Set its channels to 1 or 3.")
    if ctx.preprocessing is not None:
        report.append("Images are resized straight to the network's Input, not centre-cropped as the "
                      "pretrained weights expect: a crop would cut the boxes.")
    val = val or []
    records = train + val
    files = [(r.path, i) for i, r in enumerate(records)]
    block = new_block(len(files), shape, MAX_IN_MEMORY_BYTES)   # None: over the limit, lazy
    stamps = [file_stamp(p) for p, _ in files]
    cache = _open_cache([p for p, _ in files], stamps, shape, report, [root])
    span = len(train) / max(1, len(records))
    keep = block is not None
    good, _, skipped, slots = _scan(files[:len(train)], shape, ctx, keep, "training", 0.0, span, cache,
                                    into=block)
    vgood, _, vskipped, vslots = _scan(files[len(train):], shape, ctx, keep, "validation", span,
                                       1.0 - span, cache, len(train),
                                       into=None if block is None else block[len(good):])
    if not good:
        raise DatasetError(f"{title} {root}: none of the {len(train)} training images could be read."
                           + (f" {_summarise(skipped, root)[0]}" if skipped else ""))
    if val:   # the block's rows: the good training images, then the good validation images
        train_idx, val_idx = list(range(len(good))), []
        used, train_rows = len(good) + len(vgood), train_idx
        val_rows = list(range(len(good), used))
        split_note = f"validation: {len(vgood)} images of its own"
    else:
        train_idx, val_idx = (a.tolist() for a in random_split(len(good), ctx.val_split, ctx.seed))
        vgood, vslots = [good[i] for i in val_idx], [slots[i] for i in val_idx]
        used, train_rows, val_rows = len(good), train_idx, val_idx
        split_note = (f"validation: {len(val_idx)} images ({ctx.val_split:.0%}, seed {ctx.seed})"
                      if val_idx else "no validation images")
    tgood = [good[i] for i in train_idx]
    tslots = [slots[i] for i in train_idx]
    train_records = [records[i] for _, i in tgood]
    boxes = sum(len(r.boxes) for r in train_records)
    if boxes == 0:
        raise DatasetError(f"{title} {root}: the training images have no usable boxes, so there is "
                           f"nothing to detect." + (f" {len(problems)} label(s) had problems: "
                                                    f"{problems.items[0][0]}: {problems.items[0][1]}."
                                                    if problems.items else ""))
    empty = sum(1 for r in train_records if not r.boxes)
    report.insert(0, f"{title} {root}: {len(tgood)} training images with {boxes} boxes in "
                     f"{len(class_names)} classes, {c}×{h}×{w}; {split_note}."
                     + (f" {empty} image(s) have no boxes (background)." if empty else ""))
    report.extend(problems.report())
    report.extend(_summarise(skipped + vskipped, root))
    labels = torch.from_numpy(label_array(train_records))
    val_labels = (torch.from_numpy(label_array([records[i] for _, i in vgood])) if vgood else None)
    if val_labels is not None and val_labels.shape[1] != labels.shape[1]:   # one M per dataset
        val_labels = _padded(val_labels, labels.shape[1])
        labels = _padded(labels, val_labels.shape[1])
    ctx.report_progress("Images ready", 1.0)
    if block is not None:   # views of the one block, in tgood / vgood order: never stacked
        timages, vimages = split_rows(block, used, train_rows, val_rows)
        images = torch.from_numpy(timages)
        val_images = torch.from_numpy(vimages) if len(vimages) else None
        mean, std = channel_stats(images)
        return LoadedDataset(images, labels, val_images, val_labels, list(class_names), mean, std, report,
                             skipped_files=skipped + vskipped, task="detection")
    return _streamed(title, root, shape, [(p, labels[k]) for k, (p, _) in enumerate(tgood)], tslots,
                     [(p, val_labels[k]) for k, (p, _) in enumerate(vgood)] if val_labels is not None else [],
                     vslots, cache, stamps, class_names, report, skipped + vskipped, ctx)


def _padded(labels: torch.Tensor, most: int) -> torch.Tensor:
    if labels.shape[1] >= most:
        return labels
    pad = torch.full((labels.shape[0], most - labels.shape[1], 5), -1.0)
    return torch.cat([labels, pad], dim=1)


def _streamed(title: str, root: Path, shape: tuple[int, int, int], train_items: list, train_slots: list[int],
              val_items: list, val_slots: list[int], cache, stamps: list[str], class_names: list[str],
              report: list[str], skipped: list[tuple[Path, str]], ctx: LoadContext) -> LoadedDataset:
    """Lazy datasets yielding (uint8 C×H×W, float32 M×5 boxes): the set is over the in-memory limit."""
    train_ds = FolderDataset(train_items, shape, root=root, cache=cache, slots=train_slots,
                             stamps=[stamps[s] for s in train_slots])
    val_ds = (FolderDataset(val_items, shape, root=root, cache=cache, slots=val_slots,
                            stamps=[stamps[s] for s in val_slots]) if val_items else None)
    rng = np.random.default_rng(ctx.seed)
    pick = rng.choice(len(train_ds), size=min(STATS_SAMPLE, len(train_ds)), replace=False)
    mean, std = channel_stats(train_ds[int(i)][0] for i in pick)
    report.append(f"{title}: the images are more than the {MAX_IN_MEMORY_BYTES / 1024 ** 3:.0f} GiB "
                  f"in-memory limit as tensors: they are read from disk during training (slower).")
    return LoadedDataset(None, None, None, None, list(class_names), mean, std, report, train_dataset=train_ds,
                         val_dataset=val_ds, skipped_files=skipped, task="detection")
