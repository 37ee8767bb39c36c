"""Every built-in task trained on the CPU through the one training path, with its figure.

    python benchmarks/tasks.py [--tasks regression,localization,detection] [--epochs N]
                               [--samples N] [--threads N] [--json OUT.json]

Each task's template (regression, localization, detection_grid) is planned with
``plan_run`` and trained with ``execute`` (core/training/plan.py: what the app, the
command line and the sweeps use), on the template's own built-in dataset and settings;
``--epochs`` and ``--samples`` change them for a quicker look (the figures below are for
the templates as shipped). Printed per task: its validation metrics after the last epoch
(and the best epoch's primary metric), the minutes it took (loading, building and
training), and whether the target is met:

- regression (shapes_regress, a square's size, angle, x, y): R² averaged over the
  targets, and per target; target >= 0.95
- localization (shapes_localize): IoU of the predicted box with the true one
- detection (shapes_detect): mAP@0.5 (COCO definition, torchmetrics); target >= 0.8

Measured figures and the machine: docs/tasks.md ("Benchmark: every built-in task on the CPU").
Exit status 0 when every task trained (a missed target is printed, not an error), 1 when
a plan was refused or a run failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from visionstudio.core.templates import load_template
from visionstudio.core.training.callbacks import Callback
from visionstudio.core.training.plan import PlanProblems, execute, plan_run

TEMPLATES = {"regression": "regression", "localization": "localization", "detection": "detection_grid"}
# The figure each task is judged by and its target (None: reported, no target set).
FIGURES = {"regression": ("r2", 0.95), "localization": ("iou", None), "detection": ("map50", 0.8)}


class EpochPrinter(Callback):
    """One line per epoch, so a long run shows it is alive."""

    def __init__(self, task: str, names: tuple[str, ...]) -> None:
        self.task, self.names, self.start = task, names, time.perf_counter()

    def on_epoch_end(self, trainer, record) -> None:
        values = record.metric_values()
        shown = ", ".join(f"{n} {values[n]:.4f}" for n in self.names if n in values)
        print(f"  {self.task} epoch {record.epoch}: {shown} "
              f"({(time.perf_counter() - self.start) / 60:.1f} min)", flush=True)


def run_task(task: str, args: argparse.Namespace) -> dict:
    doc = load_template(TEMPLATES[task])
    overrides = {"device": "cpu", "layer_health": False, "tensorboard": False}
    if args.epochs:
        overrides["epochs"] = args.epochs
    dataset = {"samples": args.samples} if args.samples else None
    plan = plan_run(doc, overrides, dataset_overrides=dataset)
    if isinstance(plan, PlanProblems):
        return {"task": task, "error": plan.message}
    metric, target = FIGURES[task]
    printer = EpochPrinter(task, ("train_loss", "val_loss", f"val_{metric}"))
    print(f"{task}: template {TEMPLATES[task]}, dataset {plan.dataset.key} "
          f"{plan.dataset.params.get('samples')} training images, {plan.config.epochs} epochs, "
          f"batch {plan.config.batch_size}", flush=True)
    start = time.perf_counter()
    result = execute(plan, callbacks=[printer])
    minutes = (time.perf_counter() - start) / 60
    if not result.ok or result.fit is None or not result.fit.history:
        message = result.failure.message if result.failure else result.status
        return {"task": task, "error": message, "minutes": minutes}
    last = result.fit.history[-1].metric_values()
    best = max(record.metric_values().get(f"val_{metric}", float("-inf"))
               for record in result.fit.history)
    value = last.get(f"val_{metric}")
    return {"task": task, "metric": metric, "value": value, "best": best, "target": target,
            "met": None if target is None or value is None else value >= target,
            "minutes": minutes, "epochs": result.fit.epochs_completed,
            "samples": plan.dataset.params.get("samples"),
            "metrics": {k: v for k, v in last.items() if k.startswith("val_")}}


def _print(row: dict) -> None:
    if "error" in row:
        print(f"{row['task']}: FAILED: {row['error']}")
        return
    verdict = ("" if row["target"] is None else
               f" (target >= {row['target']}: {'met' if row['met'] else 'MISSED'})")
    print(f"{row['task']}: {row['metric']} {row['value']:.4f} after {row['epochs']} epochs "
          f"(best {row['best']:.4f}){verdict}, {row['minutes']:.1f} min")
    for name, value in sorted(row["metrics"].items()):
        print(f"    {name} = {value:.4f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(TEMPLATES),
                        help="comma-separated: " + ", ".join(TEMPLATES))
    parser.add_argument("--epochs", type=int, default=0, help="override the template's epochs")
    parser.add_argument("--samples", type=int, default=0, help="override the training images")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: all cores)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = [t for t in tasks if t not in TEMPLATES]
    if unknown:
        parser.error(f"unknown task(s) {', '.join(unknown)}; choose from {', '.join(TEMPLATES)}")
    import torch

    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    print(f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__}", flush=True)
    rows = [run_task(task, args) for task in tasks]
    print("\nSummary")
    for row in rows:
        _print(row)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 1 if any("error" in row for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
