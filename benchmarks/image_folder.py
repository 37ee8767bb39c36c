"""Image folders at scale: VisionStudio's loader (with the decoded-image cache) against
torchvision's ImageFolder + DataLoader(num_workers=cores, pin_memory=True).

    python benchmarks/image_folder.py [--sizes 10000,30000,100000] [--dir /tmp/vs_image_folder]
                                      [--epochs 3] [--batch 256] [--workers N] [--lazy]
                                      [--float-limit BYTES]

Generates (once, cached in --dir) folders of 64×64 RGB JPEGs in 10 classes, then for each
size runs, each in its own process (so peak RSS is its own), interleaved:

- torchvision:  ImageFolder(ToTensor, Normalize) + DataLoader(shuffle, num_workers=cores,
                pin_memory=True); every epoch decodes every file again
- vs cold:      load_dataset("image_folder") with an empty cache (every file checked and
                decoded once, slots written), then the trainer's batch feed
- vs warm:      the same with the cache filled by "vs cold" (a second run of the app)
- vs lazy:      (--lazy) the big-folder path forced (MAX_IN_MEMORY_BYTES = 0): items are
                read from the memory-mapped cache by DataLoader workers
- vs nofloat:   (--float-limit BYTES) "vs warm" with the trainer's float-copy limit lowered,
                as on a machine without room for the copy: uint8 indexed, each batch converted

--rss: peak memory of loading only (float copy off, one epoch), side by side per size:
  stacked (the former loader: decoded images listed, then np.stack'ed into the tensors — two
  copies at the peak), block (decoded straight into one uint8 block, rows moved in place,
  cache pages released as read), lazy (over the limit: read from the cache); ratio
  stacked/block.

"Epoch 1" includes listing/loading; epochs 2+ are the median of the later epochs. The
throughput is of the data pipeline only: normalised float batches handed to the loop.
Peak memory: the process's VmHWM, and the peak Pss of the process with its DataLoader
workers (shared pages once), with its anonymous part (what cannot be reclaimed).
Targets: epoch 2+ >= 2x torchvision, epoch 1 >= 1x, epoch time linear in the size.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLASSES = 10
SIZE = 64
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


# -- data ---------------------------------------------------------------------------------

def _write_chunk(args: tuple[str, int, int]) -> None:
    from PIL import Image

    folder, start, stop = args
    rng = np.random.default_rng(start)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    for i in range(start, stop):
        label = i % CLASSES
        base = (np.sin(xx / (3 + label)) * 60 + np.cos(yy / (2 + i % 7)) * 60 + 128)
        pixels = np.stack([base, base[::-1], base[:, ::-1]], -1) + rng.normal(0, 12, (SIZE, SIZE, 3))
        img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        img.save(Path(folder) / f"c{label}" / f"{i:06d}.jpg", quality=90)


def make_folder(base: Path, count: int) -> Path:
    """``base``/n<count>: count JPEGs, written once (a marker file says it is complete)."""
    folder = base / f"n{count}"
    if (folder / ".complete").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    for c in range(CLASSES):
        (folder / f"c{c}").mkdir(parents=True)
    step = 2000
    t0 = time.perf_counter()
    with Pool(os.cpu_count() or 1) as pool:
        pool.map(_write_chunk, [(str(folder), s, min(s + step, count)) for s in range(0, count, step)])
    (folder / ".complete").write_text("ok")
    print(f"  generated {count} JPEGs in {time.perf_counter() - t0:.1f} s -> {folder}", flush=True)
    return folder


# -- children (one measurement each) ---------------------------------------------------------

def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                todo.extend(int(c) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split())
        except OSError:
            continue
    return out


def _pss_mb(pid: int) -> tuple[float, float]:
    """(Pss, Pss_Anon) of one process in MB: shared pages counted once across processes."""
    pss = anon = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
            elif line.startswith("Pss_Anon:"):
                anon = int(line.split()[1])
    except OSError:
        pass
    return pss / 1024, anon / 1024


class TreeMemory:
    """Peak memory of this process and its DataLoader workers together, sampled every
    0.1 s: Pss (what the tree really holds, shared pages once) and its anonymous part
    (Pss_Anon: memory that cannot be dropped; the rest is file pages such as the cache's
    mapping and the page cache, which the kernel reclaims under pressure)."""

    def __init__(self) -> None:
        import threading

        self.peak = self.peak_anon = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.sample()

    def sample(self) -> None:
        total = anon = 0.0
        for pid in _descendants(os.getpid()):
            p, a = _pss_mb(pid)
            total, anon = total + p, anon + a
        self.peak, self.peak_anon = max(self.peak, total), max(self.peak_anon, anon)

    def result(self) -> dict:
        self.sample()
        self._stop.set()
        hwm = 0
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) // 1024
        return {"rss_mb": hwm, "tree_pss_mb": round(self.peak), "tree_anon_mb": round(self.peak_anon)}


def child_torchvision(root: Path, epochs: int, batch: int, workers: int) -> dict:
    import torch
    from torchvision import datasets, transforms

    mem = TreeMemory()
    times = []
    t0 = time.perf_counter()
    ds = datasets.ImageFolder(str(root), transform=transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize(MEAN, STD)]))
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers,
                                         pin_memory=True)
    n = 0
    for _ in range(epochs):
        for _xb, yb in loader:
            n += len(yb)
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
    return {"times": times, "images": len(ds), **mem.result()}


def _former_loader(image_folder) -> None:
    """The loader as it was before the one-block change: the decoded images (or cache
    views) kept in a list and stacked into the training tensor (a second full copy)."""
    import torch

    decode_all = image_folder._decode_all

    def listed(listing, shape, ctx, in_memory, cache, block=None):
        return decode_all(listing, shape, ctx, in_memory, cache, None)

    def stacked(listing, usable, train_idx, val_idx, shape, ctx, block):
        images = torch.from_numpy(np.stack([usable.arrays[i] for i in train_idx]))
        labels = torch.tensor([usable.labels[i] for i in train_idx], dtype=torch.int64)
        mean, std = image_folder.channel_stats(images)
        return image_folder.LoadedDataset(images, labels, None, None, usable.class_names, mean, std,
                                          listing.report, skipped_files=usable.skipped)

    image_folder._decode_all, image_folder._in_memory = listed, stacked


def child_visionstudio(root: Path, epochs: int, batch: int, workers: int, lazy: bool,
                       float_limit: int | None = None, former: bool = False) -> dict:
    import warnings

    import torch

    sys.path.insert(0, str(ROOT))
    from visionstudio.core.data import image_folder
    from visionstudio.core.data.config import DatasetConfig
    from visionstudio.core.data.registry import load_dataset
    from visionstudio.core.training import feed as feed_module
    from visionstudio.core.training.feed import Normalizer, TrainData, make_feeds

    warnings.filterwarnings("ignore", message=".*pin_memory.*")
    if lazy:
        image_folder.MAX_IN_MEMORY_BYTES = 0
    if former:
        _former_loader(image_folder)
    if float_limit is not None:     # what a machine without room for the float copy does
        feed_module.FLOAT_CACHE_LIMIT = float_limit
    mem = TreeMemory()
    times = []
    t0 = time.perf_counter()
    loaded = load_dataset(DatasetConfig("image_folder", {"folder": str(root), "val_folder": ""}),
                          target_shape=(3, SIZE, SIZE), val_split=0.0, seed=0)
    data = TrainData.from_loaded(loaded)
    device = torch.device("cpu")
    norm = Normalizer(MEAN, STD, device, channels_last=False)
    feed, _ = make_feeds(data, norm, device, augmented=False, num_workers=workers)
    load_s = time.perf_counter() - t0
    gen = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        n = 0
        for _xb, yb in feed.batches(torch.randperm(feed.n, generator=gen), batch):
            n += len(yb)
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
    cached = [line for line in loaded.report if "decoded-image cache" in line]
    return {"times": times, "load_s": load_s, "images": feed.n, "cache": cached,
            "float_copy": getattr(feed, "stage", "lazy") != "raw", **mem.result()}


# -- parent ----------------------------------------------------------------------------------

def run_child(mode: str, root: Path, args: argparse.Namespace, cache: Path) -> dict:
    env = dict(os.environ, VISIONSTUDIO_CACHE_DIR=str(cache))
    cmd = [sys.executable, __file__, "--child", mode, "--root", str(root), "--epochs", str(args.epochs),
           "--batch", str(args.batch), "--workers", str(args.workers)]
    if args.float_limit is not None:
        cmd += ["--float-limit", str(args.float_limit)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{mode} on {root} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,30000,100000")
    ap.add_argument("--dir", default="/tmp/vs_image_folder")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--lazy", action="store_true", help="also measure the big-folder (lazy) path")
    ap.add_argument("--float-limit", type=int, default=None,
                    help="also 'vs warm' with the trainer's float-copy limit set to this many bytes "
                         "(0: never a float copy, each batch converted)")
    ap.add_argument("--rss", action="store_true", help="only the peak-memory comparison of loading")
    ap.add_argument("--child")
    ap.add_argument("--root")
    args = ap.parse_args()
    if args.child:
        root = Path(args.root)
        if args.child == "torchvision":
            res = child_torchvision(root, args.epochs, args.batch, args.workers)
        else:
            limit = args.float_limit if args.child in ("vs_nofloat", "rss_stacked", "rss_block",
                                                       "rss_lazy") else None
            res = child_visionstudio(root, args.epochs, args.batch, args.workers,
                                     args.child in ("vs_lazy", "rss_lazy"), limit,
                                     args.child == "rss_stacked")
        print(json.dumps(res))
        return

    base = Path(args.dir)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.rss:
        rss_compare(base, sizes, args)
        return
    print(f"cores {os.cpu_count()}, workers {args.workers}, batch {args.batch}, epochs {args.epochs}, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    modes = (["torchvision", "vs_cold", "vs_warm"] + (["vs_lazy"] if args.lazy else [])
             + (["vs_nofloat"] if args.float_limit is not None else []))
    rows = {}
    for size in sizes:
        root = make_folder(base, size)
        cache = base / f"cache_n{size}"
        shutil.rmtree(cache, ignore_errors=True)
        rows[size] = {}
        for mode in modes:   # cold before warm (it fills the cache); torchvision in between
            res = run_child(mode, root, args, cache)
            rows[size][mode] = res
            t = res["times"]
            later = statistics.median(t[1:]) if len(t) > 1 else float("nan")
            print(f"  n={size:>6} {mode:<12} epoch1 {t[0]:7.2f} s  epoch2+ {later:7.2f} s  "
                  f"({res['images'] / t[0]:8.0f} / {res['images'] / later:8.0f} img/s)  "
                  f"peak: RSS {res['rss_mb']:5d} MB, with workers Pss {res['tree_pss_mb']:5d} MB "
                  f"(anon {res['tree_anon_mb']:5d} MB)"
                  + (f"  load {res['load_s']:.2f} s" if "load_s" in res else "")
                  + (f"  float copy {'yes' if res['float_copy'] else 'no'}" if "float_copy" in res else ""),
                  flush=True)
        shutil.rmtree(cache, ignore_errors=True)

    print("\nEpoch times (s) by size — linearity: time per 1,000 images in brackets")
    for mode in modes:
        parts = []
        for size in sizes:
            t = rows[size][mode]["times"]
            later = statistics.median(t[1:]) if len(t) > 1 else t[0]
            parts.append(f"{size}: {t[0]:.2f} / {later:.2f} ({1000 * later / size:.3f})")
        print(f"  {mode:<12} epoch1 / epoch2+  " + "   ".join(parts))
    print("\nRatios against torchvision (higher is faster)")
    for size in sizes:
        tv = rows[size]["torchvision"]["times"]
        tv1, tv2 = tv[0], statistics.median(tv[1:]) if len(tv) > 1 else tv[0]
        for mode in modes[1:]:
            t = rows[size][mode]["times"]
            m2 = statistics.median(t[1:]) if len(t) > 1 else t[0]
            ours, theirs = rows[size][mode], rows[size]["torchvision"]
            print(f"  n={size:>6} {mode:<8} epoch1 {tv1 / t[0]:5.2f}x   epoch2+ {tv2 / m2:6.2f}x   "
                  f"peak Pss {ours['tree_pss_mb']} MB vs {theirs['tree_pss_mb']} MB "
                  f"(anon {ours['tree_anon_mb']} vs {theirs['tree_anon_mb']} MB)")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


def rss_compare(base: Path, sizes: list[int], args: argparse.Namespace) -> None:
    args.float_limit, args.epochs = 0, 1
    print(f"peak memory of loading (float copy off, 1 epoch), load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    for size in sizes:
        root = make_folder(base, size)
        cache = base / f"cache_rss_n{size}"
        for cold in (True, False):   # an empty cache (decoded now), then a filled one
            res = {}
            for mode in ("rss_stacked", "rss_block", "rss_lazy"):
                if cold:
                    shutil.rmtree(cache, ignore_errors=True)
                res[mode] = run_child(mode, root, args, cache)
            st, bl, lz = (res[m] for m in ("rss_stacked", "rss_block", "rss_lazy"))
            print(f"  n={size:>6} cache {'empty' if cold else 'filled'}: VmHWM stacked (before) "
                  f"{st['rss_mb']} MB, block (after) {bl['rss_mb']} MB, ratio "
                  f"{st['rss_mb'] / max(bl['rss_mb'], 1):.2f}x; tree anon {st['tree_anon_mb']} vs "
                  f"{bl['tree_anon_mb']} MB; lazy {lz['rss_mb']} MB (anon {lz['tree_anon_mb']} MB)  "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
