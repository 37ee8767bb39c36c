"""Lazy image-folder items for sets over the in-memory limit: decoded on demand, every
file that breaks mid-run named instead of stopping the epoch (image_folder.py lists and
pre-scans the folders; this is what the training feed reads afterwards)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from visionstudio.core.data.image_cache import DecodedCache, file_stamp
from visionstudio.core.data.image_decode import EvalResize, ImageProblem, decode

SUBSTITUTES = 8                       # items tried in turn when a file breaks mid-run


def relative_name(path: Path, root: Path) -> str:
    """``path`` as the user knows it: relative to the folder they chose, when inside it."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


class FolderDataset(torch.utils.data.Dataset):
    """Lazy image-folder items: (uint8 C×H×W tensor, int label), decoded on demand.

    A file that breaks after the pre-scan (deleted, truncated, replaced) never stops an
    epoch and is never hidden: ``sample`` lets the next readable item of the list stand
    in, with that item's own label, and returns the broken files' names and reasons with
    it. The training feed calls ``sample`` (in DataLoader workers too) and collects the
    names in the main process, so the run reports them. Plain ``dataset[i]`` keeps them
    in ``failures`` — of this copy only (a worker's copy is its own).
    """

    def __init__(self, items: list[tuple[Path, int]], shape: tuple[int, int, int],
                 transform: Any = None, root: Path | None = None,
                 cache: DecodedCache | None = None, slots: list[int] | None = None,
                 stamps: list[str] | None = None, fit: EvalResize | None = None) -> None:
        self.items = list(items)
        self.fit = fit                    # the pretrained weights' resize and centre crop
        self.sample_shape = tuple(shape)
        self.transform = transform
        self.root = Path(root) if root is not None else None
        self.failures: list[tuple[Path, str]] = []
        # Decoded-image cache (each DataLoader worker maps the file itself): item i is
        # slot slots[i], valid while the file keeps stamps[i] (a file deleted or replaced
        # during the run is decoded, so it is reported, not served from the cache).
        self.cache = cache if slots is not None and stamps is not None else None
        self.slots = list(slots) if self.cache is not None else None
        self.stamps = list(stamps) if self.cache is not None else None

    def __len__(self) -> int:
        return len(self.items)

    def load(self, index: int) -> torch.Tensor:
        path, _ = self.items[index]
        if self.cache is not None:
            slot = self.slots[index]
            if file_stamp(path) == self.stamps[index]:
                cached = self.cache.get(slot)
                if cached is not None:
                    return torch.from_numpy(cached.copy())
                image = decode(path, self.sample_shape, verify=False, fit=self.fit)
                self.cache.put(slot, image)
                return torch.from_numpy(image)
        return torch.from_numpy(decode(path, self.sample_shape, verify=False, fit=self.fit))

    def _find(self, index: int) -> tuple[torch.Tensor | None, int, list[tuple[Path, str]]]:
        problems: list[tuple[Path, str]] = []
        for step in range(min(len(self.items), SUBSTITUTES)):
            j = (index + step) % len(self.items)
            try:
                image = self.load(j)
            except ImageProblem as exc:
                problems.append((self.items[j][0], str(exc)))
                continue
            if self.transform is not None:
                image = self.transform(image)
            return image, self.items[j][1], problems
        return None, self.items[index][1], problems

    def sample(self, index: int) -> tuple[torch.Tensor | None, int, tuple[tuple[str, str], ...]]:
        """(image, label, ((file name, reason), ...)); image is None when neither the item
        nor the next SUBSTITUTES - 1 could be read (the folder is likely gone)."""
        image, label, problems = self._find(index)
        return image, label, tuple((self.display_name(p), why) for p, why in problems)

    def display_name(self, path: Path) -> str:
        return relative_name(Path(path), self.root) if self.root is not None else str(path)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image, label, problems = self._find(index)
        self.failures.extend(problems)
        if image is None:
            image = torch.zeros(self.sample_shape, dtype=torch.uint8)
        return image, label

    @property
    def labels(self) -> list[int]:
        return [label for _, label in self.items]
