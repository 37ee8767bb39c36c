"""Pretrained weight files in torch's own hub cache, fetched on request.

The files go exactly where ``torch.hub`` / torchvision put them
(``torch.hub.get_dir()/checkpoints/<file name of the URL>``), so a file downloaded by
the app is found by a script that calls ``resnet18(weights=...)`` and the other way
round. ``torch.hub.download_url_to_file`` has neither a progress callback nor a way to
stop, hence this loop: the bytes stream into a temporary file in the same folder, the
hash prefix in the file name (``resnet18-f37072fd.pth``) is checked as torch.hub does,
and only a whole, verified file is renamed into place, so the cache never holds half a
file, even when the user cancels or the connection drops.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import torch

CHUNK = 1 << 20
TIMEOUT_S = 30
Progress = Callable[[int, int], None]     # (bytes so far, total bytes or 0 when unknown)


class DownloadProblem(RuntimeError):
    """The file could not be fetched; the message says where to put it by hand."""


class DownloadCancelled(RuntimeError):
    def __init__(self, message: str = "The download was cancelled; nothing was kept.") -> None:
        super().__init__(message)


def urlopen(url: str, timeout: float):
    """The opener (a seam for tests, which put a local fake here)."""
    return urllib.request.urlopen(url, timeout=timeout)


def cache_folder() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def file_name(url: str) -> str:
    return os.path.basename(urlparse(url).path)


def cached_file(url: str) -> Path:
    return cache_folder() / file_name(url)


def hash_prefix(name: str) -> str | None:
    """``resnet18-f37072fd.pth`` -> ``f37072fd``: the start of the file's SHA-256."""
    match = torch.hub.HASH_REGEX.search(name)
    return match.group(1) if match and match.group(1) else None


def manual_message(url: str, why: str) -> str:
    folder = cache_folder()
    return (f"{why} Download {url} on a computer with internet access and put the file "
            f"{file_name(url)} into the folder {folder} (torch's own cache of pretrained weights); "
            "it is then found without a connection.")


def download(url: str, progress: Progress | None = None,
             cancel: Callable[[], bool] | None = None) -> Path:
    """The cached file of ``url``, downloaded first when it is not there."""
    target = cached_file(url)
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    except OSError as exc:
        raise DownloadProblem(manual_message(url, f"Nothing can be written to {target.parent} "
                                                  f"({exc.strerror}).")) from None
    temp = Path(temp_name)
    try:
        digest = _stream(url, fd, progress, cancel)
        expected = hash_prefix(target.name)
        if expected is not None and not digest.startswith(expected):
            raise DownloadProblem(f"The downloaded {target.name} is damaged: its SHA-256 starts with "
                                  f"{digest[:len(expected)]}, not {expected}. It was not kept; try again.")
        os.replace(temp, target)
    except urllib.error.URLError as exc:
        raise DownloadProblem(manual_message(url, f"{file_name(url)} could not be downloaded "
                                                  f"({getattr(exc, 'reason', exc)}).")) from None
    except (OSError, TimeoutError) as exc:
        raise DownloadProblem(manual_message(url, f"{file_name(url)} could not be downloaded "
                                                  f"({type(exc).__name__}: {exc}).")) from None
    finally:
        temp.unlink(missing_ok=True)
    return target


def _stream(url: str, fd: int, progress: Progress | None, cancel: Callable[[], bool] | None) -> str:
    sha = hashlib.sha256()
    with os.fdopen(fd, "wb") as out, urlopen(url, TIMEOUT_S) as response:
        total = int(response.headers.get("Content-Length") or 0) if getattr(response, "headers", None) else 0
        done = 0
        if progress is not None:
            progress(0, total)
        while True:
            if cancel is not None and cancel():
                raise DownloadCancelled()
            chunk = response.read(CHUNK)
            if not chunk:
                break
            out.write(chunk)
            sha.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    return sha.hexdigest()
