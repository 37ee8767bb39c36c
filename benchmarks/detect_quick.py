"""Can the detection template learn? Train ``detection_grid`` on shapes-detect on the CPU
through the app's own run path (plan_run, execute) and print mAP@0.5 per epoch, the best
figure and the minutes it took. The target is mAP@0.5 >= 0.8 in a few minutes.

    .venv/bin/python benchmarks/detect_quick.py [--epochs N] [--samples N] [--val-samples N]
                                                [--threads N] [--template detection_grid]

Also takes ``--template localization`` (prints IoU and accuracy).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_MAP50 = 0.8


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--template", default="detection_grid")
    ap.add_argument("--epochs", type=int, default=None, help="default: the template's")
    ap.add_argument("--samples", type=int, default=None, help="training images (default: the dataset's)")
    ap.add_argument("--val-samples", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--augmentation", default=None)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    import torch

    from visionstudio.core.templates import load_template
    from visionstudio.core.training.callbacks import Callback
    from visionstudio.core.training.plan import PlanProblems, execute, plan_run

    torch.set_num_threads(args.threads)
    doc = load_template(args.template)
    overrides = {"device": "cpu", "mixed_precision": "off"}
    for name in ("epochs", "batch_size", "augmentation"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    data = {k: v for k, v in (("samples", args.samples), ("val_samples", args.val_samples)) if v is not None}
    plan = plan_run(doc, overrides, dataset_overrides=data)
    if isinstance(plan, PlanProblems):
        print(plan.message)
        return 1
    names = {"detection": ("map50", "map", "precision", "recall"),
             "localization": ("iou", "accuracy", "box_l1")}
    shown = names.get(doc.task, ())

    class Print(Callback):
        def on_epoch_end(self, trainer, record) -> None:
            metrics = dict(record.val_metrics)
            parts = " ".join(f"{k} {metrics[k]:.3f}" for k in shown if k in metrics)
            heads = " ".join(f"{k} {v:.3f}" for k, v in record.train_head_losses)
            print(f"epoch {record.epoch:3d}  loss {record.train_loss:.3f} ({heads})  {parts}  "
                  f"[{record.elapsed_s / 60:.1f} min]", flush=True)

    start, cpu_start = time.perf_counter(), time.process_time()
    result = execute(plan, [Print()], metrics_csv=False)
    minutes = (time.perf_counter() - start) / 60
    cpu_minutes = (time.process_time() - cpu_start) / 60   # the machine's load does not change it
    if not result.ok or result.fit is None:
        print(f"the run failed: {result.failure}")
        return 1
    key = shown[0] if shown else "val_loss"
    values = [dict(r.val_metrics).get(key, float("nan")) for r in result.fit.history]
    print(f"{args.template}: best {key} {max(values):.3f}, last {values[-1]:.3f}, "
          f"{len(values)} epochs, {minutes:.1f} min on {args.threads} CPU threads, "
          f"{cpu_minutes:.1f} min of CPU time (both including loading the data)")
    if doc.task == "detection":
        reached = [r for r, v in zip(result.fit.history, values) if v >= TARGET_MAP50]
        if reached:
            print(f"mAP@0.5 >= {TARGET_MAP50} first after epoch {reached[0].epoch} "
                  f"({reached[0].elapsed_s / 60:.1f} min)")
        else:
            print(f"mAP@0.5 never reached {TARGET_MAP50}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
