"""The preprocessing a network's pretrained weights expect, kept with the dataset settings.

Pretrained weights only give their reference accuracy on images prepared the way they
were trained: resized, centre-cropped and normalised with the *training set's* mean and
std (ImageNet's), not the new dataset's own. A project made from such weights carries
this section in ``dataset.preprocessing``; loading a dataset then normalises with these
figures instead of the ones it measures, and the training panel says so. Image folders
are resized on their shorter side to ``resize`` and centre-cropped to ``crop`` (the
network's Input), as torchvision's eval transform does (image_decode.EvalResize).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from visionstudio.core.params import ConfigError

INTERPOLATIONS = ("nearest", "bilinear", "bicubic")
MAX_SIDE = 8192
FIELDS = ("source", "resize", "crop", "mean", "std", "interpolation")

HELP = {
    "source": "The pretrained weights these settings come from, e.g. ResNet18_Weights.IMAGENET1K_V1.",
    "resize": "The shorter side the weights' training images were resized to, in pixels.",
    "crop": "The centre crop the network sees, in pixels (the size of its Input).",
    "mean": "Per-channel mean subtracted from images scaled to 0..1 (the weights' training set's).",
    "std": "Per-channel standard deviation images are divided by after the mean is subtracted.",
    "interpolation": "How images were resized: nearest, bilinear or bicubic.",
}


@dataclass(frozen=True)
class Preprocessing:
    source: str
    resize: int
    crop: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str = "bilinear"

    def describe(self) -> str:
        """``Preprocessing from ResNet18_Weights.IMAGENET1K_V1: resize 256, centre crop 224, ...``."""
        mean = "/".join(f"{m:g}" for m in self.mean)
        std = "/".join(f"{s:g}" for s in self.std)
        return (f"Preprocessing from {self.source}: resize {self.resize}, centre crop {self.crop}, "
                f"mean {mean}, std {std} ({self.interpolation})")

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "resize": self.resize, "crop": self.crop,
                "mean": list(self.mean), "std": list(self.std), "interpolation": self.interpolation}

    @classmethod
    def from_dict(cls, data: Any, path: str = "dataset.preprocessing") -> Preprocessing:
        if not isinstance(data, dict):
            raise ConfigError(path, "must be an object with " + ", ".join(FIELDS))
        for key in data:
            if key not in FIELDS:
                raise ConfigError(f"{path}.{key}" if isinstance(key, str) else path, "unknown field")
        source = data.get("source", "")
        if not isinstance(source, str) or not source or len(source) > 200:
            raise ConfigError(f"{path}.source", "must be the weights' name (1 to 200 characters)")
        sides = [_side(data.get(k), f"{path}.{k}") for k in ("resize", "crop")]
        mean = _floats(data.get("mean"), f"{path}.mean", positive=False)
        std = _floats(data.get("std"), f"{path}.std", positive=True)
        if len(mean) != len(std):
            raise ConfigError(f"{path}.std", f"must have as many values as the mean ({len(mean)})")
        interpolation = data.get("interpolation", "bilinear")
        if interpolation not in INTERPOLATIONS:
            raise ConfigError(f"{path}.interpolation", "must be one of " + ", ".join(INTERPOLATIONS))
        return cls(source, sides[0], sides[1], mean, std, interpolation)


def _side(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIDE:
        raise ConfigError(path, f"must be a whole number of pixels from 1 to {MAX_SIDE}")
    return value


def _floats(value: Any, path: str, *, positive: bool) -> tuple[float, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= 4:
        raise ConfigError(path, "must be a list of 1 to 4 numbers, one per channel")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or (positive and v <= 0) or abs(v) > 1e6:
            raise ConfigError(path, "must hold finite numbers" + (" above 0" if positive else ""))
        out.append(float(v))
    return tuple(out)


def from_transforms(source: str, transforms: Any) -> Preprocessing:
    """The preprocessing of torchvision's ``ImageClassification`` preset (``weights.transforms()``)."""
    def one(v: Any) -> int:
        return int(v[0] if isinstance(v, (list, tuple)) else v)

    interpolation = getattr(getattr(transforms, "interpolation", None), "value", "bilinear")
    return Preprocessing(source, one(transforms.resize_size), one(transforms.crop_size),
                         tuple(float(m) for m in transforms.mean), tuple(float(s) for s in transforms.std),
                         interpolation if interpolation in INTERPOLATIONS else "bilinear")
