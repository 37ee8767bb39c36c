"""What a project's network is trained to do: its task and the targets its heads feed.

A project has one task (the top-level ``task`` field of the project file). The task
decides what the dataset's labels are (see ``LoadedDataset.task``), which targets a head
(an Output layer) can feed, which losses fit each target and which metrics a run reports.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TargetKind:
    key: str            # the value of an Output layer's ``target``
    title: str
    help: str


@dataclass(frozen=True)
class TaskKind:
    key: str
    title: str
    description: str
    targets: tuple[TargetKind, ...]   # what its heads can feed, the usual one first
    primary_metric: str               # the metric a run is judged by ("accuracy", "r2", "iou", "map50")
    primary_mode: str                 # "max" or "min"


CLASS = TargetKind("class", "class", "One score per class (raw logits); the loss compares them with "
                   "the image's class.")
VALUES = TargetKind("values", "values", "One number per target column of the dataset.")
BOX = TargetKind("box", "box", "Four numbers: the box centre x, y and its width and height, as "
                 "fractions of the image size.")
DETECTIONS = TargetKind("detections", "detections", "A grid of cells, each with objectness, a box "
                        "and class scores (the Detect layer's input).")

TASK_KINDS: dict[str, TaskKind] = {t.key: t for t in (
    TaskKind("classification", "Classification", "Which class an image shows.", (CLASS,),
             "accuracy", "max"),
    TaskKind("regression", "Regression", "Numbers measured from an image (size, angle, position …).",
             (VALUES,), "r2", "max"),
    TaskKind("localization", "Localization", "One object per image: its class and its box.",
             (CLASS, BOX), "iou", "max"),
    TaskKind("detection", "Detection", "Every object in an image: a box and a class for each.",
             (DETECTIONS,), "map50", "max"),
)}
DEFAULT_TASK = "classification"
