"""The user's own regression data: an image folder and a CSV of numbers per image.

The CSV (``targets.csv`` in the folder unless another is named) must start with the
header ``file,<target1>,<target2>,…``; each further line names an image by its path
relative to the folder and gives one number per target. The file is untrusted: its size
is checked before a byte is read (``MAX_CSV_BYTES``), its lines are counted as they are
read (``MAX_ROWS``), and a line that cannot be used is reported with the CSV's name and
its line number and left out: a missing image, a value that is not a finite number
(``nan`` and ``inf`` included), a wrong number of values, a file already named on an
earlier line, and any name that leads outside the folder (absolute paths, ``..``,
links pointing out) — the CSV may only name images inside the folder it came with.
A problem with the file as a whole (missing, empty, too big, not UTF-8, no header) is a
DatasetError saying what to write.

Images are decoded as image folders decode them (image_folder.py: the same checks,
pixel limit, decoded-image cache, in-memory limit and lazy datasets), so a corrupt
image is left out with its reason and the CSV line that named it. In memory they are
decoded straight into one uint8 block (image_memory.py), the training and validation
tensors views of it, their targets taken in the same order. Pretrained weights'
centre crop is not applied (a crop could cut away what the values measure, as box
datasets are never cropped): images are resized whole to the network's Input. Without a separate
validation CSV the lines are split by the validation split, shuffled with the seed
(``stratified_split`` over one class: the image folder's rounding). Targets are float32
(N, T) raw values, in the CSV's order.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import torch

from visionstudio.core.data.base import (
    DatasetError,
    DatasetInfo,
    LoadContext,
    LoadedDataset,
    channel_stats,
    stratified_split,
)
from visionstudio.core.data.image_cache import file_stamp
from visionstudio.core.data.image_dataset import FolderDataset, relative_name
from visionstudio.core.data.image_folder import (
    DEFAULT_SHAPE,
    MAX_IN_MEMORY_BYTES,
    STATS_SAMPLE,
    _open_cache,
    _scan,
)
from visionstudio.core.data.image_memory import new_block, split_rows

DEFAULT_CSV = "targets.csv"
MAX_CSV_BYTES = 64 * 1024 ** 2    # checked on the file's size before it is read
MAX_ROWS = 1_000_000              # data lines
MAX_TARGETS = 256                 # columns after ``file``
MAX_NAME = 64                     # characters of a target name
REPORT_LINES = 20                 # problems listed one by one in the report


@dataclass
class CsvTargets:
    """What a CSV gives: the target names, the usable lines and every problem."""

    csv_path: Path
    names: list[str]
    paths: list[Path] = field(default_factory=list)       # folder / name, as the CSV spells it
    lines: list[int] = field(default_factory=list)        # the CSV line of each
    values: list[tuple[float, ...]] = field(default_factory=list)
    # (line, file or the CSV, "x.csv line N: why")
    problems: list[tuple[int, Path, str]] = field(default_factory=list)


def csv_path_for(params: dict) -> Path:
    """The CSV a dataset's params name: empty -> targets.csv in the folder; a relative
    path is taken from the folder."""
    folder = Path(os.path.expanduser(params["folder"].strip()))
    text = params.get("csv", "").strip()
    if not text:
        return folder / DEFAULT_CSV
    path = Path(os.path.expanduser(text))
    return path if path.is_absolute() else folder / path


def _read_text(csv_path: Path) -> str:
    if not csv_path.exists():
        raise DatasetError(f"The CSV file {csv_path} does not exist. Write one with the header "
                           f"file,<target1>,<target2>,… and one line per image.")
    if not csv_path.is_file():
        raise DatasetError(f"{csv_path} is not a file. Choose the CSV of targets.")
    size = csv_path.stat().st_size
    if size > MAX_CSV_BYTES:
        raise DatasetError(f"{csv_path.name} is {size / 1024 ** 2:.0f} MB, more than the "
                           f"{MAX_CSV_BYTES // 1024 ** 2} MB a CSV of targets may have; is it the "
                           f"right file?")
    try:
        data = csv_path.read_bytes()[:MAX_CSV_BYTES + 1]   # the file may grow after the check
    except OSError as exc:
        raise DatasetError(f"{csv_path} cannot be read ({exc.strerror or exc}).") from None
    if len(data) > MAX_CSV_BYTES:
        raise DatasetError(f"{csv_path.name} grew past {MAX_CSV_BYTES // 1024 ** 2} MB while it was "
                           f"read; is it the right file?")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{csv_path.name} is not UTF-8 text (byte {exc.start}); save it as "
                           f"UTF-8 CSV.") from None
    if not text.strip():
        raise DatasetError(f"{csv_path.name} is empty. Write the header file,<target1>,… and "
                           f"one line per image, e.g. file,size then cat1.jpg,3.5.")
    return text


def _header(row: list[str], where: str) -> list[str]:
    cells = [c.strip() for c in row]
    if not cells or cells[0].lower() != "file" or len(cells) < 2:
        shown = ",".join(row)[:80]
        raise DatasetError(f"{where}: the first line must be the header file,<target1>,<target2>,… "
                           f"(e.g. file,size,angle); it reads {shown!r}.")
    names = cells[1:]
    if len(names) > MAX_TARGETS:
        raise DatasetError(f"{where}: the header has {len(names)} targets; at most {MAX_TARGETS} "
                           f"are allowed.")
    for i, name in enumerate(names):
        if not name or len(name) > MAX_NAME or not name.isprintable():
            raise DatasetError(f"{where}: column {i + 2} of the header needs a name (printable, at "
                               f"most {MAX_NAME} characters); it reads {name[:80]!r}.")
        if name in names[:i]:
            raise DatasetError(f"{where}: the header names the target {name!r} twice; give each "
                               f"column its own name.")
    return names


def _image_path(name: str, folder: Path, real_folder: str) -> tuple[Path | None, str, str]:
    """(folder / name, its real path, "") for an image inside the folder; (None, "", why)
    otherwise."""
    if not name:
        return None, "", "no file name in the first column"
    if "\x00" in name:
        return None, "", f"{name!r} is not a valid file name"
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() \
            or PureWindowsPath(name).drive or name.startswith("~"):
        return None, "", f"{name} is an absolute path; name images relative to the folder {folder}"
    path = folder / name
    real = os.path.realpath(path)
    if os.path.commonpath([real, real_folder]) != real_folder:
        return None, "", (f"{name} leads outside the folder {folder} (through '..' or a link); the "
                          f"CSV may only name images inside it")
    if not os.path.exists(real):
        return None, "", f"{name} is not in the folder {folder}"
    if not os.path.isfile(real):
        return None, "", f"{name} is not a file"
    return path, real, ""


def _numbers(cells: list[str], names: list[str]) -> tuple[tuple[float, ...] | None, str]:
    out = []
    for name, text in zip(names, cells):
        text = text.strip()
        try:
            value = float(text)
        except ValueError:
            return None, (f"{name} is empty" if not text else f"{name} is {text[:40]!r}, not a number")
        if not math.isfinite(value):
            return None, f"{name} is {text[:40]}, not a finite number"
        out.append(value)
    return tuple(out), ""


def read_targets(csv_path: Path, folder: Path) -> CsvTargets:
    """Every line of the CSV checked; DatasetError for a file that cannot be used at all."""
    text = _read_text(csv_path)
    reader = csv.reader(io.StringIO(text, newline=""))
    where = csv_path.name
    try:
        header = next((row for row in reader if any(c.strip() for c in row)), None)
        if header is None:
            raise DatasetError(f"{where} is empty. Write the header file,<target1>,… first.")
        names = _header(header, f"{where} line {reader.line_num}")
        table = CsvTargets(csv_path, names)
        real_folder = os.path.realpath(folder)
        seen: dict[str, int] = {}
        for row in reader:
            line = reader.line_num
            if not any(c.strip() for c in row):
                continue
            if len(table.lines) + len(table.problems) >= MAX_ROWS:
                raise DatasetError(f"{where} has more than {MAX_ROWS:,} lines of targets; split it "
                                   f"or use fewer images.")
            why, path = _row_problem(row, names, folder, real_folder, seen, line)
            if why:
                table.problems.append((line, path or csv_path, f"{where} line {line}: {why}"))
                continue
            values, _ = _numbers(row[1:], names)
            table.paths.append(folder / row[0].strip())
            table.lines.append(line)
            table.values.append(values)   # type: ignore[arg-type]
    except csv.Error as exc:
        raise DatasetError(f"{where} line {reader.line_num} cannot be read as CSV ({exc}).") from None
    return table


def _row_problem(row: list[str], names: list[str], folder: Path, real_folder: str,
                 seen: dict[str, int], line: int) -> tuple[str, Path | None]:
    """Why a data line is left out ("" when it is usable), and the image it names."""
    if len(row) != len(names) + 1:
        return (f"{len(row)} values, but the header has {len(names) + 1} columns "
                f"(file, {', '.join(names)})"[:300], None)
    name = row[0].strip()
    path, real, why = _image_path(name, folder, real_folder)
    if path is None:
        return why, None
    _, why = _numbers(row[1:], names)
    if why:
        return why, path
    if real in seen:
        return f"{name} is already on line {seen[real]}; this line is left out", path
    seen[real] = line
    return "", path


def _check_folder(params: dict) -> Path:
    text = params["folder"].strip()
    if not text:
        raise DatasetError("Choose the image folder: the CSV names images inside it.")
    folder = Path(os.path.expanduser(text))
    if not folder.is_dir():
        raise DatasetError(f"The image folder {folder} does not exist or is not a folder.")
    return folder


def _report(skipped: list[tuple[Path, str]]) -> list[str]:
    lines = [why for _, why in skipped[:REPORT_LINES]]
    if len(skipped) > REPORT_LINES:
        lines.append(f"… and {len(skipped) - REPORT_LINES} more lines left out (see the list of "
                     f"skipped files).")
    return lines


def load_image_csv(params: dict, ctx: LoadContext) -> LoadedDataset:
    shape = tuple(ctx.target_shape) if ctx.target_shape else DEFAULT_SHAPE
    c, h, w = shape
    if c not in (1, 3):
        raise DatasetError(f"Image folders give 1-channel (grayscale) or 3-channel (RGB) images; "
                           f"the network's Input has {c} channels. Set its channels to 1 or 3.")
    folder = _check_folder(params)
    ctx.report_progress("Reading the CSV…", 0.0)
    table = read_targets(csv_path_for(params), folder)
    report: list[str] = []
    if ctx.preprocessing is not None:   # a crop could cut away what the values measure
        report.append(f"{ctx.preprocessing.source}'s centre crop is for classification images; "
                      f"these images are resized whole to the network's Input instead.")
    files = [(p, i) for i, p in enumerate(table.paths)]
    block = new_block(len(files), shape, MAX_IN_MEMORY_BYTES)   # None: over the limit, lazy
    stamps = [file_stamp(p) for p, _ in files]
    cache = _open_cache([p for p, _ in files], stamps, shape, report, [folder])
    good, _, bad, slots = _scan(files, shape, ctx, block is not None, "the CSV's", 0.05, 0.9, cache,
                                into=block)
    row_of = {p: i for i, p in enumerate(table.paths)}
    problems = table.problems + [
        (table.lines[row_of[p]], p,
         f"{table.csv_path.name} line {table.lines[row_of[p]]}: {relative_name(p, folder)}: {why}")
        for p, why in bad]
    skipped = [(p, why) for _, p, why in sorted(problems, key=lambda item: item[0])]
    if not good:
        first = "; ".join(why for _, why in skipped[:3]) or f"{table.csv_path.name} has no lines of targets"
        raise DatasetError(f"{table.csv_path.name} gives no usable image ({len(skipped)} line(s) "
                           f"left out): {first}.")
    rows = [i for _, i in good]
    targets = np.asarray([table.values[i] for i in rows], dtype=np.float32).reshape(len(rows), -1)
    train_idx, val_idx = stratified_split([0] * len(rows), ctx.val_split, ctx.seed)
    split = (f"validation: {len(val_idx)} of them ({ctx.val_split:.0%}, seed {ctx.seed})"
             if val_idx else "no validation images")
    report.insert(0, f"Image CSV {table.csv_path}: {len(rows)} images, {c}×{h}×{w}, "
                     f"targets {', '.join(table.names)}; {split}.")
    report.extend(_report(skipped))
    data = LoadedDataset(None, None, None, None, [], (0.0,) * c, (1.0,) * c, report,
                         skipped_files=skipped, task="regression", target_names=list(table.names))
    if block is not None:   # the good rows lead the block (row k: good[k]); moved, not copied
        train_rows, val_rows = split_rows(block, len(good), train_idx, val_idx)
        data.train_images = torch.from_numpy(train_rows)
        data.train_labels = torch.from_numpy(targets[train_idx])
        if val_idx:
            data.val_images, data.val_labels = torch.from_numpy(val_rows), torch.from_numpy(targets[val_idx])
        data.mean, data.std = channel_stats(data.train_images)
    else:
        def lazy(idx: list[int]) -> FolderDataset:
            items = [(good[i][0], torch.from_numpy(targets[i])) for i in idx]
            return FolderDataset(items, shape, root=folder, cache=cache, slots=[slots[i] for i in idx],
                                 stamps=[stamps[good[i][1]] for i in idx])
        data.train_dataset = lazy(train_idx)
        data.val_dataset = lazy(val_idx) if val_idx else None
        rng = np.random.default_rng(ctx.seed)
        pick = rng.choice(len(train_idx), size=min(STATS_SAMPLE, len(train_idx)), replace=False)
        data.mean, data.std = channel_stats(data.train_dataset[int(i)][0] for i in pick)
        report.append(f"The images need more than the {MAX_IN_MEMORY_BYTES / 1024 ** 3:.0f} GiB "
                      f"in-memory limit as tensors: they are read from disk during training.")
    ctx.report_progress("Images ready", 1.0)
    return data


def describe_image_csv(params: dict) -> DatasetInfo:
    """The target count from the CSV's first line (a cheap read), when it can be had."""
    targets = None
    if params.get("folder", "").strip():
        try:
            path = csv_path_for(params)
            if not path.is_file():   # a pipe would block the caller (the GUI thread) on open
                raise OSError("not a regular file")
            with open(path, encoding="utf-8-sig", newline="") as f:
                first = next(csv.reader([f.readline(64 * 1024)]), [])
            if first and first[0].strip().lower() == "file" and 1 < len(first) <= MAX_TARGETS + 1:
                targets = len(first) - 1
        except (OSError, UnicodeDecodeError, csv.Error):
            targets = None
    return DatasetInfo("The image CSV", None, None, channels=(1, 3), task="regression",
                       targets=targets)
