"""Image folders for the hostile-input tests (core and UI): small class folders, PNG
headers that announce huge images, and a loader that deletes files once they are listed."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from PIL import Image

from tests.core.training_helpers import tiny_graph
from visionstudio.core.data import image_folder
from visionstudio.core.data.config import DatasetConfig


def make_folder(root: Path, per_class: int = 4, size: int = 8, mode: str = "RGB") -> Path:
    for c, cls in enumerate(("cat", "dog")):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            value = 30 + 150 * c + 5 * i
            colour = value if mode == "L" else (value, 255 - value, 60)
            Image.new(mode, (size, size), colour).save(root / cls / f"{i}.png")
    return root


def bilevel_png(path: Path, width: int, height: int, *, full: bool = True) -> Path:
    """A 1-bit PNG; ``full`` writes every (zero) row, so it decodes for real (a 12000×12000
    one is 17 KB on disk and 144 MB once decoded); otherwise only the header is honest."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    comp = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)
    body = b"".join(comp.compress(row) for _ in range(height if full else 1)) + comp.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def deleting_loader(monkeypatch, victims: list[str]):
    """Wrap the loader: the images load, then ``victims`` vanish (as if deleted mid-run)."""
    real = image_folder.load_image_folder

    def load_then_delete(params, ctx):
        loaded = real(params, ctx)
        for item in loaded.train_dataset.items[:2]:
            victims.append(f"{item[0].parent.name}/{item[0].name}")
            item[0].unlink()
        return loaded

    monkeypatch.setattr(image_folder, "load_image_folder", load_then_delete)


def folder_project(root: Path):
    from visionstudio.core.project import ProjectDocument
    from visionstudio.core.training.config import TrainingConfig

    return ProjectDocument(
        graph=tiny_graph(classes=2, size=8),
        dataset=DatasetConfig.from_dict({"key": "image_folder", "params": {"folder": str(root)}}),
        training=TrainingConfig.from_dict({"epochs": 1, "batch_size": 4, "device": "cpu",
                                           "val_split": 0.2}))
