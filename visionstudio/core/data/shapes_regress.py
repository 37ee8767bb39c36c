"""The built-in regression dataset: one drawn shape per image, and numbers measured from it.

Each image holds one shape of a chosen kind (the shapes dataset's inside rules,
``shapes.SHAPE_RULES``) and the targets are the numbers it was drawn with:

- ``size``: the diameter in pixels of the circle the shape is drawn in (twice its
  drawing radius: a circle's diameter, a square's side is 0.8 of it);
- ``angle``: its rotation in degrees, clockwise on screen, drawn uniformly in
  [0, angle range). A shape turned by its symmetry (90° for a square) looks the same,
  so the range must stay below that period: then no two angles give the same picture
  and plain degrees are learnable (no wrap-around, no sin/cos needed);
- ``x``, ``y``: the centre of that circle in pixels from the left and the top edge
  (pixel i spans [i, i + 1)).

The shape always lies wholly inside the image, so size and position are never hidden
by the border. Edges are anti-aliased (2×2 samples per pixel) so that sub-pixel
changes of size, angle and position show in the pixels; background, foreground,
a brightness ramp and pixel noise vary at random so brightness alone tells nothing.
Labels are float32 (N, T) raw values in the units above; the objective normalises them.
"""

from __future__ import annotations

import numpy as np

from visionstudio.core.data.base import (
    DatasetError,
    DatasetInfo,
    LoadContext,
    LoadedDataset,
    channel_stats,
    stratified_split,
)
from visionstudio.core.data.shapes import SHAPE_NAMES, SHAPE_RULES
from visionstudio.core.params import ParamSpec

TARGET_CHOICES = ("size, angle, x, y", "size, x, y", "x, y", "size", "angle", "size, angle")
# Rotation (degrees) after which each kind looks the same again; None: every angle looks alike.
SYMMETRY = {"circle": None, "square": 90, "triangle": 120, "star": 72, "cross": 90,
            "hexagon": 60, "ring": None, "crescent": 360, "heart": 360, "frame": 90}
RADIUS = (0.15, 0.28)      # drawing radius as a fraction of the image side
EXTENT = 1.15              # farthest point of any kind from its centre, in radii (a square's corner)
SUPERSAMPLE = 2            # samples per pixel side for the anti-aliased edges
_CHUNK = 1024              # images per numpy pass: bounds temporary memory


def target_names(params: dict) -> list[str]:
    return [name.strip() for name in params["targets"].split(",")]


def _check(params: dict) -> None:
    shape, names, top = params["shape"], target_names(params), params["angle_range"]
    if params["channels"] not in (1, 3):
        raise DatasetError(f"Shapes (regression): channels must be 1 (grayscale) or 3 (RGB), not "
                           f"{params['channels']}.")
    period = SYMMETRY[shape]
    if "angle" in names and period is None:
        raise DatasetError(f"Shapes (regression): a {shape} looks the same at every angle, so its "
                           f"angle cannot be measured; choose targets without angle or another shape.")
    if period is not None and top >= period:
        raise DatasetError(f"Shapes (regression): a {shape} turned by {period}° looks the same, so "
                           f"angles {period}° apart cannot be told apart; set the angle range "
                           f"below {period}° (it is {top:g}°).")
    if "angle" in names and top <= 0:
        raise DatasetError("Shapes (regression): the angle range is 0°, so every angle is 0; "
                           "set it above 0 or choose targets without angle.")
    from visionstudio.core.memory import host_available, human_bytes

    c, s = params["channels"], params["image_size"]
    need = (params["samples"] * (1 if params["val_samples"] else 2) + params["val_samples"]) * c * s * s
    available = host_available()
    if available is not None and need > available.bytes:
        raise DatasetError(f"Shapes (regression): the images need about {human_bytes(need)}; "
                           f"{available.where} has {human_bytes(available.bytes)} free: use fewer "
                           f"images or a smaller image size.")


def _geometry(n: int, rng: np.random.Generator, size: int, top: float) -> dict[str, np.ndarray]:
    """Radius, centre and rotation per image, in pixels and degrees (fixed draw order)."""
    radius = rng.uniform(*RADIUS, n) * size
    margin = radius * EXTENT
    x = margin + rng.uniform(0, 1, n) * (size - 2 * margin)
    y = margin + rng.uniform(0, 1, n) * (size - 2 * margin)
    angle = rng.uniform(0, top, n) if top > 0 else np.zeros(n)
    return {"radius": radius, "x": x, "y": y, "angle": angle}


def _coverage(rule, geo: dict[str, np.ndarray], sl: slice, size: int) -> np.ndarray:
    """Fraction of each pixel inside the shape (m×size×size float32)."""
    k = SUPERSAMPLE
    coords = (np.arange(size * k, dtype=np.float32) + 0.5) / k
    dx = coords[None, None, :] - geo["x"][sl, None, None].astype(np.float32)
    dy = coords[None, :, None] - geo["y"][sl, None, None].astype(np.float32)
    theta = np.deg2rad(geo["angle"][sl])
    c = np.cos(theta).astype(np.float32)[:, None, None]
    s = np.sin(theta).astype(np.float32)[:, None, None]
    inv_r = (1.0 / geo["radius"][sl]).astype(np.float32)[:, None, None]
    inside = rule((c * dx + s * dy) * inv_r, (c * dy - s * dx) * inv_r).astype(np.float32)
    m = inside.shape[0]
    return inside.reshape(m, size, k, size, k).mean(axis=(2, 4))


def render(kind: int, geo: dict[str, np.ndarray], rng: np.random.Generator, *, size: int,
           channels: int, noise: float) -> np.ndarray:
    """uint8 images N×C×size×size of shape ``kind`` drawn with ``geo``."""
    n = len(geo["radius"])
    background = rng.uniform(0.0, 0.35, (n, channels)).astype(np.float32)
    foreground = rng.uniform(0.6, 1.0, (n, channels)).astype(np.float32)
    ramp = rng.uniform(-0.1, 0.1, (n, 2)).astype(np.float32)
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    out = np.empty((n, channels, size, size), dtype=np.uint8)
    for start in range(0, n, _CHUNK):
        sl = slice(start, min(n, start + _CHUNK))
        cover = _coverage(SHAPE_RULES[kind], geo, sl, size)[:, None]
        bg = (background[sl, :, None, None]
              + (ramp[sl, 0, None, None] * grid[None, None, :]
                 + ramp[sl, 1, None, None] * grid[None, :, None])[:, None])
        img = bg + cover * (foreground[sl, :, None, None] - bg)
        if noise > 0:
            img += np.float32(noise) * rng.standard_normal(img.shape, dtype=np.float32)
        np.clip(img * 255.0 + 0.5, 0, 255, out=img)
        out[sl] = img.astype(np.uint8)
    return out


def generate(params: dict, samples: int, stream: int) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images N×C×H×W, float32 targets N×T); ``stream`` 0 training, 1 validation."""
    size = params["image_size"]
    rng = np.random.default_rng([int(params["seed"]), int(stream)])
    geo = _geometry(samples, rng, size, float(params["angle_range"]))
    images = render(SHAPE_NAMES.index(params["shape"]), geo, rng, size=size,
                    channels=params["channels"], noise=params["noise"])
    values = {"size": 2 * geo["radius"], "angle": geo["angle"], "x": geo["x"], "y": geo["y"]}
    targets = np.stack([values[name] for name in target_names(params)], axis=1)
    return images, targets.astype(np.float32)


def describe_shapes_regress(params: dict) -> DatasetInfo:
    c, s = params["channels"], params["image_size"]
    return DatasetInfo("Shapes (regression)", (c, s, s), None, channels=(c,), task="regression",
                       targets=len(target_names(params)))


def load_shapes_regress(params: dict, ctx: LoadContext) -> LoadedDataset:
    import torch

    _check(params)
    ctx.report_progress("Drawing shapes…", 0.0)
    images, targets = generate(params, params["samples"], 0)
    ctx.check_cancel()
    report: list[str] = []
    if params["val_samples"] > 0:
        ctx.report_progress("Drawing validation shapes…", 0.8)
        val_images, val_targets = generate(params, params["val_samples"], 1)
        train_images, train_targets = images, targets
    elif ctx.val_split > 0:
        train_idx, val_idx = stratified_split([0] * len(targets), ctx.val_split, ctx.seed)
        train_images, train_targets = images[train_idx], targets[train_idx]
        val_images, val_targets = images[val_idx], targets[val_idx]
        report.append(f"Validation: {len(val_idx)} of the {len(targets)} generated images "
                      f"({ctx.val_split:.0%}).")
    else:
        train_images, train_targets, val_images, val_targets = images, targets, None, None
    train_t = torch.from_numpy(train_images)
    mean, std = channel_stats(train_t)
    names = target_names(params)
    c, s = params["channels"], params["image_size"]
    report.insert(0, f"Shapes (regression): {len(train_targets)} training images of a "
                     f"{params['shape']}, {c}×{s}×{s}, seed {params['seed']}; targets "
                     f"{', '.join(names)} (size and x, y in pixels, angle in degrees in "
                     f"[0, {params['angle_range']:g})).")
    ctx.report_progress("Shapes ready", 1.0)
    return LoadedDataset(
        train_t, torch.from_numpy(train_targets),
        torch.from_numpy(val_images) if val_images is not None else None,
        torch.from_numpy(val_targets) if val_targets is not None else None,
        [], mean, std, report, task="regression", target_names=names)


def _angle_help() -> str:
    periods = ", ".join(f"{k} {v}°" for k, v in SYMMETRY.items() if v is not None and v < 360)
    return ("Rotations are drawn uniformly in [0, this) degrees, the angle target's range. It must "
            f"stay below the shape's symmetry ({periods}; crescent and heart 360°; circle and ring "
            "have no angle), so that every angle looks different. 0 draws every shape upright.")


PARAMS = (
    ParamSpec("shape", "choice", "square", choices=SHAPE_NAMES,
              help="The kind of shape drawn in every image."),
    ParamSpec("targets", "choice", TARGET_CHOICES[0], choices=TARGET_CHOICES,
              help="The numbers to predict, in this order: size (diameter of the circle the shape "
                   "is drawn in, pixels), angle (degrees, clockwise), x and y (its centre, pixels "
                   "from the left and top edge)."),
    ParamSpec("angle_range", "float", 60.0, title="angle range", minimum=0.0, maximum=359.0,
              help=_angle_help()),
    ParamSpec("image_size", "int", 32, title="image size", minimum=16, maximum=256,
              help="Width and height of the images in pixels. The shape's radius is "
                   f"{RADIUS[0]:.0%} to {RADIUS[1]:.0%} of it, and the shape stays inside the image."),
    ParamSpec("channels", "int", 1, minimum=1, maximum=3,
              help="1 for grayscale, 3 for colour images (2 is not allowed)."),
    ParamSpec("samples", "int", 6000, title="training images", minimum=10, maximum=1_000_000,
              help="Number of training images."),
    ParamSpec("val_samples", "int", 1000, title="validation images", minimum=0, maximum=1_000_000,
              help="Validation images, drawn separately; 0 splits the training images by the "
                   "validation split instead."),
    ParamSpec("noise", "float", 0.05, minimum=0.0, maximum=1.0,
              help="Standard deviation of the pixel noise (images range 0 to 1): more noise, "
                   "harder to measure."),
    ParamSpec("seed", "int", 0, minimum=0, maximum=2**31 - 1, help="Same seed, same images."),
)
