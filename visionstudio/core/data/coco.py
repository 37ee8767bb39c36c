"""COCO-format detection datasets: an images folder and an instances JSON file.

The JSON has ``images`` ({id, file_name, width, height}), ``annotations`` ({id,
image_id, category_id, bbox [x, y, w, h] in pixels, iscrowd}) and ``categories`` ({id,
name}). Classes are the categories in the order of their ids (COCO's ids have gaps; the
class index is the position). The file is untrusted: it is refused above
``MAX_JSON_BYTES`` before it is read, too deep nesting or a wrong top-level type is one
DatasetError, and every entry that is wrong (a type, a missing field, an unknown image
or category, a box with no area or outside its image, a file name that leaves the images
folder) is reported by its index and id and left out. Crowd annotations (iscrowd 1) are
regions, not objects: left out and counted. An image without annotations is kept with
no objects (COCO has such images). ``width``/``height`` are taken from the JSON, as the
format says; when missing they are read from the image file's header.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path, PurePosixPath
from typing import Any

from PIL import Image

from visionstudio.core.data.base import DatasetError, DatasetInfo, LoadContext, LoadedDataset
from visionstudio.core.data.box_labels import (
    BoxRecord,
    LabelProblems,
    cap_boxes,
    check_box,
    preview_records,
)

MAX_JSON_BYTES = 256 * 1024 ** 2
MAX_CLASSES = 1000
MAX_SIDE = 1_000_000           # a width or height above this is no image size
TITLE = "COCO dataset"


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        what = "is not a regular file" if path.exists() else "does not exist"
        raise DatasetError(f"The annotations file {path} {what}. Choose the instances JSON "
                           f"(e.g. annotations/instances_train.json).")
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise DatasetError(f"The annotations file {path} is {size / 1024 ** 2:.0f} MB, more than the "
                           f"{MAX_JSON_BYTES // 1024 ** 2} MB this app reads; split it into smaller files.")
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise DatasetError(f"The annotations file {path} is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise DatasetError(f"The annotations file {path} is not valid JSON (line {exc.lineno}, column "
                           f"{exc.colno}: {exc.msg}).") from None
    except RecursionError:
        raise DatasetError(f"The annotations file {path} is nested too deeply to be COCO JSON.") from None
    except OSError as exc:
        raise DatasetError(f"The annotations file {path} cannot be read ({exc.strerror or exc}).") from None
    if not isinstance(data, dict):
        raise DatasetError(f"The annotations file {path} must hold a JSON object with images, annotations "
                           f"and categories, not a {type(data).__name__}.")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            found = "missing" if key not in data else f"a {type(data[key]).__name__}"
            raise DatasetError(f"The annotations file {path} is not COCO instances JSON: its {key!r} must "
                               f"be a list ({found}).")
    return data


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _categories(data: dict, name: str, problems: LabelProblems) -> tuple[list[str], dict[int, int]]:
    """(class names, category id -> class index)."""
    good: dict[int, str] = {}
    for i, cat in enumerate(data["categories"]):
        where = f"{name} categories[{i}]"
        if not isinstance(cat, dict) or not _whole(cat.get("id")):
            problems.add(where, "malformed category: it needs a whole-number id")
        elif not isinstance(cat.get("name"), str) or not cat["name"].strip():
            problems.add(f"{where} (id {cat['id']})", "malformed category: it needs a name")
        elif cat["id"] in good:
            problems.add(f"{where} (id {cat['id']})", "duplicate category id: left out")
        else:
            good[cat["id"]] = cat["name"].strip()[:200]
    if not good:
        raise DatasetError(f"{name} lists no usable categories; COCO needs categories: "
                           f"[{{\"id\": 1, \"name\": \"cat\"}}, …].")
    if len(good) > MAX_CLASSES:
        raise DatasetError(f"{name} lists {len(good)} categories, more than the {MAX_CLASSES} allowed.")
    ids = sorted(good)
    return [good[i] for i in ids], {cid: k for k, cid in enumerate(ids)}


def _confined(images: Path, file_name: str) -> Path | None:
    """The image's path inside the images folder; None when the name leaves it."""
    if "\\" in file_name:
        file_name = file_name.replace("\\", "/")
    rel = PurePosixPath(file_name)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts or ":" in rel.parts[0]:
        return None
    return images.joinpath(*rel.parts)


def _header_size(path: Path) -> tuple[int, int] | None:
    try:
        with Image.open(path) as img:
            return img.size
    except Exception:  # noqa: BLE001 - an unreadable file is reported when the images are decoded
        return None


Sized = dict[int, tuple[BoxRecord, int, int]]     # image id -> (record, width, height)


def _images(data: dict, name: str, folder: Path, problems: LabelProblems) -> Sized:
    out: Sized = {}
    seen: set[Path] = set()
    for i, img in enumerate(data["images"]):
        where = f"{name} images[{i}]"
        if not isinstance(img, dict) or not _whole(img.get("id")):
            problems.add(where, "malformed image entry: it needs a whole-number id")
            continue
        where = f"{where} (id {img['id']})"
        file_name = img.get("file_name")
        path = _confined(folder, file_name) if isinstance(file_name, str) else None
        if path is None:
            problems.add(where, f"file name {str(file_name)[:80]!r} leaves the images folder (or is no "
                                f"file name)")
            continue
        if img["id"] in out or path in seen:
            problems.add(where, "duplicate image id or file name: left out")
            continue
        width, height = img.get("width"), img.get("height")
        if not (_whole(width) and _whole(height) and 0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
            size = _header_size(path) if path.is_file() else None
            if size is None:
                problems.add(where, f"missing image: {file_name[:80]} cannot be opened in {folder}")
                continue
            width, height = size
        seen.add(path)
        out[img["id"]] = (BoxRecord(path, [], where), width, height)
    return out


def _annotate(data: dict, name: str, images: dict, classes: dict[int, int], problems: LabelProblems) -> int:
    """Checked boxes into the records; returns how many crowd regions were left out."""
    crowd = 0
    for i, ann in enumerate(data["annotations"]):
        ident = ann.get("id") if isinstance(ann, dict) else None
        where = f"{name} annotations[{i}]"
        where = f"{name} annotation id {ident} (annotations[{i}])" if _whole(ident) else where
        if not isinstance(ann, dict):
            problems.add(where, "malformed annotation: not a JSON object")
            continue
        if ann.get("iscrowd") in (1, True):
            crowd += 1
            continue
        image = images.get(ann.get("image_id")) if _whole(ann.get("image_id")) else None
        if image is None:
            problems.add(where, f"missing image: image_id {str(ann.get('image_id'))[:40]} is not in images")
            continue
        cat = ann.get("category_id")
        if not _whole(cat) or cat not in classes:
            problems.add(where, f"unknown class: category_id {str(cat)[:40]} is not in categories")
            continue
        bbox = ann.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)):
            problems.add(where, "malformed bbox: expected [x, y, width, height], four numbers")
            continue
        try:
            x, y, w, h = (float(v) for v in bbox)
        except OverflowError:
            x = math.inf
        if not all(math.isfinite(v) for v in (x, y, w, h)):
            problems.add(where, "not a finite number in bbox")
            continue
        record, width, height = image
        box, why = check_box(classes[cat], x / width, y / height, (x + w) / width, (y + h) / height)
        if box is None:
            problems.add(where, f"{why} (bbox {[round(v, 1) for v in bbox]} on a {width}×{height} image)")
        else:
            record.boxes.append(box)
    return crowd


def read_instances(images_text: str, annotations_text: str, role: str, problems: LabelProblems,
                   report: list[str], names: list[str] | None = None
                   ) -> tuple[Path, list[str], list[BoxRecord]]:
    """(images folder, class names, records) of one images folder + instances JSON."""
    if not images_text.strip() or not annotations_text.strip():
        raise DatasetError(f"Choose the {role} images folder and its instances JSON file.")
    folder = Path(os.path.expanduser(images_text.strip()))
    if not folder.is_dir():
        raise DatasetError(f"The {role} images folder {folder} does not exist or is not a folder.")
    path = Path(os.path.expanduser(annotations_text.strip()))
    data = _read_json(path)
    found, classes = _categories(data, path.name, problems)
    if names is not None and found != names:
        raise DatasetError(f"{path.name} has other categories than the training file ({', '.join(found[:5])} "
                           f"vs {', '.join(names[:5])}); both must list the same ones.")
    images = _images(data, path.name, folder, problems)
    crowd = _annotate(data, path.name, images, classes, problems)
    if crowd:
        report.append(f"{path.name}: left out {crowd} crowd region(s) (iscrowd 1: groups, not single "
                      f"objects).")
    records = [record for record, _, _ in images.values()]
    for record in records:
        cap_boxes(record, problems)
    if not records:
        raise DatasetError(f"{path.name} lists no usable images.")
    return folder, found, records


def _listing(params: dict) -> tuple[Path, list[str], list[BoxRecord], list[BoxRecord] | None,
                                    LabelProblems, list[str]]:
    problems, report = LabelProblems(), []
    folder, names, train = read_instances(params["images"], params["annotations"], "training", problems,
                                          report)
    val = None
    if params["val_images"].strip() or params["val_annotations"].strip():
        _, _, val = read_instances(params["val_images"], params["val_annotations"], "validation", problems,
                                   report, names)
    return folder, names, train, val, problems, report


def load_coco(params: dict, ctx: LoadContext) -> LoadedDataset:
    from visionstudio.core.data.detect_images import load_box_records

    ctx.report_progress("Reading the COCO annotations…", 0.0)
    folder, names, train, val, problems, report = _listing(params)
    ctx.check_cancel()
    return load_box_records(TITLE, folder, train, val, names, problems, report, ctx)


def preview_coco(params: dict, ctx: LoadContext, count: int) -> dict:
    _, names, train, val, _, _ = _listing(params)
    return preview_records(train, len(val or []), names, count)


def describe_coco(params: dict) -> DatasetInfo:
    return DatasetInfo(TITLE, None, None, channels=(1, 3), task="detection")
