"""Fingerprints of single images and the search for duplicates among them (no Qt).

Three fingerprints per image:

- ``bytes``: BLAKE2b of the file's bytes (a copy of the same file);
- ``pixels``: BLAKE2b of the decoded pixels as RGB with the size (the same picture saved
  again as another format or under another name, e.g. PNG and BMP);
- ``dhash``: a 64-bit difference hash (the image in grayscale, box-reduced to 9×8, one bit per
  pair of horizontal neighbours: is the right one brighter?). Re-encoding, resizing and a
  uniform brightness change leave it (almost) unchanged; images whose hashes differ in at
  most ``NEAR_DISTANCE`` bits are near duplicates. Nearly uniform images (a blank page)
  all hash alike and are reported as near duplicates of each other, which they are.

The perceptual hash is computed with numpy/Pillow here (the ``imagehash`` package is not a
dependency of the app; its dHash is the same algorithm). The near search splits the 64 bits
into 4 bands of 16: two hashes within 3 bits of each other agree on at least one whole band
(pigeonhole), so only images that share a band value are compared and the search stays
near-linear instead of comparing every pair.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from visionstudio.core.data.image_decode import MAX_PIXELS, ImageProblem, convert_image, too_large

NEAR_DISTANCE = 3            # bits; 4 bands of 16 bits find every pair within 3 bits
BANDS = 4
THUMB = 32                   # side of the per-class mean image
_CHUNK = 1 << 20

__all__ = ["NEAR_DISTANCE", "THUMB", "Groups", "dhash_of", "fingerprint", "near_pairs"]


def dhash_of(gray: np.ndarray) -> int:
    """64-bit difference hash of an 8×9 (rows × columns) grayscale array."""
    bits = (gray[:, 1:] > gray[:, :-1]).ravel()
    return int(np.packbits(bits.astype(np.uint8)).view(">u8")[0])


def _file_digest(path: str | Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def fingerprint(path: str | Path) -> tuple[dict, np.ndarray | None]:
    """({"bytes", "pixels", "dhash", "w", "h", "channels"} or {"problem": reason},
    a 3×THUMB×THUMB uint8 thumbnail or None). The pixel count is checked from the header
    before anything is decoded (the app's ``MAX_PIXELS`` limit)."""
    try:
        if os.path.getsize(path) == 0:
            return {"problem": "empty file (0 bytes)"}, None
        with Image.open(path) as img:
            width, height = img.size
            if width * height > MAX_PIXELS:
                return {"problem": too_large(width, height)}, None
            channels = len(img.getbands())
            img.load()
            rgb = convert_image(img, 3)
        digest = _file_digest(path)
    except ImageProblem as exc:
        return {"problem": str(exc)}, None
    except Exception as exc:  # noqa: BLE001 - Pillow plugins raise a zoo of types on bad data
        return {"problem": f"damaged or unreadable image ({type(exc).__name__}: {exc})"}, None
    return _record(rgb, digest, channels)


def _record(rgb: Image.Image, digest: str, channels: int) -> tuple[dict, np.ndarray]:
    pixels = hashlib.blake2b(rgb.tobytes(), digest_size=16, person=b"vs-pixels")
    pixels.update(f"{rgb.size}".encode())
    gray = np.asarray(rgb.convert("L").resize((9, 8), Image.Resampling.BOX), dtype=np.int16)
    thumb = np.asarray(rgb.resize((THUMB, THUMB), Image.Resampling.BOX), dtype=np.uint8)
    rec = {"bytes": digest, "pixels": pixels.hexdigest(), "dhash": dhash_of(gray),
           "w": rgb.size[0], "h": rgb.size[1], "channels": channels}
    return rec, thumb.transpose(2, 0, 1)


def tensor_fingerprints(images) -> tuple[list[dict], np.ndarray]:
    """Records and thumbnails of a uint8 N×C×H×W tensor (a built-in set), batched in torch."""
    import torch
    import torch.nn.functional as F

    records: list[dict] = []
    thumbs = []
    for start in range(0, int(images.shape[0]), 4096):
        block = images[start:start + 4096]
        n, c, h, w = block.shape
        rgb = block if c == 3 else block[:, :1].expand(n, 3, h, w)
        flat = rgb.contiguous().numpy().reshape(n, -1)
        f = rgb.float()
        gray = (0.299 * f[:, 0] + 0.587 * f[:, 1] + 0.114 * f[:, 2])[:, None]
        small = F.adaptive_avg_pool2d(gray, (8, 9))[:, 0].numpy()
        thumbs.append(F.adaptive_avg_pool2d(f, (THUMB, THUMB)).round().to(torch.uint8).numpy())
        for i in range(n):
            pixels = hashlib.blake2b(flat[i].tobytes(), digest_size=16, person=b"vs-pixels")
            pixels.update(f"{(w, h)}".encode())
            records.append({"bytes": None, "pixels": pixels.hexdigest(), "dhash": dhash_of(small[i]),
                            "w": w, "h": h, "channels": c})
    return records, (np.concatenate(thumbs) if thumbs else np.zeros((0, 3, THUMB, THUMB), np.uint8))


def near_pairs(hashes: Iterable[int], distance: int = NEAR_DISTANCE) -> list[tuple[int, int]]:
    """Index pairs (i < j) whose hashes differ in at most ``distance`` (<= 3) bits; equal
    hashes are grouped first, so a thousand blank images cost one comparison, not a million."""
    if not 0 <= distance <= BANDS - 1:
        raise ValueError(f"the band search finds pairs within {BANDS - 1} bits, not {distance}")
    by_value: dict[int, list[int]] = defaultdict(list)
    for i, value in enumerate(hashes):
        by_value[value].append(i)
    pairs = [(m[0], k) for m in by_value.values() for k in m[1:]]
    values = np.array(list(by_value), dtype=np.uint64)
    members = list(by_value.values())
    seen: set[tuple[int, int]] = set()
    for band in range(BANDS):
        keys = (values >> np.uint64(16 * band)) & np.uint64(0xFFFF)
        buckets: dict[int, list[int]] = defaultdict(list)
        for u, key in enumerate(keys.tolist()):
            buckets[key].append(u)
        for bucket in buckets.values():
            if len(bucket) < 2:
                continue
            idx = np.array(bucket)
            diff = values[idx][:, None] ^ values[idx][None, :]
            bits = np.unpackbits(diff.view(np.uint8), axis=-1).reshape(len(idx), len(idx), 64).sum(-1)
            for a, b in zip(*np.nonzero(np.triu(bits <= distance, 1))):
                pair = (int(idx[a]), int(idx[b]))
                if pair not in seen:
                    seen.add(pair)
                    pairs.append((members[pair[0]][0], members[pair[1]][0]))
    return pairs


class Groups:
    """Union-find over item indices: the connected groups of duplicate pairs."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self, items: Iterable[int]) -> list[list[int]]:
        out: dict[int, list[int]] = defaultdict(list)
        for i in items:
            out[self.find(i)].append(i)
        return [sorted(g) for g in out.values() if len(g) > 1]
