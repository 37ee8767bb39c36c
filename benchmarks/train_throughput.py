"""Training throughput: VisionStudio's trainer vs. hand-written PyTorch loops.

    python benchmarks/train_throughput.py [--device cpu|cuda] [--data mnist|cifar]
                                          [--samples 8192] [--rounds 5] [--threads N]

Three loops train the classic CNN template (Adam, batch 128, one epoch per round) on the
same in-memory random data; rounds are interleaved so machine noise hits all three:

- visionstudio: ``Trainer.fit`` (uint8 data converted once on the device, randperm
  batches, channels_last where it pays, throttled reporting), wall clock incl. set-up
- idiomatic:    TensorDataset + DataLoader(shuffle=True), ``.to(device)`` and
                ``loss.item()`` every batch
- bare:         forward/backward/step over pre-made device batches (the ceiling for the
                plain contiguous model; no shuffling, no metrics)

Prints images/s per loop (median of the rounds) and the ratios. Targets: >= 1.3x the
idiomatic loop and >= 0.9x the bare loop.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from visionstudio.core.build import build_model
from visionstudio.core.training.config import TrainingConfig
from visionstudio.core.training.feed import TrainData
from visionstudio.core.training.trainer import Trainer


def classic_cnn(shape: tuple[int, int, int]) -> torch.nn.Module:
    from visionstudio.core.templates import load_template

    doc = load_template("classic_cnn")
    graph = doc.graph.copy()
    for node in graph.nodes.values():
        if node.kind == "input":
            node.params.update(channels=shape[0], height=shape[1], width=shape[2])
        if node.kind == "dense" and node.params.get("activation") == "softmax":
            node.params["activation"] = "none"  # plain logits for the hand-written loops
    return build_model(graph, seed=0)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def run_visionstudio(model, x_u8, y, device, batch, channels_last=None):
    cfg = TrainingConfig.from_dict({"epochs": 1, "batch_size": batch, "device": str(device),
                                    "optimizer": {"key": "adam", "params": {"lr": 1e-3}}})
    data = TrainData.from_tensors(x_u8, y, num_classes=10)
    data.mean, data.std = (0.5,) * x_u8.shape[1], (0.25,) * x_u8.shape[1]
    sync(device)
    t0 = time.perf_counter()
    Trainer(model, cfg, channels_last=channels_last).fit(data)
    sync(device)
    return x_u8.shape[0] / (time.perf_counter() - t0)


def run_idiomatic(model, x_f, y, device, batch):
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(x_f, y), batch_size=batch, shuffle=True)
    sync(device)
    t0 = time.perf_counter()
    total = 0.0
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        total += loss.item()
    sync(device)
    return x_f.shape[0] / (time.perf_counter() - t0)


def run_bare(model, batches, device, n):
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sync(device)
    t0 = time.perf_counter()
    for xb, yb in batches:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(xb), yb).backward()
        opt.step()
    sync(device)
    return n / (time.perf_counter() - t0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--data", choices=("mnist", "cifar"), default=None,
                    help="mnist: 1x28x28 (default on CPU); cifar: 3x32x32 (default on CUDA)")
    ap.add_argument("--samples", type=int, default=8192)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-channels-last", action="store_true",
                    help="trainer without channels_last (to see what the layout alone gives)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    data = args.data or ("cifar" if device.type == "cuda" else "mnist")
    shape = (1, 28, 28) if data == "mnist" else (3, 32, 32)
    g = torch.Generator().manual_seed(0)
    x_u8 = torch.randint(0, 256, (args.samples, *shape), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 10, (args.samples,), generator=g)
    x_f = (x_u8.float() / 255 - 0.5) / 0.25
    batches = [(x_f[i:i + args.batch_size].to(device), y[i:i + args.batch_size].to(device))
               for i in range(0, args.samples, args.batch_size)]
    base = classic_cnn(shape)
    print(f"classic CNN, {data} {'x'.join(map(str, shape))}, {args.samples} samples, batch "
          f"{args.batch_size}, Adam, device {device}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}", flush=True)
    # warm-up (imports, allocator, cudnn autotune) — not counted
    run_visionstudio(copy.deepcopy(base), x_u8[:1024], y[:1024], device, args.batch_size)
    run_idiomatic(copy.deepcopy(base), x_f[:1024], y[:1024], device, args.batch_size)
    run_bare(copy.deepcopy(base), batches[:8], device, 1024)
    results: dict[str, list[float]] = {"visionstudio": [], "idiomatic": [], "bare": []}
    for r in range(args.rounds):
        results["visionstudio"].append(run_visionstudio(copy.deepcopy(base), x_u8, y, device, args.batch_size,
                                                        False if args.no_channels_last else None))
        results["idiomatic"].append(run_idiomatic(copy.deepcopy(base), x_f, y, device, args.batch_size))
        results["bare"].append(run_bare(copy.deepcopy(base), batches, device, args.samples))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}" for k, v in results.items()), flush=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    for k, v in med.items():
        print(f"{k:>12}: {v:10,.0f} images/s (median of {args.rounds})")
    print(f"visionstudio / idiomatic = {med['visionstudio'] / med['idiomatic']:.2f}x (target >= 1.3)")
    print(f"visionstudio / bare      = {med['visionstudio'] / med['bare']:.2f}x (target >= 0.9)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
