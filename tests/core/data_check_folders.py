"""A tiny image folder with planted problems, shared by the dataset-check tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image


def _image(rng: np.random.Generator) -> np.ndarray:
    """A smooth random 48×48 RGB image (values 40..200, so +8 brightness never clips)."""
    small = rng.integers(40, 200, size=(6, 6, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((48, 48), Image.Resampling.BILINEAR))


def _save(arr: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def planted_folder(root: Path) -> dict:
    """train/{cat,dog,bird} and val/{cat,dog}; returns what was planted (paths as str)."""
    rng = np.random.default_rng(7)
    train, val = root / "train", root / "val"
    cat = [_image(rng) for _ in range(8)]
    for i, arr in enumerate(cat):
        _save(arr, train / "cat" / f"c{i}.png")
    exact = [[train / "cat" / "c0.png", _save(cat[0], train / "cat" / "c0_again.bmp")]]
    shutil.copyfile(train / "cat" / "c1.png", train / "cat" / "c1_copy.png")
    exact.append([train / "cat" / "c1.png", train / "cat" / "c1_copy.png"])
    pixel = cat[2].copy()
    pixel[20, 20] = (pixel[20, 20].astype(int) + 50).clip(0, 255)
    near = [[train / "cat" / "c2.png", _save(pixel, train / "cat" / "c2_pixel.png")],
            [train / "cat" / "c3.png", _save(cat[3] + 8, train / "cat" / "c3_bright.png")]]
    for i in range(3):
        _save(_image(rng), train / "dog" / f"d{i}.png")
    (train / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really an image")
    _save(_image(rng), train / "bird" / "b0.png")
    leak_exact = _save(cat[4], val / "cat" / "v_leak.bmp")
    leak_near = _save(cat[5] + 8, val / "cat" / "v_near.png")
    exact.append([train / "cat" / "c4.png", leak_exact])
    near.append([train / "cat" / "c5.png", leak_near])
    _save(_image(rng), val / "cat" / "v_new.png")
    _save(_image(rng), val / "dog" / "v_dog.png")
    return {"train": train, "val": val, "broken": str(train / "dog" / "broken.png"),
            "exact": [sorted(map(str, g)) for g in exact], "near": [sorted(map(str, g)) for g in near],
            "leaks": {str(leak_exact): str(train / "cat" / "c4.png"),
                      str(leak_near): str(train / "cat" / "c5.png")}}
