"""Built-in datasets brought to a pretrained network's Input.

A network made from pretrained weights keeps its Input (3×224×224 for ImageNet weights),
and its weights only give their reference accuracy on images prepared as they were
trained. Image folders decode straight to that (``image_folder._fit``); the built-in sets
(Shapes, MNIST, CIFAR) come at their own small size, so a project with a
``dataset.preprocessing`` section gets them resized here: the shorter side to the weights'
``resize`` and a centre crop to ``crop`` when the Input is that crop (torchvision's eval
transform), else straight to the Input; grayscale repeated into three channels, or RGB
made grayscale, when the Input asks for the other.

A set that fits in memory at the new size is resized once, a chunk at a time; a larger one
(CIFAR-10 at 224×224 is 7.5 GB) becomes a lazy view that resizes each image when the
trainer's loader asks for it, so memory stays bounded whatever the set's size.
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from visionstudio.core.data.base import LoadedDataset

MAX_RESIZED_BYTES = 2 * 1024 ** 3   # resized sets above this stay lazy (as image folders)
_CHUNK = 256                         # images resized at a time when resizing in memory
_MODES = {"nearest": InterpolationMode.NEAREST, "bilinear": InterpolationMode.BILINEAR,
          "bicubic": InterpolationMode.BICUBIC}


class InputFit:
    """The resize (and channel change) from a dataset's C×H×W to the network's Input."""

    def __init__(self, pre: Any, source: tuple[int, int, int], target: tuple[int, int, int]) -> None:
        self.source, self.target = tuple(source), tuple(target)
        self.mode = _MODES.get(getattr(pre, "interpolation", "bilinear"), InterpolationMode.BILINEAR)
        crop = int(getattr(pre, "crop", 0) or 0)
        square = target[1] == target[2] == crop
        self.short = int(pre.resize) if square else None   # None: straight to the Input's size

    def describe(self, pre: Any) -> str:
        c0, h0, w0 = self.source
        c, h, w = self.target
        how = (f"resized to {self.short} on their shorter side ({pre.interpolation}) and centre-cropped "
               f"to {h}×{w}, as {pre.source} expects" if self.short is not None else
               f"resized to the network's Input {h}×{w} ({pre.interpolation}); {pre.source} expects a "
               f"{pre.crop}×{pre.crop} crop")
        channels = ("" if c == c0 else "; grayscale repeated into 3 channels" if c0 == 1
                    else "; colour made grayscale")
        return f"The {h0}×{w0} images are {how}{channels}."

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 N×C×H×W (or C×H×W) at the source size -> uint8 at the target size."""
        c, h, w = self.target
        if self.short is not None:
            images = TF.resize(images, [self.short], interpolation=self.mode, antialias=True)
            images = TF.center_crop(images, [h, w])
        else:
            images = TF.resize(images, [h, w], interpolation=self.mode, antialias=True)
        channels = images.shape[-3]
        if channels == 1 and c == 3:
            images = images.expand(*images.shape[:-3], 3, h, w)
        elif channels == 3 and c == 1:
            images = TF.rgb_to_grayscale(images)
        return images.contiguous()


class ResizedImages(torch.utils.data.Dataset):
    """The lazy path: (uint8 C×H×W at the Input's size, label) per index."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, fit: InputFit) -> None:
        self.images, self.labels, self.fit = images, labels, fit
        self.sample_shape = fit.target

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any]:
        label = self.labels[index]
        return self.fit(self.images[index]), (int(label) if label.dim() == 0 else label)


def _resized(images: torch.Tensor, fit: InputFit) -> torch.Tensor:
    out = torch.empty((images.shape[0], *fit.target), dtype=torch.uint8)
    for i in range(0, images.shape[0], _CHUNK):
        out[i:i + _CHUNK] = fit(images[i:i + _CHUNK])
    return out


def fit_to_input(loaded: LoadedDataset, pre: Any, target: tuple[int, int, int] | None) -> LoadedDataset:
    """``loaded`` with its in-memory images at the network's Input size (see the module)."""
    if pre is None or target is None or not loaded.in_memory or target[0] not in (1, 3):
        return loaded
    if loaded.task != "classification":
        # a crop would cut boxes, and resizing changes what pixel targets mean
        loaded.report.append(f"{pre.source}'s resize and crop are for classification images; "
                             f"this {loaded.task} dataset keeps its own size.")
        return loaded
    source = tuple(int(d) for d in loaded.train_images.shape[1:])
    if source == tuple(target) or source[0] not in (1, 3):
        return loaded
    fit = InputFit(pre, source, target)   # type: ignore[arg-type]
    loaded.report.append(fit.describe(pre))
    count = loaded.num_train + loaded.num_val
    if count * target[0] * target[1] * target[2] <= MAX_RESIZED_BYTES:
        loaded.train_images = _resized(loaded.train_images, fit)
        if loaded.val_images is not None:
            loaded.val_images = _resized(loaded.val_images, fit)
        return loaded
    loaded.train_dataset = ResizedImages(loaded.train_images, loaded.train_labels, fit)
    loaded.val_dataset = (ResizedImages(loaded.val_images, loaded.val_labels, fit)
                          if loaded.val_images is not None else None)
    loaded.train_images = loaded.train_labels = loaded.val_images = loaded.val_labels = None
    loaded.report.append(f"At that size the {count:,} images take more than "
                         f"{MAX_RESIZED_BYTES // 1024 ** 3} GB, so each is resized as training reads it.")
    return loaded
