"""The built-in dataset: procedurally drawn shapes, seeded, no download.

Ten shape kinds (circle, square, triangle, star, cross, hexagon, ring, crescent, heart,
frame) with random size, position, rotation, colours and pixel noise. Every image is
drawn at once with numpy: pixel coordinates are mapped into each shape's own frame
(inverse rotation, scale, shift) and tested against the shape's implicit inside rule.
A small CNN learns it in an epoch or two; a linear model on raw pixels does not (random
position, size and rotation leave no fixed pixel that means "star").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from visionstudio.core.data.base import (
    DatasetError,
    DatasetInfo,
    LoadContext,
    LoadedDataset,
    channel_stats,
    stratified_split,
)

if TYPE_CHECKING:  # listing datasets must not load torch; drawing them does
    import torch

SHAPE_NAMES = ("circle", "square", "triangle", "star", "cross", "hexagon", "ring", "crescent",
               "heart", "frame")

_CHUNK = 2048  # images drawn per numpy pass: bounds temporary memory at large sizes


def _polar(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.hypot(u, v), np.arctan2(v, u)


def _regular_polygon(sides: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    sector = 2 * math.pi / sides
    apothem = math.cos(math.pi / sides)

    def inside(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        r, phi = _polar(u, v)
        local = np.mod(phi, sector) - sector / 2
        return r * np.cos(local) <= apothem
    return inside


def _circle(u, v):
    return u * u + v * v <= 1.0


def _square(u, v):
    return np.maximum(np.abs(u), np.abs(v)) <= 0.8


def _star(u, v, points: int = 5, inner: float = 0.42):
    r, phi = _polar(u, v)
    half = math.pi / points
    folded = np.mod(phi, 2 * half)
    folded = np.where(folded > half, 2 * half - folded, folded)
    x, y = r * np.cos(folded), r * np.sin(folded)
    # Edge from the tip (1, 0) to the inner corner; inside is the origin's side.
    ex, ey = inner * math.cos(half) - 1.0, inner * math.sin(half)
    return ex * y - ey * (x - 1.0) >= 0.0


def _cross(u, v):
    au, av = np.abs(u), np.abs(v)
    return ((au <= 0.3) & (av <= 0.95)) | ((av <= 0.3) & (au <= 0.95))


def _ring(u, v):
    rr = u * u + v * v
    return (rr <= 1.0) & (rr >= 0.58 ** 2)


def _crescent(u, v):
    return (u * u + v * v <= 1.0) & ((u - 0.5) ** 2 + v * v > 0.8 ** 2)


def _heart(u, v):
    x, y = u * 1.2, -v * 1.2 + 0.15
    return (x * x + y * y - 1.0) ** 3 - x * x * y ** 3 <= 0.0


def _frame(u, v):
    m = np.maximum(np.abs(u), np.abs(v))
    return (m <= 0.85) & (m >= 0.5)


SHAPE_RULES: tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], ...] = (
    _circle, _square, _regular_polygon(3), _star, _cross, _regular_polygon(6), _ring,
    _crescent, _heart, _frame,
)


def render_shapes(labels: np.ndarray, rng: np.random.Generator, *, size: int, channels: int,
                  noise: float) -> np.ndarray:
    """uint8 images N×C×size×size of the shape kinds in ``labels``, drawn with ``rng``."""
    n = len(labels)
    # Per-image parameters, drawn in a fixed order so a seed always gives the same set.
    radius = rng.uniform(0.22, 0.42, n) * size
    margin = radius * 0.8
    cx = rng.uniform(0, 1, n) * (size - 2 * margin) + margin
    cy = rng.uniform(0, 1, n) * (size - 2 * margin) + margin
    theta = rng.uniform(0, 2 * math.pi, n)
    if channels == 1:
        background = rng.uniform(0.0, 0.4, (n, 1))
        foreground = rng.uniform(0.55, 1.0, (n, 1))
    else:
        background = rng.uniform(0.0, 0.45, (n, 3))
        foreground = rng.uniform(0.5, 1.0, (n, 3))
        # Shuffle which channels are bright so colour alone never names the class.
        swap = rng.uniform(0, 1, (n, 3)) < 0.3
        foreground = np.where(swap, rng.uniform(0.0, 0.3, (n, 3)), foreground)
    # A soft brightness gradient across the background.
    grad = rng.uniform(-0.15, 0.15, (n, 2))

    coords = (np.arange(size, dtype=np.float32) + 0.5)
    out = np.empty((n, channels, size, size), dtype=np.uint8)
    for start in range(0, n, _CHUNK):
        sl = slice(start, min(n, start + _CHUNK))
        m = sl.stop - sl.start
        dx = coords[None, None, :] - cx[sl, None, None].astype(np.float32)
        dy = coords[None, :, None] - cy[sl, None, None].astype(np.float32)
        c = np.cos(theta[sl]).astype(np.float32)[:, None, None]
        s = np.sin(theta[sl]).astype(np.float32)[:, None, None]
        inv_r = (1.0 / radius[sl]).astype(np.float32)[:, None, None]
        u = (c * dx + s * dy) * inv_r
        v = (c * dy - s * dx) * inv_r
        mask = np.zeros((m, size, size), dtype=bool)
        lab = labels[sl]
        for kind in np.unique(lab):
            idx = np.flatnonzero(lab == kind)
            mask[idx] = SHAPE_RULES[int(kind)](u[idx], v[idx])
        ramp = (grad[sl, 0, None, None] * (coords[None, None, :] / size - 0.5)
                + grad[sl, 1, None, None] * (coords[None, :, None] / size - 0.5)).astype(np.float32)
        bg = background[sl].astype(np.float32)[:, :, None, None] + ramp[:, None]
        fg = foreground[sl].astype(np.float32)[:, :, None, None]
        img = np.where(mask[:, None], fg, bg)
        if noise > 0:
            img += np.float32(noise) * rng.standard_normal(img.shape, dtype=np.float32)
        np.clip(img * 255.0 + 0.5, 0, 255, out=img)
        out[sl] = img.astype(np.uint8)
    return out


def generate_shapes(samples: int, *, size: int = 28, channels: int = 1, classes: int = 10,
                    noise: float = 0.08, seed: int = 0, stream: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 images N×C×H×W, int64 labels N): balanced classes, shuffled, reproducible.

    ``stream`` picks an independent sequence for the same seed (0 train, 1 validation).
    """
    images, labels = _drawn(samples, size, channels, classes, noise, seed, stream)
    import torch  # here, so that listing datasets does not load torch

    return torch.from_numpy(images), torch.from_numpy(labels)


def _drawn(samples: int, size: int, channels: int, classes: int, noise: float, seed: int,
           stream: int) -> tuple[np.ndarray, np.ndarray]:
    """``generate_shapes`` in numpy (uint8 images, int64 labels)."""
    if not 2 <= classes <= len(SHAPE_NAMES):
        raise DatasetError(f"Shapes: classes must be between 2 and {len(SHAPE_NAMES)} (got {classes}).")
    if channels not in (1, 3):
        raise DatasetError(f"Shapes: channels must be 1 (grayscale) or 3 (RGB), not {channels}.")
    rng = np.random.default_rng([int(seed), int(stream)])
    labels = rng.permutation(np.arange(samples) % classes)
    images = render_shapes(labels, rng, size=size, channels=channels, noise=noise)
    return images, labels.astype(np.int64)


def preview_shapes(params: dict, ctx: LoadContext, count: int) -> dict:
    """The dataset preview: the first ``count`` training images ``load_shapes`` gives,
    their labels, the class counts and the split sizes, drawn without torch (the preview
    shows as the window opens, before anything has needed torch)."""
    _check_fits(params)
    classes = params["classes"]
    images, labels = _drawn(params["samples"], params["image_size"], params["channels"], classes,
                            params["noise"], params["seed"], 0)
    val = params["val_samples"]
    if val == 0 and ctx.val_split > 0:
        train_idx, val_idx = stratified_split(labels, ctx.val_split, ctx.seed)
        images, labels, val = images[train_idx[:count]], labels[train_idx], len(val_idx)
    return {"images": images[:count].copy(), "labels": labels[:count].copy(),
            "class_names": list(SHAPE_NAMES[:classes]), "counts": np.bincount(labels, minlength=classes),
            "train": len(labels), "val": val}


def describe_shapes(params: dict) -> DatasetInfo:
    c, s = params["channels"], params["image_size"]
    return DatasetInfo("Shapes", (c, s, s), params["classes"], channels=(c,))


def shapes_bytes(params: dict) -> int:
    """Peak bytes of the generated set: uint8 images, and a second copy of the training
    images while a validation split is cut from them."""
    c, s = params["channels"], params["image_size"]
    train, val = params["samples"], params["val_samples"]
    return (train * (1 if val > 0 else 2) + val) * c * s * s


def _check_fits(params: dict) -> None:
    """A shared project may ask for 1,000,000 images of 3×256×256 (196 GB): refuse it
    with a sentence before anything is drawn."""
    from visionstudio.core.memory import host_available, human_bytes

    need, available = shapes_bytes(params), host_available()
    if available is not None and need > available.bytes:
        raise DatasetError(
            f"Shapes: {params['samples']:,} + {params['val_samples']:,} images of "
            f"{params['channels']}×{params['image_size']}×{params['image_size']} need about "
            f"{human_bytes(need)}; {available.where} has {human_bytes(available.bytes)} free: "
            f"use fewer images or a smaller image size.")


def load_shapes(params: dict, ctx: LoadContext) -> LoadedDataset:
    size, channels, classes = params["image_size"], params["channels"], params["classes"]
    noise, seed = params["noise"], params["seed"]
    _check_fits(params)
    ctx.report_progress("Drawing shapes…", 0.0)
    images, labels = generate_shapes(params["samples"], size=size, channels=channels,
                                     classes=classes, noise=noise, seed=seed, stream=0)
    ctx.check_cancel()
    report = []
    if params["val_samples"] > 0:
        ctx.report_progress("Drawing validation shapes…", 0.8)
        val_images, val_labels = generate_shapes(params["val_samples"], size=size,
                                                 channels=channels, classes=classes,
                                                 noise=noise, seed=seed, stream=1)
        train_images, train_labels = images, labels
    elif ctx.val_split > 0:
        train_idx, val_idx = stratified_split(labels, ctx.val_split, ctx.seed)
        train_images, train_labels = images[train_idx], labels[train_idx]
        val_images, val_labels = images[val_idx], labels[val_idx]
        report.append(f"Validation: {len(val_idx)} of the {len(labels)} generated images "
                      f"({ctx.val_split:.0%}).")
    else:
        train_images, train_labels, val_images, val_labels = images, labels, None, None
    mean, std = channel_stats(train_images)
    report.insert(0, f"Shapes: {len(train_labels)} training images of {classes} kinds "
                     f"({', '.join(SHAPE_NAMES[:classes])}), {channels}×{size}×{size}, seed {seed}.")
    ctx.report_progress("Shapes ready", 1.0)
    return LoadedDataset(train_images, train_labels, val_images, val_labels,
                         list(SHAPE_NAMES[:classes]), mean, std, report)
