"""One sample, ready for the model and for the eye.

A sample is kept as the dataset keeps it: uint8 C×H×W. ``prepare_sample`` does what
the trainer's Normalizer does to a batch (uint8 -> float / 255 -> (x - mean) / std), so
the network sees exactly what it was trained on. ``load_image_file`` opens any image a
user picks (PNG, JPEG, BMP, TIFF, WebP; any size and PIL mode) and converts it the way
an image-folder dataset converts its files, to the network Input's C×H×W.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

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


def _converter():
    """The data package's image conversion when it is there (the dataset's own rules)."""
    try:
        from ..data import images as data_images  # type: ignore[attr-defined]
    except ImportError:
        return None
    return getattr(data_images, "pil_to_chw", None) or getattr(data_images, "convert_image", None)


def pil_to_chw(img, channels: int, size: tuple[int, int]) -> np.ndarray:
    """Any PIL image -> uint8 channels×H×W (the rules an image-folder dataset uses).

    16-bit and float modes are scaled to 0..255 by their range, alpha is composited on
    black, palette and CMYK go through RGB, and the image is resized with antialiasing.
    """
    from PIL import Image

    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if mode.startswith("I;16"):
            arr = arr / 65535.0 * 255.0
        else:
            lo, hi = float(arr.min()), float(arr.max())
            arr = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        img = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "L")
    elif mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        img = Image.alpha_composite(base, rgba).convert("RGB")
    elif mode not in ("L", "RGB"):
        img = img.convert("RGB")
    img = img.convert("L" if channels == 1 else "RGB")
    h, w = size
    if img.size != (w, h):
        img = img.resize((w, h), Image.Resampling.BILINEAR, reducing_gap=None)
    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr[None]
    else:
        arr = np.moveaxis(arr, -1, 0)
    if channels not in (1, 3):
        arr = np.repeat(arr[:1], channels, axis=0)
    return np.ascontiguousarray(arr)


def load_image_file(path: str | os.PathLike[str], shape: Sequence[int]) -> Sample:
    """Open ``path`` and convert it to ``shape`` (the network Input's C×H×W)."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if len(shape) != 3:
        raise SampleError("The network's Input is not an image (channels×height×width), so an "
                          "image file cannot be fed to it.")
    c, h, w = (int(d) for d in shape)
    try:
        with Image.open(p) as img:
            img.load()
            mode, size = img.mode, img.size
            convert = _converter()
            if convert is not None:
                try:
                    arr = np.asarray(convert(img, c, (h, w)), dtype=np.uint8)
                except TypeError:
                    arr = pil_to_chw(img, c, (h, w))
            else:
                arr = pil_to_chw(img, c, (h, w))
    except FileNotFoundError:
        raise SampleError(f"{p} does not exist.") from None
    except UnidentifiedImageError:
        raise SampleError(f"{p.name} is not an image this app can read "
                          f"(PNG, JPEG, BMP, TIFF or WebP).") from None
    except (OSError, ValueError) as exc:
        raise SampleError(f"{p.name} could not be read: {exc}") from None
    note = f"{mode} {size[0]}×{size[1]} -> {'grayscale' if c == 1 else 'RGB' if c == 3 else f'{c}-channel'} {w}×{h}"
    return Sample(arr, None, str(p), None, note)
