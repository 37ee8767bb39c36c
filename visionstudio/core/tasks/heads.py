"""The heads of a run: which outputs of the network feed which targets, with which loss.

``plan_heads`` reads them off the analysed graph, in the order the model returns its
outputs (``GraphAnalysis.output_ids``):

- an Output layer gives its own target, loss and weight; its loss takes the project's
  loss settings (``training.loss.params``) when it is the same loss, else that loss's
  defaults;
- a Detect layer feeds the ``detections`` target with the ``detection`` loss, whose
  params are the layer's own (box, objectness and class weights are among them), weight 1;
- a network without head layers has one plain output: it feeds the task's usual target
  with the project's loss (``training.loss``), weight 1, so every classification project
  made before tasks existed trains as it did.

``head_problems`` then checks the heads against the task and the dataset and says, in the
user's words, what to change. Checks that need the dataset (class counts, the number of
target values) are skipped when the dataset serves another task: the plan refuses that
with its own sentence, and comparing counts of the wrong labels would only confuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from visionstudio.core.layers import LAYERS, fmt_shape
from visionstudio.core.tasks import TASK_KINDS

DETECT_KIND = "detect"
OUTPUT_KIND = "output"


class HeadError(ValueError):
    """The network's outputs cannot be trained as heads; the message is a sentence for the user."""


@dataclass(frozen=True)
class HeadPlan:
    name: str                 # head layer's name (the sink's name when there is no head layer)
    target: str               # TargetKind key
    loss: dict                # {"key", "params"}
    weight: float
    output_shape: tuple[int, ...]


def _loss_of(key: str, training_loss: Mapping[str, Any]) -> dict:
    if training_loss.get("key") == key:
        return {"key": key, "params": dict(training_loss.get("params") or {})}
    return {"key": key, "params": {}}


def plan_heads(task: str, graph, analysis, training_loss: dict) -> tuple[HeadPlan, ...]:
    """The heads in the order the model returns them; raises HeadError when the network
    has no output to train or one of them has no known shape (its problem is on the canvas)."""
    if task not in TASK_KINDS:
        raise HeadError(f"the task {task!r} is not one of {', '.join(TASK_KINDS)}")
    if not analysis.output_ids:
        raise HeadError("the network has no output to train; connect its last layer to an Output "
                        "or fix the problems shown on the network")
    heads = []
    for nid in analysis.output_ids:
        node, info = graph.nodes[nid], analysis.nodes[nid]
        if info.output_shape is None:
            raise HeadError(f"the output {node.name} has no known shape; fix the problems shown on "
                            "the network first")
        shape = tuple(int(d) for d in info.output_shape)
        spec = LAYERS.get(node.kind) if node.kind in LAYERS else None
        params = info.clean_params
        if spec is not None and spec.is_head and spec.key == DETECT_KIND:
            heads.append(HeadPlan(node.name, "detections", {"key": "detection", "params": dict(params)},
                                  1.0, shape))
        elif spec is not None and spec.is_head and spec.key == OUTPUT_KIND:
            heads.append(HeadPlan(node.name, params["target"], _loss_of(params["loss"], training_loss),
                                  float(params["weight"]), shape))
        elif spec is not None and spec.is_head:
            raise HeadError(f"the head {node.name} is a {spec.title} layer, which no task can train yet")
        else:
            target = TASK_KINDS[task].targets[0].key
            loss = {"key": training_loss.get("key"), "params": dict(training_loss.get("params") or {})}
            heads.append(HeadPlan(node.name, target, loss, 1.0, shape))
    return tuple(heads)


BOX_NUMBERS = "centre x, y, width, height"


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _num_classes(data) -> int | None:
    n = getattr(data, "num_classes", None)
    return int(n) if n else None


def _target_names(data) -> tuple[int | None, tuple[str, ...]]:
    """How many values a regression dataset gives per image, and their names when known."""
    names = tuple(getattr(data, "target_names", None) or ())
    if names:
        return len(names), names
    count = getattr(data, "targets", None)
    labels = getattr(data, "train_labels", None)
    if count is None and labels is not None and labels.dim() == 2:
        count = int(labels.shape[1])
    return (int(count) if count else None), ()


def head_problems(task: str, heads, data) -> list[str]:
    """Sentences saying what stops these heads training ``task`` on ``data`` (a DatasetInfo
    or LoadedDataset; None checks the heads against the task alone); [] when nothing does."""
    kind = TASK_KINDS.get(task)
    if kind is None:
        return [f"the task {task!r} is not one of {', '.join(TASK_KINDS)}"]
    heads = tuple(heads)
    problems = _structure_problems(task, heads)
    if data is not None and getattr(data, "task", "classification") == task:
        problems += _data_problems(heads, data)
    return problems


def _structure_problems(task: str, heads: tuple[HeadPlan, ...]) -> list[str]:
    allowed = [t.key for t in TASK_KINDS[task].targets]
    problems: list[str] = []
    if task == "detection":
        if not any(h.loss.get("key") == "detection" for h in heads):
            return ["a detection network ends in a Detect layer; add one after the last convolution"]
        for h in heads:
            if h.loss.get("key") != "detection":
                problems.append(f"the {h.target} head {h.name} has no labels in a detection project; a "
                                "detection network ends in Detect layers only, delete it or its Output")
        if len(heads) > 1:
            problems.append(f"a detection network has one Detect layer; it has {len(heads)} "
                            f"({', '.join(h.name for h in heads)})")
        return problems
    for h in heads:
        if h.loss.get("key") == "detection":
            problems.append(f"the Detect layer {h.name} needs a detection project; set the task to "
                            f"Detection or end the network in Output layers")
        elif h.target not in allowed:
            problems.append(f"the head {h.name} feeds {h.target}, which a {task} project has no labels "
                            f"for; set its target to {' or '.join(allowed)}")
    for target in allowed:
        feeding = [h.name for h in heads if h.target == target]
        if not feeding:
            problems.append(f"a {task} network needs a {target} head; add an Output layer with target "
                            f"{target}")
        elif len(feeding) > 1:
            problems.append(f"a {task} network has one {target} head; it has {len(feeding)} "
                            f"({', '.join(feeding)})")
    return problems


def _data_problems(heads: tuple[HeadPlan, ...], data) -> list[str]:
    problems: list[str] = []
    classes = _num_classes(data)
    for h in heads:
        shape, out = h.output_shape, fmt_shape(h.output_shape)
        if h.target == "class" and classes is not None and shape != (classes,):
            scores = _count(classes, "score")
            problems.append(f"the class head {h.name} must output {scores} (one per class), it outputs {out}")
        elif h.target == "box" and shape != (4,):
            problems.append(f"the box head {h.name} must output 4 numbers ({BOX_NUMBERS}), it outputs {out}")
        elif h.target == "values":
            count, names = _target_names(data)
            if count is not None and shape != (count,):
                which = ", ".join(names) if names else "one per target"
                problems.append(f"the values head must output {_count(count, 'number')} ({which}), "
                                f"it outputs {out}")
        elif h.target == "detections" and classes is not None and len(shape) == 3:
            got = shape[0] - 5
            if got != classes:
                problems.append(f"Detect {h.name} gets {shape[0]} channels: 5 + {got} classes, but the "
                                f"dataset has {classes} classes (needs {5 + classes})")
    return problems
