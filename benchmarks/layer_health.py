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


def _run(on: bool, args, data: TrainData) -> tuple[float, int]:
    records: list = []
    callbacks = [LayerHealthMonitor(records.append, every_steps=args.every,
                                    min_interval_s=args.interval)] if on else []
    cfg = TrainingConfig.from_dict({"epochs": args.epochs, "batch_size": args.batch,
                                    "device": args.device, "seed": 0})
    result = Trainer(build_model(_graph(), seed=0), cfg, callbacks=callbacks,
                     report_interval_s=0.1).fit(data)
    assert result.ok, result.failure
    return result.steps * args.batch / result.elapsed_s, len(records)


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
    ratios = []
    for r in range(args.rounds):
        order = (True, False) if r % 2 == 0 else (False, True)
        speed = {}
        for on in order:
            speed[on] = _run(on, args, data)
        ratio = speed[True][0] / speed[False][0]
        ratios.append(ratio)
        print(f"round {r + 1}: on {speed[True][0]:8.1f} img/s ({speed[True][1]} samples), "
              f"off {speed[False][0]:8.1f} img/s, on/off {ratio:.3f}")
    print(f"median on/off {statistics.median(ratios):.3f} (overhead "
          f"{(1 - statistics.median(ratios)) * 100:+.1f}%), load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
