"""Training-script export: a folder that trains the project with plain torch/torchvision,
on one device (``python train.py``) or many (``torchrun --nproc_per_node=N train.py``).

Files: train.py and train_data.py (fixed text, see train_template.py and
train_data_template.py), model.py + weights.safetensors (the PyTorch export),
config.json (the project's settings resolved to plain values: optimizer class and
arguments, schedule, loss and how it meets a final softmax, the metrics CSV's columns),
shapes_data.py (the app's built-in dataset generator, standalone), augmentation.py and
lr_schedule.py (the app's augmentation and learning-rate schedule modules, verbatim),
train_tasks.py (what the task trains: classification's loss, or the app's Objective) and
the app's task and box/regression data modules cut into standalone copies
(task_source.py: task_*.py, box_augment.py, regress_shapes_data.py, box_shapes_data.py …).
config.json carries the task, its heads (name, target, loss with every setting filled in,
weight, output shape) and the metric watched for early stopping with its direction.

Project text reaches the bundle as data (config.json, JSON-escaped), as a sanitised
README heading, or inside model.py through codegen's literals; every .py file is
compiled and every file encoded before the folder is created (``bundle_files``), so a
hostile project gives an ExportError and no files, never a broken or live script.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
from pathlib import Path
from typing import Any

import torch

import visionstudio.core.export.tasks_template as tasks_template
import visionstudio.core.export.train_data_template as train_data_template
import visionstudio.core.export.train_template as train_template
from visionstudio.core.data.registry import DATASETS
from visionstudio.core.export.augment_source import augment_module_source
from visionstudio.core.export.codegen import GeneratedModel
from visionstudio.core.export.pytorch_code import (
    MODEL_FILE,
    WEIGHTS_FILE,
    model_source,
    resolved_weights,
    save_weights,
)
from visionstudio.core.export.schedule_source import schedule_module_source
from visionstudio.core.export.shapes_source import shapes_module_source
from visionstudio.core.export.source_check import checked_source, plain_line
from visionstudio.core.export.task_source import task_module_sources
from visionstudio.core.export.transfer_source import param_groups_module_source
from visionstudio.core.export.weights import ExportError
from visionstudio.core.params import defaults
from visionstudio.core.project import ProjectDocument, atomic_write_bytes
from visionstudio.core.training.records import METRIC_COLUMNS

TRAIN_FILE = "train.py"
TRAIN_DATA_FILE = "train_data.py"
TASKS_FILE = "train_tasks.py"
SCHEDULE_FILE = "lr_schedule.py"
GROUPS_FILE = "param_groups.py"
CONFIG_FILE = "config.json"
SHAPES_FILE = "shapes_data.py"
AUGMENT_FILE = "augmentation.py"
README_FILE = "README.md"


def _loss_head(loss_key: str, softmax_output: bool) -> str:
    """What train.py feeds the loss, mirroring the app's training view (model_prep):
    "logits" (final softmax left out), "log_softmax" (NLL) or "output"."""
    from visionstudio.core.training.registry import LOSSES

    spec = LOSSES.get(loss_key)
    if not softmax_output or spec.expects == "any" or spec.key == "bce_with_logits":
        return "output"
    return "log_softmax" if spec.expects == "log_probs" else "logits"


def _optimizer(optimizer: dict[str, Any]) -> dict[str, Any]:
    from visionstudio.core.training.registry import OPTIMIZERS

    spec = OPTIMIZERS.get(optimizer["key"])
    kwargs = dict(spec.group_values(optimizer["params"]))
    kwargs.update(dict(spec.fixed))
    kwargs = {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}
    return {"key": spec.key, "class": spec.class_name, "kwargs": kwargs}


def training_config(doc: ProjectDocument, class_name: str, softmax_output: bool,
                    input_shape: tuple[int, ...]) -> dict[str, Any]:
    """config.json: everything train.py needs, as plain JSON."""
    from visionstudio.core.training.registry import SCHEDULERS

    t = doc.training
    sched = SCHEDULERS.get(t.scheduler["key"])
    task = getattr(doc, "task", "classification")
    metric, mode = early_stopping(t.early_stopping_metric, task)
    return {
        "format": "visionstudio.training-script",
        "version": 1,
        "project": doc.name,
        "task": task,
        "heads": task_heads(doc),
        "model": {"module": "model", "class": class_name, "weights": WEIGHTS_FILE,
                  "softmax_output": softmax_output},
        "input_shape": list(input_shape),
        "dataset": dataset_section(doc),
        "training": {
            "epochs": t.epochs, "batch_size": t.batch_size, "val_split": t.val_split,
            "augmentation": t.augmentation, "device": t.device,
            "mixed_precision": t.mixed_precision, "seed": t.seed, "clip_norm": t.clip_norm,
            "early_stopping_metric": metric, "early_stopping_mode": mode,
            "early_stopping_patience": t.early_stopping_patience,
            "frozen_bn_eval": t.frozen_bn_eval,
        },
        "loss": {"key": t.loss["key"], "params": t.loss["params"],
                 "head": _loss_head(t.loss["key"], softmax_output)},
        "optimizer": _optimizer(t.optimizer),
        "scheduler": {"key": sched.key, "params": t.scheduler["params"], "per": sched.per},
        "metrics": {"columns": list(METRIC_COLUMNS)},
        "normalization": "per-channel mean/std of the training images (on the 0..1 scale)",
    }


def early_stopping(choice: str, task: str) -> tuple[str, str]:
    """(metric column, "min"|"max") the exported loop watches: the app's rule, with
    val_metric written as the task's column (val_accuracy, val_r2, val_iou, val_map50)."""
    from visionstudio.core.tasks import TASK_KINDS
    from visionstudio.core.training.task_setup import early_stop_metric

    metric, mode, _ = early_stop_metric(choice, task, has_validation=True)
    if metric == "val_metric":
        metric = "val_" + TASK_KINDS[task].primary_metric
    return metric, mode


def task_heads(doc: ProjectDocument) -> list[dict[str, Any]]:
    """The heads as the app plans them, each loss's settings checked and completed (the
    bundle has no registries to fill in defaults); ExportError in the planner's words."""
    from visionstudio.core.graph import analyze
    from visionstudio.core.params import validate_all
    from visionstudio.core.tasks.detection_objective import detection_params
    from visionstudio.core.tasks.heads import HeadError, plan_heads
    from visionstudio.core.tasks.objective import ObjectiveError
    from visionstudio.core.training.losses import LOSSES

    graph = doc.graph.copy()
    try:
        heads = plan_heads(doc.task, graph, analyze(graph), doc.training.loss)
    except HeadError as exc:
        raise ExportError(f"the network's outputs cannot be exported for training: {exc}") from None
    out = []
    for h in heads:
        key = h.loss.get("key")
        if key == "detection":
            try:
                params = detection_params(h)
            except ObjectiveError as exc:
                raise ExportError(str(exc)) from None
        elif key in LOSSES:
            params, problems = validate_all(LOSSES.get(key).params, dict(h.loss.get("params") or {}))
            if problems:
                raise ExportError(f"the loss of {h.name}: {problems[0]}")
        else:
            raise ExportError(f"the head {h.name} names the loss {key!r}, which does not exist")
        out.append({"name": h.name, "target": h.target, "loss": {"key": key, "params": params},
                    "weight": float(h.weight), "output_shape": [int(d) for d in h.output_shape]})
    return out


def dataset_section(doc: ProjectDocument) -> dict[str, Any]:
    """The dataset key and its params with every default filled in."""
    key, params = doc.dataset.key, dict(doc.dataset.params)
    if key in DATASETS:  # an unknown key travels as it is; train.py says it cannot load it
        spec = DATASETS.get(key)
        key = DATASETS.canonical(key)
        params = {**defaults(spec.params), **params}
    return {"key": key, "params": params}


def train_script_source() -> str:
    return inspect.getsource(train_template)


def train_data_source() -> str:
    return inspect.getsource(train_data_template)


def train_tasks_source() -> str:
    return inspect.getsource(tasks_template)


README = """# {name}: training script exported by VisionStudio

    python train.py                                   # one process (GPU if there is one)
    torchrun --nproc_per_node=4 train.py              # 4 GPUs on this machine
    python train.py --resume                          # continue from out/checkpoints/last

On several machines, start the same command on each (the same folder and data on every
node; rank 0 writes `out/`), with the first machine's address as the rendezvous:

    torchrun --nnodes=2 --nproc_per_node=4 --rdzv_backend=c10d \\
        --rdzv_endpoint=HOST:29500 --rdzv_id=myrun train.py

Settings are in `config.json`; the network is `model.py` ({cls}) with its initial weights
in `weights.safetensors`. `augmentation.py`, `lr_schedule.py`, `param_groups.py` and
`shapes_data.py` are VisionStudio's own augmentation, learning-rate schedule, frozen
layers and learning-rate groups (model.py's FROZEN and LR_MULTIPLIERS) and built-in dataset code,
copied unchanged so the script trains like the app; `train_data.py` reads the data.
`train_tasks.py` trains the project's task (config.json's `task`); `task_*.py`, `box_augment.py` and the
`*_data.py` files are VisionStudio's own objectives, metrics and data code, cut from the app.
Metrics go to `out/metrics.csv` (import it in VisionStudio as a run), checkpoints to
`out/checkpoints/{{last,best}}/`. Needs torch, torchvision, safetensors and numpy
(a detection project also torchmetrics and pycocotools, for mAP; YOLO's data.yaml PyYAML).
"""


def config_bytes(config: dict[str, Any]) -> bytes:
    """config.json as UTF-8; text that UTF-8 cannot hold (a lone surrogate in a dataset
    path) is written as a JSON escape instead, which json.load reads back unchanged."""
    try:
        return (json.dumps(config, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(config, indent=2, ensure_ascii=True) + "\n").encode("utf-8")


def bundle_files(doc: ProjectDocument, generated: GeneratedModel) -> list[tuple[str, bytes]]:
    """The bundle's text files as (name, bytes), every .py compiled: all the text that
    goes into the folder, made before anything is written."""
    config = training_config(doc, generated.class_name, generated.softmax_output,
                             generated.input_shape)
    readme = README.format(name=plain_line(doc.name) or "Untitled", cls=generated.class_name)
    train, *modules = fixed_files()
    return [
        train,
        (MODEL_FILE, checked_source(generated.source, MODEL_FILE)),
        (CONFIG_FILE, config_bytes(config)),
        *modules,
        (README_FILE, readme.encode("utf-8")),
    ]


@functools.lru_cache(maxsize=1)
def fixed_files() -> tuple[tuple[str, bytes], ...]:
    """train.py and the modules it imports: the app's own text, no project text in them,
    so they are cut and compiled once per process (a failure is not cached)."""
    shapes, augment = shapes_module_source(), augment_module_source()
    sources = ((TRAIN_FILE, train_script_source()), (TRAIN_DATA_FILE, train_data_source()),
               (TASKS_FILE, train_tasks_source()),
               (SHAPES_FILE, shapes), (AUGMENT_FILE, augment),
               (SCHEDULE_FILE, schedule_module_source()), (GROUPS_FILE, param_groups_module_source()),
               *task_module_sources({"shapes_data": shapes, "augmentation": augment}))
    return tuple((name, checked_source(text, name)) for name, text in sources)


def export_training_script(doc: ProjectDocument, out_dir: str | os.PathLike[str],
                           weights: dict[str, torch.Tensor] | None = None) -> list[Path]:
    """Write the training bundle into ``out_dir``; returns the files written."""
    generated = model_source(doc)
    files = bundle_files(doc, generated)
    tensors = resolved_weights(doc, weights)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in files:
        atomic_write_bytes(out / name, data)
        written.append(out / name)
    save_weights(tensors, out / WEIGHTS_FILE, {"format": "pt", "model_class": generated.class_name})
    written.append(out / WEIGHTS_FILE)
    return written
