"""Checking (decoding) many image files on every core, straight into the decoded-image cache.

The pre-scan decodes every file once; one process does about 3,000 small JPEGs a second,
so a 100,000-image folder would wait half a minute on one core while torchvision's loader
uses them all. Here DataLoader workers decode and write each image into its slot of the
memory-mapped cache (a shared mapping), and hand back only the verdict — no pixels
cross the process boundary, except where a worker cannot map the cache.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from visionstudio.core.data.image_cache import DecodedCache
from visionstudio.core.data.image_decode import EvalResize, ImageProblem, decode

PARALLEL_MIN = 2000     # images to decode before worker processes pay for their start-up
BATCH = 64              # files per worker task


class _DecodeInto(torch.utils.data.Dataset):
    """Item i -> (i, reason or None, pixels or None); pixels only when the slot could not
    be written. Module level so that it pickles into spawned workers."""

    def __init__(self, paths: list[Path], shape: tuple[int, int, int], cache: DecodedCache,
                 base: int, fit: EvalResize | None = None) -> None:
        self.paths, self.shape, self.cache, self.base, self.fit = paths, shape, cache, base, fit

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[int, str | None, np.ndarray | None]:
        slot = self.base + i
        if self.cache.get(slot) is not None:
            return i, None, None
        try:
            image = decode(self.paths[i], self.shape, fit=self.fit)
        except ImageProblem as exc:
            return i, str(exc), None
        self.cache.put(slot, image)
        return i, None, (None if self.cache.get(slot) is not None else image)


def _as_list(items: list) -> list:
    return items


def workers_for(todo: int, workers: int | None = None) -> int:
    """Worker processes for ``todo`` decodes (0: decode in this process)."""
    cores = os.cpu_count() or 1
    n = cores if workers is None else workers
    return n if n > 1 and todo >= PARALLEL_MIN else 0


def decode_into_cache(paths: list[Path], shape: tuple[int, int, int], cache: DecodedCache, base: int,
                      workers: int, check: Any = None, fit: EvalResize | None = None
                      ) -> Iterator[tuple[int, np.ndarray | None, str | None]]:
    """(i, pixels, None) or (i, None, reason) for every file, in order; the pixels are a
    view of the cache slot. ``check`` is called between batches (cancel)."""
    loader = torch.utils.data.DataLoader(_DecodeInto(paths, shape, cache, base, fit), batch_size=BATCH,
                                         num_workers=workers, collate_fn=_as_list)
    for batch in loader:
        if check is not None:
            check()
        for i, reason, pixels in batch:
            if reason is not None:
                yield i, None, reason
            else:
                yield i, pixels if pixels is not None else cache.get(base + i), None
