"""Built-in box datasets: several drawn shapes per image (detection) or exactly one
(localization), seeded, no download.

The shape kinds are those of shapes.py (the same inside rules); each is drawn inside a
square patch around its centre, so an image costs the patches, not a full-image pass
per shape. A shape lies inside the disc of its radius, and the disc inside the image,
so no shape is ever cut by the border. Placement is rejection sampling on those discs'
bounding squares: two squares share at most ``MAX_OVERLAP`` of the smaller one's area
(their tight boxes then at most about a fifth of the smaller box), so objects touch now
and then but barely hide one another; a slot with no free place
after ``TRIES`` draws is left empty (an image may hold fewer than asked then).

Boxes are tight: measured on each shape's own drawn mask, so a ring or a crescent gets
the box of its pixels, not of its disc. Labels follow ``LoadedDataset.task``: rows
[class, cx, cy, w, h] as fractions of the image; detection pads each image's rows to
``max_objects`` with rows of -1.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from visionstudio.core.data.base import DatasetError, DatasetInfo, LoadContext, LoadedDataset, channel_stats
from visionstudio.core.data.box_labels import pixel_boxes, random_split
from visionstudio.core.data.shapes import SHAPE_NAMES, SHAPE_RULES, _check_fits
from visionstudio.core.params import ParamSpec

MAX_OVERLAP = 0.1
TRIES = 24
DETECT_RADIUS = (0.09, 0.17)      # shape radius as a fraction of the image side
LOCALIZE_RADIUS = (0.15, 0.35)
_CHUNK = 1024                     # images drawn per pass: bounds temporary memory


def _place(n: int, slots: int, counts: np.ndarray, radius: np.ndarray, size: int,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres (cx, cy) and which slots found a place, drawn in a fixed order."""
    cx = np.zeros((n, slots))
    cy = np.zeros((n, slots))
    placed = np.zeros((n, slots), dtype=bool)
    for k in range(slots):
        r = radius[:, k]
        want = np.arange(n)[counts > k]
        for _ in range(TRIES):
            if want.size == 0:
                break
            rk = r[want]
            px = rng.uniform(0, 1, want.size) * (size - 2 * rk) + rk
            py = rng.uniform(0, 1, want.size) * (size - 2 * rk) + rk
            ok = np.ones(want.size, dtype=bool)
            for j in range(k):
                rj, qx, qy = radius[want, j], cx[want, j], cy[want, j]
                ix = np.clip(np.minimum(px + rk, qx + rj) - np.maximum(px - rk, qx - rj), 0, None)
                iy = np.clip(np.minimum(py + rk, qy + rj) - np.maximum(py - rk, qy - rj), 0, None)
                small = 4 * np.minimum(rk, rj) ** 2
                ok &= ~placed[want, j] | (ix * iy <= MAX_OVERLAP * small)
            got = want[ok]
            cx[got, k], cy[got, k], placed[got, k] = px[ok], py[ok], True
            want = want[~ok]
    return cx, cy, placed


def _colours(shape: tuple[int, ...], channels: int, rng: np.random.Generator) -> np.ndarray:
    """Foreground colours: bright, with some channels dark (colour never names the class),
    never all of them (a shape must stand out from the background)."""
    if channels == 1:
        return rng.uniform(0.55, 1.0, (*shape, 1))
    fg = rng.uniform(0.5, 1.0, (*shape, 3))
    swap = rng.uniform(0, 1, (*shape, 3)) < 0.3
    swap[..., 0] &= ~swap[..., 1:].all(axis=-1)
    return np.where(swap, rng.uniform(0.0, 0.3, (*shape, 3)), fg)


def draw_scenes(n: int, *, size: int, channels: int, classes: int, min_objects: int,
                max_objects: int, noise: float, seed: int, stream: int,
                radius_range: tuple[float, float] = DETECT_RADIUS,
                kinds: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images N×C×H×W, float32 labels N×max_objects×5 padded with -1).

    ``kinds`` (N×max_objects) fixes the classes (localization balances them); otherwise
    each object's class is drawn uniformly. ``stream`` picks an independent sequence for
    the same seed (0 train, 1 validation).
    """
    if not 2 <= classes <= len(SHAPE_NAMES):
        raise DatasetError(f"Shapes: classes must be between 2 and {len(SHAPE_NAMES)} (got {classes}).")
    if channels not in (1, 3):
        raise DatasetError(f"Shapes: channels must be 1 (grayscale) or 3 (RGB), not {channels}.")
    if not 1 <= min_objects <= max_objects:
        raise DatasetError(f"Shapes: the fewest objects per image ({min_objects}) must be at least 1 "
                           f"and at most the most objects per image ({max_objects}).")
    rng = np.random.default_rng([int(seed), int(stream), 17])
    slots = max_objects
    counts = rng.integers(min_objects, max_objects + 1, n)
    if kinds is None:
        kinds = rng.integers(0, classes, (n, slots))
    radius = rng.uniform(*radius_range, (n, slots)) * size
    theta = rng.uniform(0, 2 * math.pi, (n, slots))
    fg = _colours((n, slots), channels, rng)
    bg = (rng.uniform(0.0, 0.45 if channels == 3 else 0.4, (n, channels)) * 255.0 + 0.5).astype(np.float32)
    grad = (rng.uniform(-0.15, 0.15, (n, 2)) * 255.0).astype(np.float32)
    cx, cy, placed = _place(n, slots, counts, radius, size, rng)
    patch = min(size, int(math.ceil(2 * radius_range[1] * size)) + 2)
    labels = np.full((n, slots, 5), -1.0, dtype=np.float32)
    images = np.empty((n, channels, size, size), dtype=np.uint8)
    coords = np.arange(size, dtype=np.float32) / size - 0.5
    fg255 = (fg * 255.0 + 0.5).astype(np.float32)
    table = _noise_table(noise)
    for start in range(0, n, _CHUNK):
        sl = slice(start, min(n, start + _CHUNK))
        ramp = (grad[sl, 0, None, None] * coords[None, None, :]
                + grad[sl, 1, None, None] * coords[None, :, None])
        canvas = bg[sl, :, None, None] + ramp[:, None]               # m×C×H×W, 0..255 scale
        for k in range(slots):
            _draw_slot(canvas, labels[sl, k], np.flatnonzero(placed[sl, k]), kinds[sl, k], cx[sl, k],
                       cy[sl, k], radius[sl, k], theta[sl, k], fg255[sl, k], patch, size)
        pixels = canvas.astype(np.int16)
        if table is not None:
            pixels += table[rng.integers(0, 256, pixels.shape, dtype=np.uint8)]
        np.clip(pixels, 0, 255, out=pixels)
        images[sl] = pixels
    return images, _packed(labels)


def _draw_slot(canvas: np.ndarray, rows: np.ndarray, idx: np.ndarray, kinds: np.ndarray, cx: np.ndarray,
               cy: np.ndarray, radius: np.ndarray, theta: np.ndarray, fg: np.ndarray, patch: int,
               size: int) -> None:
    """Paint one object into each image ``idx`` of the chunk, on top of what is there,
    and write its tight box into ``rows`` (its label rows)."""
    if idx.size == 0:
        return
    ox = np.clip(np.floor(cx[idx]).astype(np.int64) - patch // 2, 0, size - patch)
    oy = np.clip(np.floor(cy[idx]).astype(np.int64) - patch // 2, 0, size - patch)
    local = np.arange(patch, dtype=np.float32) + 0.5
    dx = (ox[:, None, None] + local[None, None, :]) - cx[idx, None, None].astype(np.float32)
    dy = (oy[:, None, None] + local[None, :, None]) - cy[idx, None, None].astype(np.float32)
    c = np.cos(theta[idx]).astype(np.float32)[:, None, None]
    s = np.sin(theta[idx]).astype(np.float32)[:, None, None]
    inv_r = (1.0 / radius[idx]).astype(np.float32)[:, None, None]
    u, v = (c * dx + s * dy) * inv_r, (c * dy - s * dx) * inv_r
    mask = np.zeros((idx.size, patch, patch), dtype=bool)
    kind = kinds[idx]
    for shape_kind in np.unique(kind):
        sel = np.flatnonzero(kind == shape_kind)
        mask[sel] = SHAPE_RULES[int(shape_kind)](u[sel], v[sel])
    cols, lines = mask.any(axis=1), mask.any(axis=2)
    seen = cols.any(axis=1)
    x0 = ox + cols.argmax(axis=1)
    x1 = ox + patch - cols[:, ::-1].argmax(axis=1)
    y0 = oy + lines.argmax(axis=1)
    y1 = oy + patch - lines[:, ::-1].argmax(axis=1)
    box = np.stack([kind, (x0 + x1) / 2 / size, (y0 + y1) / 2 / size, (x1 - x0) / size,
                    (y1 - y0) / size], axis=1).astype(np.float32)
    rows[idx[seen]] = box[seen]
    which, py, px = np.nonzero(mask)                                # only the shape's pixels
    channels, height = canvas.shape[1], canvas.shape[2]
    flat = ((idx[which] * channels)[:, None] + np.arange(channels)[None, :]) * height
    flat = (flat + (oy[which] + py)[:, None]) * size + (ox[which] + px)[:, None]
    canvas.reshape(-1)[flat] = fg[idx[which]]


def _noise_table(noise: float) -> np.ndarray | None:
    """Pixel noise in 8-bit steps: 256 equally likely values, the normal distribution's
    quantiles (std ``noise`` of the 0..1 range). A table look-up per pixel costs a tenth
    of drawing float normals, and the images are 8-bit anyway."""
    if noise <= 0:
        return None
    from statistics import NormalDist

    quantiles = [NormalDist().inv_cdf((i + 0.5) / 256) for i in range(256)]
    return np.rint(np.asarray(quantiles) * noise * 255.0).astype(np.int16)


def _packed(labels: np.ndarray) -> np.ndarray:
    """Each image's real rows first (drawing order kept), padding rows after."""
    order = np.argsort(labels[:, :, 0] < 0, axis=1, kind="stable")
    return np.take_along_axis(labels, order[:, :, None], axis=1)


# -- the two datasets ----------------------------------------------------------------

def _params(detect: bool) -> tuple[ParamSpec, ...]:
    kinds = ", ".join(SHAPE_NAMES)
    objects = (
        ParamSpec("min_objects", "int", 1, title="fewest objects", minimum=1, maximum=10,
                  help="The fewest shapes drawn in one image."),
        ParamSpec("max_objects", "int", 4, title="most objects", minimum=1, maximum=10,
                  help="The most shapes drawn in one image (fewer when they do not fit without "
                       "covering each other)."),
    ) if detect else ()
    return (
        ParamSpec("image_size", "int", 64, title="image size", minimum=16, maximum=256,
                  help="Width and height of the images in pixels."),
        ParamSpec("channels", "int", 3, minimum=1, maximum=3,
                  help="1 for grayscale, 3 for colour images (2 is not allowed)."),
        ParamSpec("classes", "int", 3, minimum=2, maximum=len(SHAPE_NAMES),
                  help="How many shape kinds, taken in order: " + kinds + "."),
        *objects,
        ParamSpec("samples", "int", 2000, title="training images", minimum=10, maximum=1_000_000,
                  help="Number of training images."),
        ParamSpec("val_samples", "int", 500, title="validation images", minimum=0, maximum=1_000_000,
                  help="Validation images, drawn separately; 0 splits the training images by the "
                       "validation split instead."),
        ParamSpec("noise", "float", 0.05, minimum=0.0, maximum=1.0,
                  help="Standard deviation of the pixel noise (images range 0 to 1)."),
        ParamSpec("seed", "int", 0, minimum=0, maximum=2**31 - 1, help="Same seed, same images."),
    )


DETECT_PARAMS = _params(True)
LOCALIZE_PARAMS = _params(False)


def _detect_args(params: dict) -> dict[str, Any]:
    return dict(size=params["image_size"], channels=params["channels"], classes=params["classes"],
                min_objects=params["min_objects"], max_objects=params["max_objects"],
                noise=params["noise"], seed=params["seed"])


def _localize_kinds(n: int, classes: int, seed: int, stream: int) -> np.ndarray:
    """Balanced classes, shuffled (as shapes.py does for classification)."""
    rng = np.random.default_rng([int(seed), int(stream), 18])
    return rng.permutation(np.arange(n) % classes)[:, None]


def _drawn(params: dict, task: str, samples: int, stream: int) -> tuple[np.ndarray, np.ndarray]:
    if task == "detection":
        return draw_scenes(samples, stream=stream, **_detect_args(params))
    kinds = _localize_kinds(samples, params["classes"], params["seed"], stream)
    images, labels = draw_scenes(samples, size=params["image_size"], channels=params["channels"],
                                 classes=params["classes"], min_objects=1, max_objects=1,
                                 noise=params["noise"], seed=params["seed"], stream=stream,
                                 radius_range=LOCALIZE_RADIUS, kinds=kinds)
    return images, labels[:, 0]


def _sets(params: dict, task: str, ctx: LoadContext, with_val: bool = True
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    _check_fits(params)
    images, labels = _drawn(params, task, params["samples"], 0)
    if params["val_samples"] > 0:
        if not with_val:
            return images, labels, None, None
        ctx.check_cancel()
        val_images, val_labels = _drawn(params, task, params["val_samples"], 1)
        return images, labels, val_images, val_labels
    if ctx.val_split > 0:
        train_idx, val_idx = random_split(len(images), ctx.val_split, ctx.seed)
        return images[train_idx], labels[train_idx], images[val_idx], labels[val_idx]
    return images, labels, None, None


def load_box_shapes(params: dict, ctx: LoadContext, task: str) -> LoadedDataset:
    import torch  # here, so that listing datasets does not load torch

    ctx.report_progress("Drawing shapes…", 0.0)
    images, labels, val_images, val_labels = _sets(params, task, ctx)
    classes, size, channels = params["classes"], params["image_size"], params["channels"]
    train_images = torch.from_numpy(images)
    mean, std = channel_stats(train_images)
    objects = int((labels[..., 0] >= 0).sum())
    what = (f"{objects} shapes in {len(images)} training images (up to {params['max_objects']} each)"
            if task == "detection" else f"{len(images)} training images of one shape each")
    report = [f"Shapes ({task}): {what}, {classes} kinds ({', '.join(SHAPE_NAMES[:classes])}), "
              f"{channels}×{size}×{size}, seed {params['seed']}."]
    if params["val_samples"] == 0 and val_images is not None:
        report.append(f"Validation: {len(val_images)} of the {params['samples']} generated images "
                      f"({ctx.val_split:.0%}).")
    ctx.report_progress("Shapes ready", 1.0)
    val = (None, None) if val_images is None else (torch.from_numpy(val_images), torch.from_numpy(val_labels))
    return LoadedDataset(train_images, torch.from_numpy(labels), *val, list(SHAPE_NAMES[:classes]), mean,
                         std, report, task=task)


def load_shapes_detect(params: dict, ctx: LoadContext) -> LoadedDataset:
    return load_box_shapes(params, ctx, "detection")


def load_shapes_localize(params: dict, ctx: LoadContext) -> LoadedDataset:
    return load_box_shapes(params, ctx, "localization")


def preview_box_shapes(params: dict, ctx: LoadContext, count: int, task: str) -> dict:
    """The first ``count`` training images, their boxes ("boxes": per image a list of
    (x0, y0, x1, y1, class) in pixels) and, as "labels", each image's first class (what a
    class-only view shows); "counts" are objects per class. Drawn without torch."""
    images, labels, val_images, _ = _sets(params, task, ctx, with_val=False)
    val = params["val_samples"] or (0 if val_images is None else len(val_images))
    classes, size = params["classes"], params["image_size"]
    rows = labels.reshape(len(labels), -1, 5)
    kinds = rows[..., 0]
    return {"images": images[:count].copy(), "labels": kinds[:count, 0].astype(np.int64),
            "boxes": [pixel_boxes(r, size, size) for r in rows[:count]],
            "class_names": list(SHAPE_NAMES[:classes]),
            "counts": np.bincount(kinds[kinds >= 0].astype(np.int64), minlength=classes),
            "train": len(images), "val": val, "task": task}


def preview_shapes_detect(params: dict, ctx: LoadContext, count: int) -> dict:
    return preview_box_shapes(params, ctx, count, "detection")


def preview_shapes_localize(params: dict, ctx: LoadContext, count: int) -> dict:
    return preview_box_shapes(params, ctx, count, "localization")


def describe_shapes_detect(params: dict) -> DatasetInfo:
    c, s = params["channels"], params["image_size"]
    return DatasetInfo("Shapes (detection)", (c, s, s), params["classes"], channels=(c,), task="detection")


def describe_shapes_localize(params: dict) -> DatasetInfo:
    c, s = params["channels"], params["image_size"]
    return DatasetInfo("Shapes (localization)", (c, s, s), params["classes"], channels=(c,),
                       task="localization")
