"""Feeds carry labels of any task's layout: float targets stay float (in memory and through
the lazy DataLoader's collate), and an augmentation that moves targets (boxes) gets them
with the images and hands back the moved ones."""

from __future__ import annotations

import torch

from visionstudio.core.training.feed import LazyFeed, MemoryFeed, Normalizer, TargetAugment, _collate

CPU = torch.device("cpu")


class _Lazy(torch.utils.data.Dataset):
    def __init__(self, images, targets):
        self.images, self.targets = images, targets

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], self.targets[i]


def _data(n=6):
    images = torch.arange(n * 4, dtype=torch.uint8).view(n, 1, 2, 2)
    boxes = torch.rand(n, 3, 5)
    return images, boxes


def test_float_targets_keep_their_layout_in_memory_and_lazily():
    images, boxes = _data()
    norm = Normalizer((0.5,), (0.25,), CPU, False)
    [(_, y)] = list(MemoryFeed(images, boxes, norm, CPU).batches(None, 6))
    assert y.dtype == torch.float32 and torch.equal(y, boxes)
    [(_, y)] = list(LazyFeed(_Lazy(images, boxes), norm, CPU, num_workers=0).batches(None, 6))
    assert y.dtype == torch.float32 and torch.equal(y, boxes)
    classes = torch.tensor([0, 1, 2, 0, 1, 2])
    [(_, y)] = list(LazyFeed(_Lazy(images, [int(c) for c in classes]), norm, CPU, 0).batches(None, 6))
    assert y.dtype == torch.long and torch.equal(y, classes)
    _, labels, problems = _collate([(images[0], boxes[0], ()), (None, boxes[1], (("b.png", "gone"),)),
                                    (images[2], boxes[2], ())])
    assert torch.equal(labels, boxes[[0, 2]]) and problems == (("b.png", "gone"),)


def test_a_target_augmentation_moves_the_targets_with_the_images():
    images, boxes = _data()
    seen = []

    def flip(x, y):
        seen.append((x.min().item() >= 0.0 and x.max().item() <= 1.0, y.shape))
        moved = y.clone()
        moved[..., 1] = 1.0 - moved[..., 1]          # centre x mirrored
        return x.flip(-1), moved

    norm = Normalizer((0.5,), (0.25,), CPU, False)
    feed = MemoryFeed(images, boxes, norm, CPU, augmented=True)
    [(x, y)] = list(feed.batches(None, 6, augment=TargetAugment(flip)))
    assert seen == [(True, boxes.shape)]              # the fn got [0, 1] images and the targets
    assert torch.allclose(y[..., 1], 1.0 - boxes[..., 1]) and torch.equal(y[..., 2:], boxes[..., 2:])
    plain = list(MemoryFeed(images, boxes, norm, CPU).batches(None, 6))[0][0]
    assert torch.allclose(x, plain.flip(-1))          # normalised after the flip
