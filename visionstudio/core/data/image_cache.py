"""Decoded images kept on disk, so a folder is decoded once and not at every run.

One file per dataset: the folder's files (path, size, mtime, inode, ctime — in order),
the target C×H×W, the decoder's version and how it resizes (the pretrained weights'
resize and centre crop, when set) are hashed into the key, and the key names
the file. Any file added, removed or changed gives a new key, so a stale cache is never
read; the old file ages out under the size cap (oldest first, default 8 GiB in all).

Layout of a cache file (little-endian), memory-mapped as one block:

    header  (4 KiB)  magic, version, C, H, W, count, the key's SHA-256, CRC-32 of the above
    filled  (count bytes, padded to 4 KiB)   1 = the slot holds a decoded image
    slots   (count × C×H×W uint8)

The file is untrusted like any file the app reads: its size must equal what its header
and the caller's key announce before it is mapped; a wrong magic, version, shape, count,
key, checksum or size makes it discarded and created again. A new file is written under
a temporary name and renamed into place. Slots are written in place, and a slot's filled
byte only after its pixels, so a reader (another DataLoader worker, a later run) never
trusts a slot half written. A machine that loses power may keep a filled byte without
its page of pixels; the pixels are then zeros of the right size — wrong, never unsafe.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

CACHE_DIR_ENV = "VISIONSTUDIO_CACHE_DIR"         # the folder itself (tests, portable installs)
CACHE_MAX_ENV = "VISIONSTUDIO_CACHE_MAX_BYTES"   # the size cap, in bytes
DEFAULT_MAX_BYTES = 8 * 1024 ** 3
MAGIC = b"VSDECODE"
VERSION = 1
DECODER_VERSION = "image_decode-1"   # bump when decode() gives other pixels for the same file
SUFFIX = ".vsdc"
HEADER_BYTES = 4096
PAGE = 4096
MAX_COUNT = 50_000_000
STALE_TEMP_S = 3600          # a temporary file this old was left by a crash
_HEAD = struct.Struct("<8sIIIIQ32s")   # magic, version, c, h, w, count, key digest
_CRC = struct.Struct("<I")

__all__ = ["DecodedCache", "cache_folder", "dataset_key", "file_stamp", "max_cache_bytes"]


def cache_folder() -> Path:
    """``$VISIONSTUDIO_CACHE_DIR`` if set, else the user's cache folder + VisionStudio/decoded."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "VisionStudio" / "decoded"


def max_cache_bytes() -> int:
    text = os.environ.get(CACHE_MAX_ENV, "").strip()
    try:
        return max(0, int(text)) if text else DEFAULT_MAX_BYTES
    except ValueError:
        return DEFAULT_MAX_BYTES


def file_stamp(path: str | Path) -> str:
    """'size|mtime_ns|inode|ctime_ns' of a file (links followed), or 'missing'."""
    try:
        st = os.stat(path)
    except OSError:
        return "missing"
    return f"{st.st_size}|{st.st_mtime_ns}|{st.st_ino}|{st.st_ctime_ns}"


def dataset_key(files: Iterable[Path], shape: tuple[int, int, int], settings: str = "",
                stamps: list[str] | None = None, roots: Iterable[Path] = ()) -> str:
    """Hex SHA-256 of the ordered file list with each file's stamp, the real paths of the
    dataset's ``roots`` (the same relative names elsewhere are another dataset), the target
    shape, the decoder version and ``settings``. A file reached through a link is covered
    by its stamp (inode, size, times of the file linked to). ``stamps`` (one per file, as
    file_stamp gives) avoids a second stat when the caller already has them."""
    h = hashlib.sha256()
    h.update(f"{DECODER_VERSION}|{tuple(int(d) for d in shape)}|{settings}\n".encode())
    for root in roots:
        h.update(b"root\0" + os.fsencode(os.path.realpath(root)) + b"\n")
    for i, path in enumerate(files):
        meta = stamps[i] if stamps is not None else file_stamp(path)
        h.update(os.fsencode(os.path.abspath(path)) + b"\0" + meta.encode() + b"\n")
    return h.hexdigest()


def _round_up(n: int) -> int:
    return (n + PAGE - 1) // PAGE * PAGE


def _layout(count: int, shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """(bitmap offset, slots offset, total file size)."""
    c, h, w = shape
    data = HEADER_BYTES + _round_up(count)
    return HEADER_BYTES, data, data + count * c * h * w


def _header(digest: bytes, count: int, shape: tuple[int, int, int]) -> bytes:
    head = _HEAD.pack(MAGIC, VERSION, *shape, count, digest)
    return (head + _CRC.pack(zlib.crc32(head))).ljust(HEADER_BYTES, b"\0")


class DecodedCache:
    """uint8 slots ``count``×C×H×W in one memory-mapped file; ``open`` returns None when
    no cache can be used (the cap is too small, the folder cannot be written)."""

    def __init__(self, path: Path, key: str, count: int, shape: tuple[int, int, int]) -> None:
        self.path = Path(path)
        self.key = key
        self.count = int(count)
        self.shape = tuple(int(d) for d in shape)
        self._mm: mmap.mmap | None = None
        self._filled: np.ndarray | None = None
        self._slots: np.ndarray | None = None
        self.broken = False          # the file vanished or changed under a reader: decode instead

    # -- opening ------------------------------------------------------------------------

    @classmethod
    def open(cls, key: str, count: int, shape: tuple[int, int, int], *, folder: Path | None = None,
             max_bytes: int | None = None) -> DecodedCache | None:
        folder = Path(folder) if folder is not None else cache_folder()
        cap = max_cache_bytes() if max_bytes is None else int(max_bytes)
        if not (0 < count <= MAX_COUNT) or len(shape) != 3 or min(shape) < 1:
            return None
        size = _layout(count, shape)[2]
        if size > cap:
            return None
        cache = cls(folder / f"{key}{SUFFIX}", key, count, shape)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if not cache._map():
                cache._create(size)
                if not cache._map():
                    return None
            os.utime(cache.path)          # most recently used: evicted last
            evict(folder, cap, keep=cache.path)
        except OSError:
            cache.close()
            return None
        return cache

    def _create(self, size: int) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=SUFFIX, dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_header(bytes.fromhex(self.key), self.count, self.shape))
                f.truncate(size)          # sparse where the file system allows: slots unfilled
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _map(self) -> bool:
        """Map the file if it is exactly what this key expects; a bad file is deleted."""
        try:
            f = open(self.path, "r+b")
        except FileNotFoundError:
            return False
        bitmap_at, slots_at, size = _layout(self.count, self.shape)
        with f:
            good = (os.fstat(f.fileno()).st_size == size
                    and f.read(HEADER_BYTES) == _header(bytes.fromhex(self.key), self.count, self.shape))
            mm = mmap.mmap(f.fileno(), size) if good else None
        if mm is None:
            self.path.unlink(missing_ok=True)
            return False
        buf = np.frombuffer(mm, dtype=np.uint8)
        self._mm = mm
        self._filled = buf[bitmap_at:bitmap_at + self.count]
        self._slots = buf[slots_at:size].reshape(self.count, *self.shape)
        return True

    def _ready(self) -> bool:
        if self._slots is None and not self.broken:
            try:
                self.broken = not self._map()
            except OSError:
                self.broken = True
        return self._slots is not None

    # -- slots --------------------------------------------------------------------------

    def get(self, index: int) -> np.ndarray | None:
        """A view of slot ``index`` when it is filled, else None."""
        if not self._ready() or not self._filled[index]:
            return None
        return self._slots[index]

    def put(self, index: int, image: np.ndarray) -> None:
        if not self._ready() or image.shape != self.shape or image.dtype != np.uint8:
            return
        self._slots[index] = image
        self._filled[index] = 1           # after the pixels: a reader never sees half a slot

    def release(self, lo: int, hi: int) -> None:
        """Unmap this process's pages of slots [lo, hi): they stay in the file and the page
        cache (a shared file mapping: a later read faults them in again), but stop counting
        in this process's memory, so writing or copying out a whole cache leaves its RSS
        flat instead of growing to the file's size."""
        if self._mm is None or not hasattr(mmap, "MADV_DONTNEED") or hi <= lo:
            return
        slots_at = _layout(self.count, self.shape)[1]
        size = int(np.prod(self.shape))
        page = mmap.PAGESIZE
        start = -(-(slots_at + lo * size) // page) * page      # whole pages inside the range
        stop = (slots_at + hi * size) // page * page
        if stop > start:
            try:
                self._mm.madvise(mmap.MADV_DONTNEED, start, stop - start)
            except (OSError, ValueError):
                pass                      # only memory accounting is lost, never data

    def missing(self, lo: int, hi: int) -> int:
        """Slots in [lo, hi) not filled yet."""
        return hi - lo - int(np.count_nonzero(self._filled[lo:hi])) if self._ready() else hi - lo

    @property
    def filled(self) -> int:
        return int(np.count_nonzero(self._filled)) if self._ready() else 0

    def close(self) -> None:
        self._filled = self._slots = None
        self._mm = None                   # unmapped once no view of it is left

    def __getstate__(self) -> dict:
        """A DataLoader worker maps the file itself."""
        state = self.__dict__.copy()
        state.update(_mm=None, _filled=None, _slots=None)
        return state


def evict(folder: Path, cap: int, keep: Path | None = None) -> list[Path]:
    """Delete the least recently used cache files until the folder holds at most ``cap``
    bytes (``keep`` stays). Returns the deleted paths."""
    files = []
    for entry in os.scandir(folder):
        if entry.name.endswith(SUFFIX) and entry.is_file(follow_symlinks=False):
            st = entry.stat(follow_symlinks=False)
            if entry.name.startswith(".tmp-"):   # another process may be creating it
                if time.time() - st.st_mtime > STALE_TEMP_S:
                    Path(entry.path).unlink(missing_ok=True)   # left by a crash
                continue
            files.append((st.st_mtime_ns, st.st_size, Path(entry.path)))   # full size, even if sparse
    total = sum(size for _, size, _ in files)
    removed = []
    for _, size, path in sorted(files):
        if total <= cap:
            break
        if keep is not None and path == keep:
            continue
        try:
            path.unlink()
        except OSError:
            continue
        total -= size
        removed.append(path)
    return removed
