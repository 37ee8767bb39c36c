"""A small image folder full of the files real users have: reusable by any test.

``make_hazard_folder(path)`` writes, in torchvision ImageFolder layout:

    path/circles/  good RGB PNG, CMYK JPEG, RGBA PNG (transparent: white after compositing),
                   16-bit grayscale PNG, 1x1 image, palette GIF with transparency,
                   + a zero-byte .jpg, a text file renamed .jpg, a truncated PNG
    path/squares/  grayscale PNG, RGB JPEG, an LA PNG, a bilevel ('1') PNG, a 'P' PNG,
                   + a zero-byte .png
    path/empty/    no files (an empty class folder)
    path/README.txt  a loose file at the top level

Nothing is downloaded; everything is a few hundred bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass
class HazardFolder:
    root: Path
    classes: list[str]                       # classes with usable images, sorted
    good: dict[str, list[str]] = field(default_factory=dict)   # class -> usable file names
    bad: dict[str, str] = field(default_factory=dict)          # relative path -> reason word
    empty_classes: list[str] = field(default_factory=list)

    @property
    def num_good(self) -> int:
        return sum(len(v) for v in self.good.values())


def _noise(size: tuple[int, int], channels: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) if channels == 1 else (size[1], size[0], channels)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def make_hazard_folder(path: str | Path) -> HazardFolder:
    root = Path(path)
    circles, squares, empty = root / "circles", root / "squares", root / "empty"
    for folder in (circles, squares, empty):
        folder.mkdir(parents=True, exist_ok=True)
    (root / "README.txt").write_text("not a class folder\n")

    # -- circles: good but awkward formats ------------------------------------------------
    Image.fromarray(_noise((20, 14), 3, 1), "RGB").save(circles / "rgb.png")
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(circles / "cmyk.jpg", quality=95)
    Image.new("RGBA", (12, 12), (0, 0, 0, 0)).save(circles / "transparent.png")
    sixteen = np.full((10, 10), 30000, dtype=np.uint16)   # 30000/65535 -> about 117 of 255
    Image.fromarray(sixteen).save(circles / "gray16.png")
    Image.new("RGB", (1, 1), (10, 200, 30)).save(circles / "tiny.png")
    pal = Image.new("P", (8, 8), 0)
    pal.putpalette([255, 0, 0] + [0, 0, 255] * 255)
    pal.info["transparency"] = 0
    pal.save(circles / "palette.gif", transparency=0)
    # -- circles: broken -------------------------------------------------------------------
    (circles / "zero.jpg").write_bytes(b"")
    (circles / "notes.jpg").write_text("this is text pretending to be a JPEG\n")
    Image.fromarray(_noise((64, 64), 3, 2), "RGB").save(circles / "truncated_full.png")
    data = (circles / "truncated_full.png").read_bytes()
    (circles / "truncated.png").write_bytes(data[: len(data) // 2])
    (circles / "truncated_full.png").unlink()

    # -- squares -----------------------------------------------------------------------------
    Image.fromarray(_noise((30, 30), 1, 3), "L").save(squares / "gray.png")
    Image.fromarray(_noise((40, 24), 3, 4), "RGB").save(squares / "photo.jpg")
    Image.new("LA", (9, 9), (100, 255)).save(squares / "gray_alpha.png")
    Image.new("1", (16, 16), 1).save(squares / "bilevel.png")
    Image.fromarray(_noise((12, 12), 3, 5), "RGB").convert("P").save(squares / "palette.png")
    (squares / "zero.png").write_bytes(b"")

    return HazardFolder(
        root=root,
        classes=["circles", "squares"],
        good={
            "circles": ["cmyk.jpg", "gray16.png", "palette.gif", "rgb.png", "tiny.png",
                        "transparent.png"],
            "squares": ["bilevel.png", "gray.png", "gray_alpha.png", "palette.png", "photo.jpg"],
        },
        bad={
            "circles/zero.jpg": "empty",
            "circles/notes.jpg": "not an image",
            "circles/truncated.png": "truncated",
            "squares/zero.png": "empty",
        },
        empty_classes=["empty"],
    )
