"""Dataset checks: duplicates, train/validation leakage, unreadable files, class balance.

Works on the dataset a project names: an image folder is listed exactly as training lists
it (image_folder's listing: links followed, every real file once) and split with the same
``stratified_split``, ``val_split`` and ``seed`` as training, so a leak found here is one
training would see; a built-in set is checked from its loaded uint8 tensors. Each file is
fingerprinted once (checks_hash.py: file bytes, decoded pixels, a 64-bit dHash); files over
the app's ``MAX_PIXELS`` are refused from their header, never decoded.

Results are cached as JSON in the user cache folder (``cache_folder()/checks``), keyed like
the decoded-image cache by the file list with each file's size, mtime and inode, so an
unchanged folder is not read again; a changed, added or removed file makes a new key. The
latest result for a dataset + split is also kept under a key of the settings alone, so the
Train button can warn from it without listing or hashing anything (``last_result``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from visionstudio.core.data.base import Cancel, DatasetError, LoadContext, Progress, stratified_split
from visionstudio.core.data.checks_findings import TRAIN, VAL, CheckResult, Item, analyse
from visionstudio.core.data.checks_hash import NEAR_DISTANCE, fingerprint, tensor_fingerprints
from visionstudio.core.data.image_cache import cache_folder, dataset_key, file_stamp
from visionstudio.core.data.image_folder import _list_folders
from visionstudio.core.data.registry import DATASETS, load_dataset, unknown_dataset_message
from visionstudio.core.params import ConfigError, validate_section

VERSION = 2         # bump when a result's fields or meaning change (old cache files miss)
PROGRESS_EVERY = 64
KEEP_RESULTS = 64     # result files kept in the cache folder (the newest)

__all__ = ["CheckResult", "check_dataset", "checks_folder", "last_result"]


def checks_folder() -> Path:
    return cache_folder() / "checks"


def _settings_key(config: Any, val_split: float, seed: int) -> str:
    text = json.dumps([VERSION, config.key, config.params, float(val_split), int(seed)],
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _read(path: Path) -> CheckResult | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        result = CheckResult.from_dict(data)
    except (OSError, ValueError, TypeError, KeyError):
        return None      # no result yet, or a damaged cache file: check again
    result.cached = True
    return result


def _write(result: CheckResult, *paths: Path) -> None:
    text = json.dumps(result.to_dict())
    for path in paths:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass         # a read-only cache folder: the check still answers, uncached
    _prune(checks_folder())


def _prune(folder: Path, keep: int = KEEP_RESULTS) -> None:
    """Only the ``keep`` most recent results stay: each change of a folder makes a new key."""
    try:
        entries = [(e.stat().st_mtime_ns, e.path) for e in os.scandir(folder)
                   if e.name.endswith(".json") and e.is_file(follow_symlinks=False)]
    except OSError:
        return
    for _, path in sorted(entries, reverse=True)[keep:]:
        try:
            os.remove(path)
        except OSError:
            pass


def last_result(config: Any, val_split: float, seed: int) -> CheckResult | None:
    """The latest cached check of this dataset and split (possibly of older files), or None:
    cheap enough for the Train button (one small file read, nothing listed or hashed)."""
    return _read(checks_folder() / f"last-{_settings_key(config, val_split, seed)}.json")


def _params(config: Any) -> dict:
    key = getattr(config, "key", None)
    if not isinstance(key, str) or key not in DATASETS:
        raise DatasetError(unknown_dataset_message(key))
    spec = DATASETS.get(key)
    try:
        return validate_section(spec.params, dict(config.params or {}), "dataset.params")
    except ConfigError as exc:
        raise DatasetError(f"{spec.title}: {exc.problem} ({exc.path}).") from None


def check_dataset(config: Any, *, val_split: float = 0.1, seed: int = 0,
                  data_dir: str | Path | None = None, progress: Progress | None = None,
                  cancel: Cancel | None = None, use_cache: bool = True) -> CheckResult:
    """Check the dataset a ``DatasetConfig`` names; raise DatasetError in the user's words
    (DatasetCancelled when ``cancel`` says so)."""
    started = time.perf_counter()
    params = _params(config)
    ctx = LoadContext(val_split=float(val_split), seed=int(seed), progress=progress, cancel=cancel,
                      download=False, **({"data_dir": Path(data_dir)} if data_dir else {}))
    last = checks_folder() / f"last-{_settings_key(config, val_split, seed)}.json"
    if config.key == "image_folder":
        result = _check_folder(params, ctx, use_cache, last)
    else:
        result = _check_tensors(config, ctx, data_dir)
        _write(result, last)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _check_folder(params: dict, ctx: LoadContext, use_cache: bool, last: Path) -> CheckResult:
    listing = _list_folders(params, ctx)
    files = listing.train_files + listing.val_files + [(p, -1) for p, _ in listing.scanner.special]
    stamps = [file_stamp(p) for p, _ in files]
    roots = [listing.root] + ([listing.val_root] if listing.val_root is not None else [])
    key = dataset_key([p for p, _ in files], (0, 0, 0), f"checks-{VERSION}|{ctx.val_split}|{ctx.seed}|"
                      f"{NEAR_DISTANCE}", stamps, roots)
    path = checks_folder() / f"{key}.json"
    if use_cache and (hit := _read(path)) is not None:
        _write(hit, last)
        return hit
    records, thumbs = [], {}
    special = {p for p, _ in listing.scanner.special}
    reasons = dict(listing.scanner.special)
    for i, (p, _) in enumerate(files):
        if i % PROGRESS_EVERY == 0:
            ctx.check_cancel()
            ctx.report_progress(f"Checking the images… {i} of {len(files)}", i / max(1, len(files)))
        if p in special:
            records.append({"problem": reasons[p]})
            continue
        rec, thumb = fingerprint(p)
        records.append(rec)
        if thumb is not None:
            thumbs[i] = thumb
    n_train = len(listing.train_files)
    splits = [TRAIN] * n_train + [VAL] * (len(files) - n_train)
    if listing.val_root is None:   # validation is split off the training folder, as training does
        readable = [i for i in range(n_train) if "problem" not in records[i]]
        _, val_idx = stratified_split([files[i][1] for i in readable], ctx.val_split, ctx.seed)
        for k in val_idx:
            splits[readable[k]] = VAL
    items = [Item(str(p), splits[i], label) for i, (p, label) in enumerate(files)]
    result = analyse(str(listing.root), items, records, thumbs, listing.classes)
    ctx.report_progress("Dataset checked", 1.0)
    _write(result, path, last)
    return result


def _check_tensors(config: Any, ctx: LoadContext, data_dir: str | Path | None) -> CheckResult:
    loaded = load_dataset(config, val_split=ctx.val_split, seed=ctx.seed, data_dir=data_dir,
                          download=False, progress=ctx.progress, cancel=ctx.cancel)
    if loaded.train_images is None:
        raise DatasetError("This dataset is read from disk during training and cannot be checked "
                           "from memory.")
    ctx.report_progress("Checking the images…", 0.5)
    items, records, thumbs = [], [], {}
    for split, images, labels in ((TRAIN, loaded.train_images, loaded.train_labels),
                                  (VAL, loaded.val_images, loaded.val_labels)):
        if images is None:
            continue
        ctx.check_cancel()
        recs, small = tensor_fingerprints(images)
        base = len(records)
        records.extend(recs)
        thumbs.update({base + k: small[k] for k in range(len(recs))})
        items.extend(Item(f"{split} #{k}", split, int(lab)) for k, lab in enumerate(labels.tolist()))
    result = analyse(str(config.key), items, records, thumbs, list(loaded.class_names))
    ctx.report_progress("Dataset checked", 1.0)
    return result


def train_warning(config: Any, val_split: float, seed: int) -> str | None:
    """One sentence for the start of a run when the last check of this dataset found leakage
    or heavy imbalance (from the cache only: nothing is listed or hashed), else None."""
    result = last_result(config, val_split, seed)
    if result is None or not result.warnings:
        return None
    return ("The last data check found " + "; ".join(f.message for f in result.warnings)
            + " (Data panel or visionstudio check-data for details).")
