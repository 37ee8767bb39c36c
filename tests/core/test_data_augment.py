"""Augmentation presets: batched, per-sample random, shape-preserving, seedable; and the
same presets through torchvision.transforms.v2 for the lazy path."""

from __future__ import annotations

import pytest
import torch

from visionstudio.core.data.augment import (
    PRESET_STEPS,
    TransformedDataset,
    crop_padding,
    make_augmentation,
    make_v2_transform,
    random_crop,
    random_flip,
    random_rotate,
)
from visionstudio.core.training.config import AUGMENTATION_PRESETS


def batch(n=16, c=3, h=12, w=10) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, c, h, w), generator=g, dtype=torch.uint8).float() / 255


def test_every_training_preset_exists():
    assert set(AUGMENTATION_PRESETS) == set(PRESET_STEPS)
    assert make_augmentation("none", (1, 28, 28)) is None
    assert make_v2_transform("none", (1, 28, 28)) is None
    with pytest.raises(ValueError):
        make_augmentation("mystery", (1, 28, 28))


@pytest.mark.parametrize("preset", [p for p in AUGMENTATION_PRESETS if p != "none"])
@pytest.mark.parametrize("channels", [1, 3])
def test_shape_dtype_range_and_seeded(preset, channels):
    x = batch(c=channels)
    aug = make_augmentation(preset, x.shape[1:])
    torch.manual_seed(7)
    a = aug(x)
    torch.manual_seed(7)
    b = aug(x)
    assert a.shape == x.shape and a.dtype == x.dtype and a.device == x.device
    assert torch.equal(a, b)                                  # global RNG: seed reproduces
    assert a.min() >= -1e-5 and a.max() <= 1 + 1e-5
    assert not torch.equal(a, x)


def test_flip_is_per_sample():
    x = batch(n=64)
    torch.manual_seed(0)
    y = random_flip(x)
    flipped = [torch.equal(y[i], x[i].flip(-1)) for i in range(64)]
    kept = [torch.equal(y[i], x[i]) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 10 < sum(flipped) < 54 and 10 < sum(kept) < 54


def test_crop_offsets_are_per_sample_and_shift_content():
    # One image repeated: any difference between outputs comes from per-sample offsets.
    x = batch(n=1, c=1, h=28, w=28).repeat(32, 1, 1, 1)
    pad = crop_padding((1, 28, 28))
    assert pad == 4
    torch.manual_seed(1)
    y = random_crop(x, pad)
    assert y.shape == x.shape
    distinct = {tuple(y[i].flatten()[:50].tolist()) for i in range(32)}
    assert len(distinct) > 8
    # The centre of every crop is the original image shifted by at most `pad` pixels.
    centre = y[:, :, pad:-pad, pad:-pad]
    for i in range(32):
        ok = any(torch.equal(centre[i], x[0, :, pad + dy:28 - pad + dy, pad + dx:28 - pad + dx])
                 for dy in range(-pad, pad + 1) for dx in range(-pad, pad + 1))
        assert ok


def test_rotation_angles_differ_per_sample_and_keep_uniform_images():
    x = batch(n=1, c=1, h=16, w=16).repeat(8, 1, 1, 1)
    torch.manual_seed(2)
    y = random_rotate(x)
    assert len({round(float(y[i].sum()), 3) for i in range(8)}) > 4 or \
        len({tuple(y[i].flatten()[:20].tolist()) for i in range(8)}) > 4
    flat = torch.full((4, 3, 9, 13), 0.5)
    assert torch.allclose(random_rotate(flat), flat, atol=1e-5)  # no black corners


def test_color_jitter_varies_per_sample():
    x = batch(n=1, c=3).repeat(8, 1, 1, 1)
    torch.manual_seed(3)
    y = make_augmentation("color", x.shape[1:])(x)
    means = {round(float(y[i].mean()), 4) for i in range(8)}
    assert len(means) == 8


def test_works_on_uint8_converted_half_batches():
    x = (batch(c=3) * 255).to(torch.uint8).half() / 255
    y = make_augmentation("standard", x.shape[1:])(x)
    assert y.dtype == torch.float16 and y.shape == x.shape
    r = make_augmentation("rotate", x.shape[1:])(x.float())
    assert r.shape == x.shape


@pytest.mark.parametrize("preset", [p for p in AUGMENTATION_PRESETS if p != "none"])
@pytest.mark.parametrize("channels", [1, 3])
def test_v2_path_keeps_uint8_shape(preset, channels):
    image = (batch(n=1, c=channels, h=20, w=20)[0] * 255).to(torch.uint8)
    transform = make_v2_transform(preset, image.shape)
    torch.manual_seed(0)
    outs = [transform(image) for _ in range(6)]
    assert all(o.shape == image.shape and o.dtype == torch.uint8 for o in outs)
    assert any(not torch.equal(o, outs[0]) for o in outs[1:])
    data = TransformedDataset([(image, 3)] * 2, transform)
    out, label = data[1]
    assert out.shape == image.shape and label == 3 and len(data) == 2
