"""Training-time augmentation presets, in two forms with the same meaning:

* ``make_augmentation`` — a function on a float batch N×C×H×W in [0, 1] (before
  normalisation) on any device, every sample with its own random flip, crop offset,
  angle and colour change, all in a few batched tensor ops. It draws from torch's
  global RNG of the batch's device, so ``torch.manual_seed`` reproduces it.
* ``make_v2_transform`` — the same presets as torchvision.transforms.v2 for the lazy
  DataLoader path, applied per item to uint8 C×H×W tensors.

Presets: none, flip, crop (pad by 1/8 of the side, reflect, random crop), flip_crop,
rotate (±15°), color (brightness, contrast, saturation ±25%), standard (flip + crop +
color).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

ROTATE_DEGREES = 15.0
JITTER = 0.25

PRESET_STEPS: dict[str, tuple[str, ...]] = {
    "none": (),
    "flip": ("flip",),
    "crop": ("crop",),
    "flip_crop": ("flip", "crop"),
    "rotate": ("rotate",),
    "color": ("color",),
    "standard": ("flip", "crop", "color"),
}


def crop_padding(sample_shape: Sequence[int]) -> int:
    """Padding of the random crop: an eighth of the shorter side (4 for 28 or 32 px)."""
    return max(1, int(round(min(int(sample_shape[-2]), int(sample_shape[-1])) / 8)))


def _steps(preset: str) -> tuple[str, ...]:
    if preset not in PRESET_STEPS:
        raise ValueError(f"unknown augmentation {preset!r} (known: {', '.join(PRESET_STEPS)})")
    return PRESET_STEPS[preset]


def random_flip(x: torch.Tensor) -> torch.Tensor:
    mask = torch.rand(x.shape[0], device=x.device) < 0.5
    return torch.where(mask[:, None, None, None], x.flip(-1), x)


def random_crop(x: torch.Tensor, pad: int) -> torch.Tensor:
    n, c, h, w = x.shape
    mode = "reflect" if pad < min(h, w) else "replicate"
    padded = F.pad(x, (pad, pad, pad, pad), mode=mode)
    oy = torch.randint(0, 2 * pad + 1, (n,), device=x.device)
    ox = torch.randint(0, 2 * pad + 1, (n,), device=x.device)
    rows = oy[:, None] + torch.arange(h, device=x.device)
    cols = ox[:, None] + torch.arange(w, device=x.device)
    out = padded.gather(2, rows[:, None, :, None].expand(n, c, h, w + 2 * pad))
    return out.gather(3, cols[:, None, None, :].expand(n, c, h, w))


def random_rotate(x: torch.Tensor, degrees: float = ROTATE_DEGREES) -> torch.Tensor:
    n, _, h, w = x.shape
    angle = (torch.rand(n, device=x.device) * 2 - 1) * math.radians(degrees)
    cos, sin = angle.cos(), angle.sin()
    zero = torch.zeros_like(cos)
    # Normalised coordinates stretch non-square images; the aspect terms undo it.
    theta = torch.stack([torch.stack([cos, -sin * h / w, zero], 1),
                         torch.stack([sin * w / h, cos, zero], 1)], 1)
    work = x if x.dtype in (torch.float32, torch.float64) else x.float()
    grid = F.affine_grid(theta.to(work.dtype), list(work.shape), align_corners=False)
    out = F.grid_sample(work, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return out.to(x.dtype)


def random_color(x: torch.Tensor, amount: float = JITTER) -> torch.Tensor:
    n, c = x.shape[:2]

    def factor() -> torch.Tensor:
        return (1 + (torch.rand(n, 1, 1, 1, device=x.device) * 2 - 1) * amount).to(x.dtype)

    x = x * factor()                                        # brightness
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * factor() + mean                        # contrast
    if c == 3:
        weights = torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype)
        gray = (x * weights[None, :, None, None]).sum(dim=1, keepdim=True)
        x = (x - gray) * factor() + gray                    # saturation
    return x.clamp(0.0, 1.0)


def make_augmentation(preset: str, sample_shape: Sequence[int]
                      ) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """A batch augmentation for ``preset`` (None for "none"); input and output are
    float N×C×H×W in [0, 1] with the same shape, on the input's device."""
    steps = _steps(preset)
    if not steps:
        return None
    pad = crop_padding(sample_shape)
    ops: list[Callable[[torch.Tensor], torch.Tensor]] = []
    for step in steps:
        if step == "flip":
            ops.append(random_flip)
        elif step == "crop":
            ops.append(lambda x: random_crop(x, pad))
        elif step == "rotate":
            ops.append(random_rotate)
        elif step == "color":
            ops.append(random_color)

    def augment(batch: torch.Tensor) -> torch.Tensor:
        for op in ops:
            batch = op(batch)
        return batch

    augment.preset = preset  # type: ignore[attr-defined]
    return augment


def make_v2_transform(preset: str, sample_shape: Sequence[int]) -> Any | None:
    """The preset as a torchvision.transforms.v2 pipeline on uint8 C×H×W tensors
    (None for "none"); output keeps the dtype and shape."""
    from torchvision.transforms import InterpolationMode, v2

    steps = _steps(preset)
    if not steps:
        return None
    c, h, w = (int(d) for d in sample_shape[-3:])
    pad = crop_padding(sample_shape)
    transforms: list[Any] = []
    for step in steps:
        if step == "flip":
            transforms.append(v2.RandomHorizontalFlip())
        elif step == "crop":
            transforms.append(v2.RandomCrop((h, w), padding=pad,
                                            padding_mode="reflect" if pad < min(h, w) else "edge"))
        elif step == "rotate":
            transforms.append(v2.RandomRotation(ROTATE_DEGREES, interpolation=InterpolationMode.BILINEAR))
        elif step == "color":
            transforms.append(v2.ColorJitter(brightness=JITTER, contrast=JITTER,
                                             saturation=JITTER if c == 3 else None))
    return v2.Compose(transforms)


class TransformedDataset(torch.utils.data.Dataset):
    """Items of ``dataset`` with ``transform`` applied to the image (lazy path)."""

    def __init__(self, dataset: Any, transform: Callable[[torch.Tensor], torch.Tensor] | None) -> None:
        self.dataset = dataset
        self.transform = transform
        shape = getattr(dataset, "sample_shape", None)
        if shape is not None:
            self.sample_shape = shape

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image, label = self.dataset[index]
        if self.transform is not None:
            image = self.transform(image)
        return image, label
