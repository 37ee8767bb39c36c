"""YOLO-format detection datasets: images with one text file of boxes each.

A label file has one line per box, ``class cx cy w h``, the box's centre and size as
fractions of the image; an image without a label file has no objects (YOLO's rule, said
in the report). Lines of ``class x1 y1 x2 y2 …`` (Ultralytics' segmentation polygons, at
least three points) are read as their polygon's bounding box. Layouts found, in order:

* the ``train:`` / ``val:`` folders a data.yaml names (relative to the dataset folder,
  which they must stay inside; Roboflow's ``../train/images`` is read as ``train/images``);
* ``images/train`` + ``images/val`` (or ``valid``) with ``labels/…`` beside (Ultralytics);
* ``train/images`` + ``valid/images`` (or ``val``) with ``…/labels`` beside (Roboflow);
* ``images/`` + ``labels/`` (split by the validation split);
* images and their .txt files side by side in the folder (labelImg).

The folder chosen is the dataset's root (a data.yaml's ``path:`` is not followed). A
label for ``images/x/a.jpg`` is ``labels/x/a.txt``. Class names come from data.yaml
(``names:`` as a list or a {index: name} mapping, or ``nc:`` alone), else classes.txt or
obj.names (one name a line). Label and names files are read only below a size cap; a
label file with no image is reported, like every bad line (file and line number).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from visionstudio.core.data.base import DatasetError, DatasetInfo, LoadContext, LoadedDataset
from visionstudio.core.data.box_labels import (
    IMAGE_SUFFIXES,
    BoxRecord,
    LabelProblems,
    cap_boxes,
    check_box,
    class_problem,
    preview_records,
)
from visionstudio.core.data.image_scan import FolderScanner

MAX_LABEL_BYTES = 1 << 20       # one image's label file
MAX_NAMES_BYTES = 1 << 20       # data.yaml, classes.txt
MAX_CLASSES = 1000
YAML_NAMES = ("data.yaml", "data.yml", "dataset.yaml", "dataset.yml")
NAMES_FILES = ("classes.txt", "labels/classes.txt", "obj.names")
TITLE = "YOLO dataset"


def _small_text(path: Path, cap: int, what: str) -> str:
    try:
        if path.stat().st_size > cap:
            raise DatasetError(f"{what} {path} is larger than {cap // 1024} KB; it cannot be the file "
                               f"it is named after.")
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError(f"{what} {path} is not UTF-8 text.") from None
    except OSError as exc:
        raise DatasetError(f"{what} {path} cannot be read ({exc.strerror or exc}).") from None


def _yaml_file(root: Path) -> Path | None:
    return next((root / n for n in YAML_NAMES if (root / n).is_file()), None)


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(_small_text(path, MAX_NAMES_BYTES, "The dataset file"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        why = getattr(exc, "problem", None) or exc
        raise DatasetError(f"{path} is not valid YAML{where}: {why}.") from None
    except RecursionError:
        raise DatasetError(f"{path} is nested too deeply to be a dataset file.") from None
    if not isinstance(data, dict):
        raise DatasetError(f"{path} must be a mapping with names: (the class names), not "
                           f"{type(data).__name__}.")
    return data


def _names_from_yaml(data: dict[str, Any], path: Path) -> list[str] | None:
    names, nc = data.get("names"), data.get("nc")
    if names is None:
        if nc is None:
            return None
        if isinstance(nc, bool) or not isinstance(nc, int) or not 1 <= nc <= MAX_CLASSES:
            raise DatasetError(f"{path}: nc must be a class count from 1 to {MAX_CLASSES}, not {nc!r}.")
        return [f"class{i}" for i in range(nc)]
    if isinstance(names, dict):
        keys = list(names)
        if any(isinstance(k, bool) or not isinstance(k, int) for k in keys) or \
                sorted(keys) != list(range(len(keys))):
            raise DatasetError(f"{path}: names as a mapping must number the classes 0, 1, 2, … "
                               f"without gaps (found {sorted(map(str, keys))[:10]}).")
        names = [names[i] for i in range(len(keys))]
    if not isinstance(names, list) or not names:
        raise DatasetError(f"{path}: names must be a list of class names (or a mapping index: name).")
    if len(names) > MAX_CLASSES:
        raise DatasetError(f"{path}: {len(names)} class names, more than the {MAX_CLASSES} allowed.")
    if any(not isinstance(n, (str, int, float)) or isinstance(n, bool) for n in names):
        raise DatasetError(f"{path}: every class name must be text.")
    return [str(n) for n in names]


def class_names(root: Path, yaml_data: dict[str, Any] | None) -> tuple[list[str], str]:
    """(names, where they came from); DatasetError when no names file says them."""
    yaml_path = _yaml_file(root)
    if yaml_data is not None and yaml_path is not None:
        names = _names_from_yaml(yaml_data, yaml_path)
        if names is not None:
            return names, yaml_path.name
    for rel in NAMES_FILES:
        path = root / rel
        if path.is_file():
            text = _small_text(path, MAX_NAMES_BYTES, "The class names file")
            names = [n.strip() for n in text.splitlines() if n.strip()]
            if not names:
                raise DatasetError(f"{path} lists no class names (one name a line).")
            if len(names) > MAX_CLASSES:
                raise DatasetError(f"{path}: {len(names)} class names, more than the {MAX_CLASSES} allowed.")
            return names, rel
    raise DatasetError(f"{root} does not say its class names. Add a data.yaml with names: [cat, dog] "
                       f"or a classes.txt with one name a line (line 1 is class 0).")


def _inside(root: Path, text: Any, what: str) -> Path | None:
    """A data.yaml path, relative to the dataset folder and kept inside it."""
    if not isinstance(text, str) or not text.strip():
        return None
    rel = Path(text.strip())
    while rel.parts and rel.parts[0] == "..":   # Roboflow's "../train/images"
        rel = Path(*rel.parts[1:])
    if rel.is_absolute() or ".." in rel.parts:
        raise DatasetError(f"The data.yaml's {what}: {text!r} leaves the dataset folder; give a folder "
                           f"inside {root}.")
    return root / rel


def _labels_dir(images: Path) -> Path:
    """Ultralytics' rule: the last 'images' part of the path becomes 'labels'."""
    parts = list(images.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts)
    return images   # labels beside the images


def _splits(root: Path, yaml_data: dict[str, Any] | None, report: list[str]) -> list[tuple[str, Path]]:
    """[(role, images folder)]: role "training" first, "validation" when the set has one."""
    if yaml_data is not None and yaml_data.get("train") is not None:
        train = _inside(root, yaml_data.get("train"), "train")
        val = _inside(root, yaml_data.get("val"), "val")
        if train is not None and train.is_dir():
            return [("training", train)] + ([("validation", val)] if val is not None and val.is_dir() else [])
        report.append(f"The data.yaml's train: {str(yaml_data.get('train'))[:80]} is not a folder inside "
                      f"{root} (lists of folders and image-list files are not read): the usual layouts "
                      f"were searched instead.")
    for a, b in (("images/train", ("images/val", "images/valid")),
                 ("train/images", ("valid/images", "val/images"))):
        if (root / a).is_dir():
            val = next((root / v for v in b if (root / v).is_dir()), None)
            return [("training", root / a)] + ([("validation", val)] if val is not None else [])
    if (root / "images").is_dir():
        return [("training", root / "images")]
    return [("training", root)]


def parse_label_text(text: str, where: str, classes: int, problems: LabelProblems) -> list:
    """Boxes of one label file's text; each bad line reported as ``where line N``."""
    boxes = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        at = f"{where} line {number}"
        if len(fields) != 5 and (len(fields) < 7 or len(fields) % 2 == 0):
            problems.add(at, f"malformed line: expected 5 numbers (class cx cy w h), found {len(fields)}")
            continue
        try:
            values = [float(f) for f in fields]
        except ValueError:
            bad = next(f for f in fields if not _is_number(f))
            problems.add(at, f"not a number: {bad[:40]!r}")
            continue
        why = class_problem(values[0], classes)
        if why is not None:
            problems.add(at, why)
            continue
        if len(values) == 5:
            _, cx, cy, w, h = values
            corners = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        else:   # a polygon: its bounding box
            xs, ys = values[1::2], values[2::2]
            corners = (min(xs), min(ys), max(xs), max(ys))
        box, why = check_box(int(values[0]), *corners)
        if box is None:
            problems.add(at, why or "bad box")
        else:
            boxes.append(box)
    return boxes


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


_MISSING = "\0missing"


def _label_text(label: Path, where: str, problems: LabelProblems) -> str | None:
    """The label file's text, _MISSING when there is none (the image has no objects), None
    when it cannot be used (reported; its image is left out). A pipe or device named like
    a label is never opened: reading it could wait forever."""
    try:
        st = label.stat()
        if not stat.S_ISREG(st.st_mode):
            problems.add(where, "cannot be read (not a regular file): its image is left out")
            return None
        if st.st_size > MAX_LABEL_BYTES:
            problems.add(where, f"label file larger than {MAX_LABEL_BYTES // 1024} KB: its image is left out")
            return None
        return label.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        return _MISSING
    except UnicodeDecodeError:
        problems.add(where, "not UTF-8 text: its image is left out")
    except OSError as exc:
        problems.add(where, f"cannot be read ({exc.strerror or exc}): its image is left out")
    return None


def _records(root: Path, images: Path, role: str, scanner: FolderScanner, classes: int,
             problems: LabelProblems, notes: dict[str, int]) -> list[BoxRecord]:
    labels = _labels_dir(images)
    listed = scanner.list(images, role)
    records, expected = [], set()
    for path in listed:
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        label = labels / path.relative_to(images).with_suffix(".txt")
        expected.add(label)
        where = _relative(label, root)
        record = BoxRecord(path, [], where)
        text = _label_text(label, where, problems)
        if text is None:
            continue
        if text is _MISSING:
            notes["unlabelled"] += 1
            records.append(record)
            continue
        record.boxes = parse_label_text(text, where, classes, problems)
        cap_boxes(record, problems)
        records.append(record)
    label_files = listed if labels == images else FolderScanner().list(labels, role)
    for orphan in sorted(p for p in label_files if p.suffix == ".txt" and p not in expected
                         and p.name != "classes.txt"):
        problems.add(_relative(orphan, root), "missing image: no image file of this name beside "
                                              f"{_relative(images, root) or '.'}")
    return records


Listing = tuple[Path, list[str], list[BoxRecord], list[BoxRecord] | None, LabelProblems, list[str]]


def _listing(params: dict, ctx: LoadContext | None = None) -> Listing:
    text = params["folder"].strip()
    if not text:
        raise DatasetError("Choose the YOLO dataset folder (with images/ and labels/, and a data.yaml "
                           "or classes.txt).")
    root = Path(os.path.expanduser(text))
    if not root.is_dir():
        raise DatasetError(f"The YOLO dataset folder {root} does not exist or is not a folder.")
    yaml_path = _yaml_file(root)
    yaml_data = _read_yaml(yaml_path) if yaml_path is not None else None
    names, source = class_names(root, yaml_data)
    problems, notes, report = LabelProblems(), {"unlabelled": 0}, []
    splits = _splits(root, yaml_data, report)
    scanner = FolderScanner([folder for _, folder in splits],
                            check=ctx.check_cancel if ctx is not None else None)
    found = {role: _records(root, folder, role, scanner, len(names), problems, notes)
             for role, folder in splits}
    train, val = found["training"], found.get("validation")
    if not train:
        raise DatasetError(f"{splits[0][1]} holds no images ({', '.join(IMAGE_SUFFIXES)}).")
    if notes["unlabelled"] == len(train) + len(val or []):
        images = splits[0][1]
        raise DatasetError(f"None of the images in {images} has a label file: the boxes of "
                           f"{images / 'a.jpg'} belong in {_labels_dir(images) / 'a.txt'}, one line per box "
                           f"(class cx cy w h).")
    report.insert(0, f"Class names from {source}: {', '.join(names[:20])}{' …' if len(names) > 20 else ''}.")
    if notes["unlabelled"]:
        report.append(f"{notes['unlabelled']} image(s) have no label file: used as images without objects "
                      f"(YOLO's rule).")
    report.extend(scanner.report())
    return root, names, train, val, problems, report


def load_yolo(params: dict, ctx: LoadContext) -> LoadedDataset:
    from visionstudio.core.data.detect_images import load_box_records

    ctx.report_progress("Reading the YOLO labels…", 0.0)
    root, names, train, val, problems, report = _listing(params, ctx)
    return load_box_records(TITLE, root, train, val, names, problems, report, ctx)


def preview_yolo(params: dict, ctx: LoadContext, count: int) -> dict:
    _, names, train, val, _, _ = _listing(params, ctx)
    return preview_records(train, len(val or []), names, count)


def describe_yolo(params: dict) -> DatasetInfo:
    classes = None
    text = params.get("folder", "").strip()
    if text:
        root = Path(os.path.expanduser(text))
        try:
            yaml_path = _yaml_file(root) if root.is_dir() else None
            names, _ = class_names(root, _read_yaml(yaml_path) if yaml_path is not None else None)
            classes = len(names)
        except DatasetError:
            classes = None
    return DatasetInfo(TITLE, None, classes, channels=(1, 3), task="detection")
