"""Peak memory of the image-CSV loader before and after decoding into one uint8 block.

    python benchmarks/image_csv_memory.py [--count 20000] [--dir DIR] [--before REV]

Generates (once, in --dir or a temporary folder) ``count`` 64×64 RGB JPEGs and a
targets.csv of two numbers per image, then loads it at the network Input's size
(3×64×64, validation split 0.1) in separate processes, side by side:

- before: ``load_image_csv`` as it was at REV (default: the parent of the commit that made
  the block; ``git show REV:visionstudio/core/data/image_csv.py``, imported from a
  temporary module against today's image_folder): decoded images listed, ``np.stack``'ed,
  then indexed into the training and validation tensors (copies on copies);
- after: today's ``load_image_csv``: one block allocated before decoding, decoded into,
  its rows moved in place so both tensors are views of it.

Each pair runs with an empty decoded-image cache (every file decoded, on every core) and
then with the cache filled by the first run. Peak memory is each child's own
``ru_maxrss`` (resource.getrusage, RUSAGE_SELF; its decode workers are processes of their
own), printed with what it was before loading (torch imported) and the ratio before/after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "8ed51de^"    # the commit that decoded the image CSV into one block, its parent
SIZE = 64


def _write_chunk(args: tuple[str, int, int]) -> list[str]:
    from PIL import Image

    folder, start, stop = args
    rng = np.random.default_rng(start)
    lines = []
    for i in range(start, stop):
        pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
        Image.fromarray(pixels).save(Path(folder) / f"{i:06d}.jpg", quality=85)
        lines.append(f"{i:06d}.jpg,{i % 97 / 10},{-(i % 13)}")
    return lines


def make_folder(base: Path, count: int) -> Path:
    """``base``/csv_n<count>: the JPEGs and targets.csv, written once (a marker says complete)."""
    folder = base / f"csv_n{count}"
    if (folder / ".complete").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    step = 2000
    with Pool(os.cpu_count() or 1) as pool:
        chunks = pool.map(_write_chunk, [(str(folder), s, min(s + step, count))
                                         for s in range(0, count, step)])
    (folder / "targets.csv").write_text("file,size,angle\n" + "\n".join(sum(chunks, [])) + "\n")
    (folder / ".complete").write_text("ok")
    print(f"generated {count} JPEGs + targets.csv in {time.perf_counter() - t0:.1f} s -> {folder}",
          flush=True)
    return folder


def _before_module(rev: str, scratch: Path):
    import importlib.util

    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:visionstudio/core/data/image_csv.py"],
                            capture_output=True, text=True, check=True).stdout
    path = scratch / "image_csv_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("image_csv_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def child(mode: str, root: Path, rev: str) -> dict:
    import resource

    import torch

    sys.path.insert(0, str(ROOT))
    from visionstudio.core.data.base import LoadContext

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as scratch:
        if mode == "before":
            module = _before_module(rev, Path(scratch))
        else:
            from visionstudio.core.data import image_csv as module
        base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        ctx = LoadContext(val_split=0.1, seed=0, target_shape=(3, SIZE, SIZE), download=False)
        t0 = time.perf_counter()
        data = module.load_image_csv({"folder": str(root), "csv": ""}, ctx)
        load_s = time.perf_counter() - t0
    assert data.train_images is not None, "the set should be held in memory"
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"base_mb": base_kb // 1024, "peak_mb": peak_kb // 1024, "load_s": round(load_s, 1),
            "train": int(data.num_train), "val": int(data.num_val),
            "tensors_mb": round((data.train_images.numel() + data.val_images.numel()) / 1024 ** 2)}


def run_child(mode: str, root: Path, rev: str, cache: Path) -> dict:
    env = dict(os.environ, VISIONSTUDIO_CACHE_DIR=str(cache))
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--root", str(root), "--before", rev],
                         env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--dir", type=Path, default=None, help="keep the generated folder here (reused)")
    ap.add_argument("--before", default=BEFORE, help="the git revision of the former loader")
    ap.add_argument("--child", choices=("before", "after"))
    ap.add_argument("--root", type=Path)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.root, args.before)))
        return
    with tempfile.TemporaryDirectory(prefix="vs_image_csv_") as tmp:
        base = args.dir or Path(tmp)
        root = make_folder(base, args.count)
        print(f"image CSV, {args.count} images of 3×{SIZE}×{SIZE}, before = {args.before}; "
              f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        for mode in ("empty", "filled"):   # each side its own cache: decoded now, then read back
            res = {name: run_child(name, root, args.before, Path(tmp) / f"cache_{name}")
                   for name in ("before", "after")}
            b, a = res["before"], res["after"]
            print(f"  cache {mode:>6}: peak RSS before {b['peak_mb']} MB, after {a['peak_mb']} MB, "
                  f"ratio {b['peak_mb'] / max(1, a['peak_mb']):.2f}x; above the {a['base_mb']} MB of "
                  f"an imported torch: {b['peak_mb'] - b['base_mb']} vs {a['peak_mb'] - a['base_mb']} MB "
                  f"({(b['peak_mb'] - b['base_mb']) / max(1, a['peak_mb'] - a['base_mb']):.2f}x); "
                  f"tensors {a['tensors_mb']} MB ({a['train']} + {a['val']} images); load "
                  f"{b['load_s']} vs {a['load_s']} s", flush=True)


if __name__ == "__main__":
    main()
