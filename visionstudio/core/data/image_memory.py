"""How an image folder's in-memory set is held: one uint8 block, decoded into, never stacked.

The set used to be a list of decoded images stacked (``np.stack``) into the training and
validation tensors at the end: two full copies at the peak. Here the loader allocates one
``count``×C×H×W block before decoding (its pages are only touched as images land in
it), ``_scan`` copies each image into its row, and ``pack_rows`` moves the rows in place
so the training rows come first and the validation rows next: both tensors are views of
the one block. Peak memory is that block plus one image.

Whether the set is held in memory at all is decided from its size before anything is
allocated: at most ``MAX_IN_MEMORY_BYTES`` (the caller's cap) and at most 1/IN_MEMORY_SHARE
of the memory this process can still use (free RAM, or the room under a cgroup limit), the
share the trainer's float copy keeps too. A larger set is read lazily from the
memory-mapped decoded-image cache, so peak memory does not grow with the folder.

Every loader of decoded images (image folders, the image CSV, YOLO and COCO boxes) goes
the same way: ``new_block`` (None: read lazily), ``_scan(..., into=block)`` (the k-th
image that decodes lands in row k, so the good rows come first and a file left out leaves
no gap), then ``split_rows`` (train rows, then validation rows, as views). The rows of
files left out stay at the block's end, allocated but never written: their pages are never
made resident, so trimming them costs nothing and copies nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from visionstudio.core.memory import host_available

IN_MEMORY_SHARE = 4          # the set takes at most a quarter of the memory still available

__all__ = ["IN_MEMORY_SHARE", "fits_in_memory", "new_block", "pack_rows", "split_rows"]


def fits_in_memory(nbytes: int, cap: int, available: int | None = None) -> bool:
    """Whether a uint8 set of ``nbytes`` may be held in memory under ``cap`` and the
    available-memory share (``available``: bytes, measured when None; unknown: cap only)."""
    if nbytes > cap:
        return False
    if available is None:
        found = host_available()
        available = found.bytes if found is not None else None
    return available is None or nbytes * IN_MEMORY_SHARE <= available


def new_block(count: int, shape: Sequence[int], cap: int,
              available: int | None = None) -> np.ndarray | None:
    """A uint8 block of ``count`` rows of ``shape`` when it fits (``fits_in_memory`` under
    ``cap``), decided before a byte is allocated; None: the set is read lazily. The block
    is allocated, not touched: a page becomes resident only when an image is written to it."""
    nbytes = int(count) * int(np.prod(shape, dtype=np.int64))
    if not fits_in_memory(nbytes, cap, available):
        return None
    return np.empty((int(count), *(int(d) for d in shape)), dtype=np.uint8)


def split_rows(block: np.ndarray, used: int, train: Sequence[int], val: Sequence[int]
               ) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows): two neighbouring views of ``block``, never a copy.
    Of its first ``used`` rows (the images that decoded, in order), row ``train[k]`` moves to
    k and row ``val[k]`` to ``len(train) + k``, in place; rows named by neither follow."""
    if used > len(block):
        raise ValueError("split_rows: more rows used than the block has")
    head = block[:used]
    pack_rows(head, [*train, *val])
    return head[:len(train)], head[len(train):len(train) + len(val)]


def pack_rows(block: np.ndarray, order: Sequence[int]) -> None:
    """Reorder the rows of ``block`` in place so that row k holds what row ``order[k]``
    held (``order``: distinct row indices); the rows not named follow in their order.
    One row of scratch, whatever the block's size (cycle by cycle)."""
    n = len(block)
    named = np.asarray(order, dtype=np.int64)
    if len(named) and (named.min() < 0 or named.max() >= n):
        raise ValueError("pack_rows: a row index is outside the block")
    rest = np.ones(n, dtype=bool)
    rest[named] = False
    perm = np.concatenate([named, np.flatnonzero(rest)])
    if len(perm) != n:
        raise ValueError("pack_rows: a row is named twice")
    done = perm == np.arange(n)
    for start in np.flatnonzero(~done).tolist():
        if done[start]:
            continue
        scratch = block[start].copy()
        j = start
        while True:
            k = int(perm[j])
            done[j] = True
            if k == start:
                block[j] = scratch
                break
            block[j] = block[k]
            j = k
