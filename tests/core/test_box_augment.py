"""Box-aware augmentation: the boxes follow what the pixels do (checked on a drawn
rectangle after flips, zooms and shifts), stay inside the image, keep the padding rows,
and turn into padding when their object leaves the image; seeded runs repeat."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from visionstudio.core.tasks.box_augment import make_box_augmentation, moved

SIZE = 64


def scene(n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Black images with one white rectangle each (its box in row 0), rows 1-2 padding."""
    images = torch.zeros(n, 3, SIZE, SIZE)
    targets = torch.full((n, 3, 5), -1.0)
    for i in range(n):
        x0, y0 = 4 + (i * 5) % 30, 6 + (i * 7) % 30
        w, h = 10 + i % 7, 8 + (i * 3) % 9
        images[i, :, y0:y0 + h, x0:x0 + w] = 1.0
        targets[i, 0] = torch.tensor([i % 3, (x0 + w / 2) / SIZE, (y0 + h / 2) / SIZE, w / SIZE, h / SIZE])
    return images, targets


def drawn_box(image: torch.Tensor) -> tuple[float, float, float, float] | None:
    ys, xs = torch.nonzero(image[0] > 0.5, as_tuple=True)
    if len(xs) == 0:
        return None
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def box_pixels(row: torch.Tensor) -> tuple[float, float, float, float]:
    _, cx, cy, w, h = (float(v) * SIZE for v in row)
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


@pytest.mark.parametrize("preset, slack", [("flip", 0.01), ("flip_crop", 1.6), ("standard", 1.6)])
def test_boxes_follow_the_drawn_object(preset, slack):
    images, targets = scene()
    torch.manual_seed(3)
    out, boxes = make_box_augmentation(preset, (3, SIZE, SIZE))(images, targets)
    assert out.shape == images.shape and boxes.shape == targets.shape and boxes.dtype == targets.dtype
    moved_boxes = 0
    for i in range(len(out)):
        seen = drawn_box(out[i] / out[i].amax().clamp_min(1e-6))   # colour jitter dims the object
        if boxes[i, 0, 0] < 0:           # the object left the image
            assert seen is None or (seen[2] - seen[0]) * (seen[3] - seen[1]) <= 2
            continue
        assert boxes[i, 0, 0] == targets[i, 0, 0]
        assert seen is not None
        for got, want in zip(box_pixels(boxes[i, 0]), seen):
            assert abs(got - want) <= slack, (i, box_pixels(boxes[i, 0]), seen)
        moved_boxes += bool(abs(boxes[i, 0, 1] - targets[i, 0, 1]) > 1e-4)
    assert 0 < moved_boxes and (preset != "flip" or moved_boxes < len(out))   # a flip is a coin toss
    real = boxes[..., 0] >= 0
    corners = torch.tensor([box_pixels(row) for row in boxes[real]])
    assert torch.all(corners >= 0) and torch.all(corners <= SIZE)
    assert torch.all(boxes[:, 1:] == -1)   # padding rows stay padding


def test_same_seed_same_result_and_colour_leaves_boxes_alone():
    images, targets = scene()
    augment = make_box_augmentation("standard", (3, SIZE, SIZE))
    torch.manual_seed(7)
    a = augment(images, targets)
    torch.manual_seed(7)
    b = augment(images, targets)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    colour, boxes = make_box_augmentation("color", (3, SIZE, SIZE))(images, targets)
    assert torch.equal(boxes, targets) and not torch.equal(colour, images)
    assert make_box_augmentation("none", (3, SIZE, SIZE)) is None
    with pytest.raises(ValueError, match="unknown augmentation"):
        make_box_augmentation("sideways", (3, SIZE, SIZE))


def shift(dx: int):
    def geometry(image, boxes):
        return (TF.affine(image, angle=0.0, translate=[dx, 0], scale=1.0, shear=[0.0, 0.0]),
                TF.affine(boxes, angle=0.0, translate=[dx, 0], scale=1.0, shear=[0.0, 0.0]))
    return geometry


def test_boxes_pushed_out_become_padding_and_the_rest_move_up():
    images = torch.zeros(1, 1, SIZE, SIZE)
    targets = torch.tensor([[[0, 40 / SIZE, 0.5, 20 / SIZE, 0.25],      # x 30..50: leaves at +40
                             [1, 7 / SIZE, 0.5, 10 / SIZE, 0.25],       # x 2..12: moves to 42..52
                             [2, 60 / SIZE, 0.5, 6 / SIZE, 0.25],       # x 57..63: leaves
                             [-1, -1, -1, -1, -1]]])
    _, boxes = moved(images, targets, shift(40), SIZE, SIZE)
    assert boxes[0, 0].tolist() == pytest.approx([1, 47 / SIZE, 0.5, 10 / SIZE, 0.25])
    assert torch.all(boxes[0, 1:] == -1)
    _, clipped = moved(images, targets[:, 1:2], shift(-5), SIZE, SIZE)   # x 2..12 -> 0..7, clipped
    assert clipped[0, 0].tolist() == pytest.approx([1, 3.5 / SIZE, 0.5, 7 / SIZE, 0.25])


def test_localization_keeps_an_image_whose_box_would_vanish():
    images, targets = scene(2)
    single = targets[:, 0]
    out, boxes = moved(images, single, shift(60), SIZE, SIZE)
    assert boxes.shape == (2, 5) and torch.equal(boxes, single) and torch.equal(out, images)
    out, boxes = moved(images, single, shift(3), SIZE, SIZE)
    assert boxes[:, 1].tolist() == pytest.approx((single[:, 1] + 3 / SIZE).tolist())
