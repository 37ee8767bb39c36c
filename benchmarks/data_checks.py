"""Dataset checks at scale: 10,000 generated 64×64 JPEGs in 10 classes with planted problems.

    python benchmarks/data_checks.py [--count 10000] [--dir /tmp/vs_data_checks]

Generates the folder once (kept in --dir): smooth random images, plus 1% byte-identical
copies, 1% brightened copies (near duplicates) and 1% copies put in the validation folder
(leaks: half exact copies, half brightened). Then checks it twice with an empty cache
folder: "cold" (every file read and fingerprinted) and "cached" (the same unchanged
folder again), and prints the seconds and the findings. Target: cold < 30 s for 10,000 images.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _make(root: Path, count: int) -> None:
    done = root / f".done-{count}-v2"
    if done.exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(0)
    base = int(count * 0.97)
    per = base // 10
    kept: list[Path] = []
    for k in range(base):
        cls = k % 10
        small = rng.integers(30, 220, size=(8, 8, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((64, 64), Image.Resampling.BILINEAR)
        path = root / "train" / f"class{cls}" / f"{k:06d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path, quality=90)
        kept.append(path)
    extra = (count - base) // 3
    for k in range(extra):
        src = kept[k * 7 % len(kept)]
        shutil.copyfile(src, src.with_name(src.stem + "_copy.jpg"))
        near = kept[(k * 7 + 3) % len(kept)]
        arr = np.asarray(Image.open(near)).astype(np.int16) + 6
        Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(near.with_name(near.stem + "_bright.jpg"))
        leak = kept[(k * 7 + 5) % len(kept)]
        dest = root / "val" / leak.parent.name / leak.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if k % 2:      # half the leaks exact copies, half brightened (near) copies
            arr = np.asarray(Image.open(leak)).astype(np.int16) + 6
            Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(dest)
        else:
            shutil.copyfile(leak, dest)
    for cls in range(10):          # every class in validation too
        (root / "val" / f"class{cls}").mkdir(parents=True, exist_ok=True)
    print(f"made {count} files ({per} base images per class) in {root}")
    done.touch()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "vs_data_checks"))
    args = parser.parse_args()
    root = Path(args.dir)
    _make(root, args.count)
    import os

    cache = tempfile.mkdtemp(prefix="vs_checks_cache_")
    os.environ["VISIONSTUDIO_CACHE_DIR"] = cache
    from visionstudio.core.data.checks import check_dataset
    from visionstudio.core.data.config import DatasetConfig

    config = DatasetConfig.from_dict({"key": "image_folder", "params": {
        "folder": str(root / "train"), "val_folder": str(root / "val")}})
    for label in ("cold", "cached"):
        start = time.perf_counter()
        result = check_dataset(config)
        seconds = time.perf_counter() - start
        print(f"{label:6s}: {seconds:6.2f} s for {result.images} images (cached={result.cached})")
    for finding in result.findings:
        print(f"  {finding.message}")
    shutil.rmtree(cache, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
