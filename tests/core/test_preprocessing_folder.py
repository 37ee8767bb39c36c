"""Image folders follow the pretrained weights' eval transform (resize, centre crop).

The reference is torchvision itself on the same PIL image: ``Resize(resize)`` then
``CenterCrop(crop)``. Both end in Pillow's own antialiased ``Image.resize`` and a crop on
the uint8 image, so the pixels must be equal exactly, not within a grey level.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.data.image_cache import cache_folder, dataset_key
from visionstudio.core.data.image_decode import EvalResize, decode
from visionstudio.core.data.preprocessing import Preprocessing
from visionstudio.core.data.registry import load_dataset

v2 = pytest.importorskip("torchvision.transforms.v2")
F = pytest.importorskip("torchvision.transforms.v2.functional")

PRE = Preprocessing("Test_Weights.V1", 64, 48, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
SIZES = {"cat": [(300, 200), (301, 199)], "dog": [(200, 300), (123, 77)]}


def _folder(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "pets"
    files = []
    for cls, sizes in SIZES.items():
        (root / cls).mkdir(parents=True)
        for k, (w, h) in enumerate(sizes):
            path = root / cls / f"{k}.png"
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
            files.append(path)
    return root, files


def _torchvision(path, resize, crop, interpolation=v2.InterpolationMode.BILINEAR):
    with Image.open(path) as img:
        out = v2.CenterCrop(crop)(v2.Resize(resize, interpolation=interpolation)(img.convert("RGB")))
    return np.asarray(F.pil_to_tensor(out))


@pytest.mark.parametrize(("resize", "crop", "interpolation"),
                         [(64, 48, "bilinear"), (56, 48, "bicubic"), (40, 48, "nearest")])
def test_decode_equals_torchvision_eval_transform(tmp_path, resize, crop, interpolation):
    """(40, 48): the crop is larger than the resized image; torchvision pads it with zeros."""
    _, files = _folder(tmp_path)
    mode = v2.InterpolationMode(interpolation)
    for path in files:
        ours = decode(path, (3, crop, crop), fit=EvalResize(resize, interpolation))
        assert ours.dtype == np.uint8 and ours.shape == (3, crop, crop)
        np.testing.assert_array_equal(ours, _torchvision(path, resize, crop, mode))


def test_loaded_folder_is_resized_then_cropped_and_cached_apart(tmp_path):
    root, files = _folder(tmp_path)
    expected = [_torchvision(p, 64, 48) for p in files]
    config = DatasetConfig("image_folder", {"folder": str(root)}, preprocessing=PRE)
    for attempt in range(2):   # the second load reads the decoded-image cache
        loaded = load_dataset(config, val_split=0.5, target_shape=(3, 48, 48))
        images = [*loaded.train_images.numpy(), *loaded.val_images.numpy()]
        assert len(images) == len(files)
        for image in images:
            assert any(np.array_equal(image, e) for e in expected)
        assert (loaded.mean, loaded.std) == (PRE.mean, PRE.std)
        assert any("then centre-cropped to 48×48" in line for line in loaded.report)
        if attempt:
            assert any("came from the decoded-image cache" in line for line in loaded.report)
    plain = load_dataset(DatasetConfig("image_folder", {"folder": str(root)}), val_split=0.5,
                         target_shape=(3, 48, 48))
    assert not any("came from the decoded-image cache" in line for line in plain.report)
    assert len(list(cache_folder().glob("*.vsdc"))) == 2
    squeezed = [*plain.train_images.numpy(), *plain.val_images.numpy()]
    assert not any(np.array_equal(a, e) for a in squeezed for e in expected)


def test_cache_key_holds_the_resize_and_crop(tmp_path):
    _, files = _folder(tmp_path)
    shape = (3, 48, 48)
    keys = {dataset_key(files, shape),
            dataset_key(files, shape, EvalResize(64).key()),
            dataset_key(files, shape, EvalResize(56).key()),
            dataset_key(files, shape, EvalResize(64, "bicubic").key())}
    assert len(keys) == 4


def test_input_other_than_the_crop_keeps_the_plain_resize_and_says_so(tmp_path):
    root, files = _folder(tmp_path)
    loaded = load_dataset(DatasetConfig("image_folder", {"folder": str(root)}, preprocessing=PRE),
                          val_split=0.5, target_shape=(3, 32, 32))
    assert loaded.train_images.shape[1:] == (3, 32, 32)
    assert any("the network's Input is 32×32, so images are resized straight to it" in line
               for line in loaded.report)
    plain = {decode(p, (3, 32, 32)).tobytes() for p in files}
    assert all(image.numpy().tobytes() in plain
               for image in [*loaded.train_images, *loaded.val_images])
