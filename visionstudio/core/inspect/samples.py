"""One sample, ready for the model and for the eye.

A sample is kept as the dataset keeps it: uint8 C×H×W. ``prepare_sample`` does what
the trainer's Normalizer does to a batch (uint8 -> float / 255 -> (x - mean) / std), so
the network sees exactly what it was trained on. ``load_image_file`` opens any image a
user picks (PNG, JPEG, BMP, TIFF, WebP; any size and PIL mode) and converts it with the
image-folder dataset's decoder, to the network Input's C×H×W.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: the viewer's module loads at start-up
    import torch

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")


class SampleError(ValueError):
    """An image file that cannot be used as a sample; the message is for the user."""


@dataclass(frozen=True)
class Sample:
    image: np.ndarray          # uint8 C×H×W: what the network gets before normalisation
    label: int | None          # true class when known (validation set), else None
    source: str                # "validation #12" or the file path
    index: int | None = None   # position in the validation set
    note: str = ""             # how the file was converted ("RGBA -> grayscale, 640×480 -> 28×28")

    @property
    def key(self) -> str:
        """Identifies the sample for the time-lapse store."""
        return f"val:{self.index}" if self.index is not None else f"file:{self.source}"

    def display(self) -> np.ndarray:
        """H×W (grayscale) or H×W×3 uint8, for showing the converted input."""
        img = self.image
        if img.shape[0] == 1:
            return img[0]
        if img.shape[0] >= 3:
            return np.ascontiguousarray(np.moveaxis(img[:3], 0, -1))
        return img.mean(axis=0).astype(np.uint8)


def prepare_batch(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 N×C×H×W -> normalised float32, exactly as the trainer prepares a batch."""
    import torch
    x = images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()
    if x.dim() == 4:
        c = x.shape[1]
        m = torch.tensor(_fit(mean, c), dtype=torch.float32).view(1, -1, 1, 1)
        s = torch.tensor(_fit(std, c), dtype=torch.float32).view(1, -1, 1, 1)
        x = (x - m) * (1.0 / s)
    return x


def prepare_sample(image: np.ndarray | torch.Tensor, mean: Sequence[float] | None,
                   std: Sequence[float] | None) -> torch.Tensor:
    """uint8 C×H×W -> 1×C×H×W float32 tensor the model takes."""
    import torch
    t = torch.as_tensor(np.array(image, copy=True)) if isinstance(image, np.ndarray) else image.clone()
    if t.dim() == 3:
        t = t.unsqueeze(0)
    c = t.shape[1]
    return prepare_batch(t, mean if mean is not None else (0.0,) * c,
                         std if std is not None else (1.0,) * c)


def _fit(values: Sequence[float], c: int) -> list[float]:
    vals = [float(v) for v in values]
    if len(vals) == c:
        return vals
    if len(vals) == 1:
        return vals * c
    return [sum(vals) / len(vals)] * c   # 3-channel stats for a 1-channel input (or back)


def load_image_file(path: str | os.PathLike[str], shape: Sequence[int]) -> Sample:
    """Open ``path`` and convert it to ``shape`` (the network Input's C×H×W) with the
    image-folder dataset's own decoder (``core.data.image_folder.decode``): EXIF
    rotation, 16-bit scaled to 8-bit, alpha composited on white, CMYK/palette converted,
    bilinear resize — so a file is seen exactly as it would be in a training folder, and
    refused as it would be there: over ``image_decode.MAX_PIXELS`` (50 MP) from its header,
    before it is decoded."""
    from PIL import Image

    from visionstudio.core.data.image_folder import ImageProblem, decode

    p = Path(path)
    if len(shape) != 3:
        raise SampleError("The network's Input is not an image (channels×height×width), so an "
                          "image file cannot be fed to it.")
    c, h, w = (int(d) for d in shape)
    if not p.is_file():
        raise SampleError(f"{p} does not exist.")
    try:
        arr = decode(p, (c, h, w))
    except ImageProblem as exc:
        raise SampleError(f"{p.name} cannot be used: {exc}.") from None
    try:
        with Image.open(p) as img:
            mode, size = img.mode, img.size
    except Exception:  # noqa: BLE001 - decode read it; the note is decoration
        mode, size = "?", (w, h)
    kind = "grayscale" if c == 1 else "RGB" if c == 3 else f"{c}-channel"
    note = f"{mode} {size[0]}×{size[1]} -> {kind} {w}×{h}"
    return Sample(np.ascontiguousarray(arr, dtype=np.uint8), None, str(p), None, note)
