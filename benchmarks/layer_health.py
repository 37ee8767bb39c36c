"""Layer health's cost: training throughput with the monitor on and off, interleaved in
one process (issue #18 item 3: overhead <= 3%).

    python benchmarks/layer_health.py [--rounds 5] [--epochs 2] [--samples 4096] [--device cpu]
                                      [--every 50] [--interval 1.0] [--threads N]

Each round trains the same small CNN (classic-CNN sized: 3 conv + relu, 2 dense, 32x32
images) once with and once without ``LayerHealthMonitor`` (the app's defaults: one step
in 50, at most one a second), in alternating order, and reads images/s from the run's
own clock (FitResult: steps x batch / elapsed). It prints each pair, the median ratio
(on / off) and the load average, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from tests.core.training_helpers import chain
from visionstudio.core.build import build_model
from visionstudio.core.training.config import TrainingConfig
from visionstudio.core.training.feed import TrainData
from visionstudio.core.training.layer_health import LayerHealthMonitor
from visionstudio.core.training.trainer import Trainer


def _graph():
    return chain(("input", {"channels": 3, "height": 32, "width": 32}),
                 ("conv2d", {"out_channels": 32, "kernel_size": 3, "padding": 1, "activation": "relu"}),
                 ("maxpool2d", {}),
                 ("conv2d", {"out_channels": 64, "kernel_size": 3, "padding": 1, "activation": "relu"}),
                 ("maxpool2d", {}),
                 ("conv2d", {"out_channels": 64, "kernel_size": 3, "padding": 1}),
                 ("relu", {}),
                 ("flatten", {}),
                 ("dense", {"units": 128, "activation": "relu"}),
                 ("dense", {"units": 10}))


def _data(n: int) -> TrainData:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 255, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 10, (n,), generator=g)
    return TrainData.from_tensors(x, y, x[:64], y[:64], num_classes=10)


def _run(on: bool, args, data: TrainData) -> tuple[float, float, int]:
    records: list = []
    callbacks = [LayerHealthMonitor(records.append, every_steps=args.every,
                                    min_interval_s=args.interval)] if on else []
    cfg = TrainingConfig.from_dict({"epochs": args.epochs, "batch_size": args.batch,
                                    "device": args.device, "seed": 0})
    cpu = time.process_time()
    result = Trainer(build_model(_graph(), seed=0), cfg, callbacks=callbacks,
                     report_interval_s=0.1).fit(data)
    cpu = time.process_time() - cpu
    assert result.ok, result.failure
    images = result.steps * args.batch
    return images / result.elapsed_s, images / cpu, len(records)


def _sampled_step_cost(args, data: TrainData) -> float:
    """CPU seconds one sampled step adds, as a share of an ordinary step: a report after
    every step and the monitor sampling every other one, against the same run without it
    (interleaved, 3 pairs, median). Steadier than the throughput ratio on a busy machine."""
    cfg = TrainingConfig.from_dict({"epochs": 1, "batch_size": args.batch, "device": args.device,
                                    "seed": 0})
    def per_step(on: bool) -> tuple[float, int]:
        records: list = []
        callbacks = [LayerHealthMonitor(records.append, every_steps=1, min_interval_s=0.0)] if on else []
        t = time.process_time()
        result = Trainer(build_model(_graph(), seed=0), cfg, callbacks=callbacks,
                         report_every=1).fit(data)
        return (time.process_time() - t) / result.steps, len(records) / result.steps

    costs = []
    for _ in range(3):
        off = per_step(False)[0]
        on, share = per_step(True)
        costs.append((on - off) / off / share)
    return statistics.median(costs)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--samples", type=int, default=4096)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--every", type=int, default=50)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = _data(args.samples)
    print(f"device {args.device}, torch threads {torch.get_num_threads()}, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    _run(False, args, data)   # warm-up
    ratios, cpu_ratios = [], []
    for r in range(args.rounds):
        order = (True, False) if r % 2 == 0 else (False, True)
        speed = {}
        for on in order:
            speed[on] = _run(on, args, data)
        ratio, cpu_ratio = speed[True][0] / speed[False][0], speed[True][1] / speed[False][1]
        ratios.append(ratio)
        cpu_ratios.append(cpu_ratio)
        print(f"round {r + 1}: on {speed[True][0]:8.1f} img/s ({speed[True][2]} samples), "
              f"off {speed[False][0]:8.1f} img/s, on/off {ratio:.3f}; per CPU second on/off {cpu_ratio:.3f}")
    for name, values in (("wall clock", ratios), ("CPU time", cpu_ratios)):
        median = statistics.median(values)
        print(f"{name}: median on/off {median:.3f} (overhead {(1 - median) * 100:+.1f}%)")
    cost = _sampled_step_cost(args, _data(args.batch * 20))
    print(f"one sampled step costs {cost:.2f} ordinary steps more: at one in {args.every} that is "
          f"{cost / args.every * 100:.1f}% (fewer where the 1 s limit binds)")
    print(f"load average now {os.getloadavg()[0]:.1f} (CPU time is the steadier figure on a "
          "shared machine: other processes slow the wall clock, not this one's CPU seconds)")


if __name__ == "__main__":
    main()
