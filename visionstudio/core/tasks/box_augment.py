"""Augmentations that move the boxes with the image (localization and detection).

The presets of core/data/augment.py, with the same names and meaning:

* ``flip`` — a horizontal flip (boxes mirrored);
* ``crop`` — scale and shift, the box-aware form of "pad and random-crop": a zoom of
  ``SCALE`` and a shift of up to ``TRANSLATE`` of the side (the crop padding's eighth),
  borders filled with black;
* ``rotate`` — ±15°; a box becomes the rotated box's enclosing box (a little larger than
  the object, as in every box-aware rotation);
* ``color`` — brightness, contrast, saturation as for classification; boxes unchanged;
* ``flip_crop`` and ``standard`` (flip + crop + color) combine them.

The geometry is torchvision.transforms.v2 on ``tv_tensors.Image`` and
``tv_tensors.BoundingBoxes``, so boxes follow exactly what the pixels do. A v2 transform
draws one set of random parameters per call for all it is given, so the batch is cut
into up to ``GROUPS`` groups, each with its own draw (the batch is shuffled already;
one call per image would cost a call per image on the GPU). The colour jitter is the
classification one, per image. All randomness comes from torch's generators, so
``torch.manual_seed`` makes a run reproducible.

After the move a box is clipped to the image; one left narrower or lower than
``MIN_SIDE`` pixels has vanished and becomes a padding row (all -1), real rows first.
Localization (one box per image, never padding) keeps an image whose box vanished as
it was, box and pixels, instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from visionstudio.core.data.augment import PRESET_STEPS, ROTATE_DEGREES, random_color

GROUPS = 8
TRANSLATE = 0.125
SCALE = (0.8, 1.25)
MIN_SIDE = 1.0

BoxAugment = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def _geometry(steps: tuple[str, ...]):
    from torchvision.transforms import InterpolationMode, v2

    ops = []
    if "flip" in steps:
        ops.append(v2.RandomHorizontalFlip())
    if "crop" in steps:
        ops.append(v2.RandomAffine(degrees=0.0, translate=(TRANSLATE, TRANSLATE), scale=SCALE,
                                   interpolation=InterpolationMode.BILINEAR, fill=0.0))
    if "rotate" in steps:
        ops.append(v2.RandomRotation(ROTATE_DEGREES, interpolation=InterpolationMode.BILINEAR))
    return v2.Compose(ops) if ops else None


def make_box_augmentation(preset: str, shape: Sequence[int]) -> BoxAugment | None:
    """fn(images, targets) -> (images, targets) for ``preset`` (None for "none").

    ``images``: float N×C×H×W in [0, 1] on any device; ``targets``: float N×5 rows
    [class, cx, cy, w, h] (localization) or N×M×5 padded with -1 rows (detection),
    fractions of the image, on the same device. Shapes and dtypes are kept.
    """
    if preset not in PRESET_STEPS:
        raise ValueError(f"unknown augmentation {preset!r} (known: {', '.join(PRESET_STEPS)})")
    steps = PRESET_STEPS[preset]
    if not steps:
        return None
    geometry = _geometry(steps)
    colour = "color" in steps
    height, width = int(shape[-2]), int(shape[-1])

    def augment(images: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if geometry is not None:
            images, targets = moved(images, targets, geometry, height, width)
        if colour:
            images = random_color(images)
        return images, targets

    augment.preset = preset  # type: ignore[attr-defined]
    return augment


def moved(images: torch.Tensor, targets: torch.Tensor, geometry, height: int,
          width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply the v2 ``geometry`` to images and boxes, a group of images per draw."""
    from torchvision import tv_tensors

    single = targets.dim() == 2
    rows = targets[:, None, :] if single else targets
    n, m = rows.shape[0], rows.shape[1]
    real = rows[..., 0] >= 0
    scale = torch.tensor([width, height, width, height], dtype=rows.dtype, device=rows.device)
    centre, size = rows[..., 1:3], rows[..., 3:5]
    corners = torch.cat([centre - size / 2, centre + size / 2], dim=-1) * scale   # N×M×4 xyxy pixels
    out_images = torch.empty_like(images)
    out_corners = torch.empty_like(corners)
    step = max(1, -(-n // GROUPS))
    for start in range(0, n, step):
        sl = slice(start, min(n, start + step))
        boxes = tv_tensors.BoundingBoxes(corners[sl].reshape(-1, 4), format="XYXY",
                                         canvas_size=(height, width), clamping_mode=None)
        img, boxes = geometry(tv_tensors.Image(images[sl]), boxes)
        out_images[sl] = img.as_subclass(torch.Tensor)
        out_corners[sl] = boxes.as_subclass(torch.Tensor).reshape(-1, m, 4)
    wh = scale[:2]
    x0y0 = torch.minimum(out_corners[..., :2].clamp_min(0), wh)
    x1y1 = torch.minimum(out_corners[..., 2:].clamp_min(0), wh)
    side = x1y1 - x0y0
    alive = real & (side >= MIN_SIDE).all(dim=-1)
    box = torch.cat([(x0y0 + x1y1) / 2 / wh, side / wh], dim=-1)
    new = torch.cat([rows[..., :1], box], dim=-1)
    new = torch.where(alive[..., None], new, torch.full_like(new, -1.0))
    if single:
        lost = real[:, 0] & ~alive[:, 0]
        new = torch.where(lost[:, None, None], rows, new)
        out_images = torch.where(lost[:, None, None, None], images, out_images)
        return out_images, new[:, 0]
    order = torch.sort((~alive).to(torch.int8), dim=1, stable=True).indices
    return out_images, torch.gather(new, 1, order[..., None].expand(-1, -1, 5))
