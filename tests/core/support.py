"""Small helpers shared by the core tests."""

from __future__ import annotations

import importlib.util
import sys
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def torch_threads(n: int):
    """Run with ``n`` intra-op threads: for tiny tensors one thread is 2-3x faster than
    two on a shared machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def import_file(path: str | Path, name: str):
    """Import a generated .py file as a fresh module without leaving it in sys.modules."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module
