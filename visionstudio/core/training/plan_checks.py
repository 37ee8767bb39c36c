"""The plan's checks that network, task and dataset fit one another (plan.py runs them).

- The dataset must give the task's labels (``DatasetSpec.tasks``; a loaded set's
  ``task``): a regression project on Shapes is refused with the datasets that would do.
- The heads (core/tasks/heads.py) are read off the graph and checked against the task and
  the dataset (head_problems' sentences).
- The Input must fit the dataset's images (check_compatibility). A classification
  network without head layers (every project made before tasks) keeps the old output
  check too (one score per class, a 1×1 map allowed); with head layers the heads' own
  checks say it.

What the user can change comes back as a ``Refused`` sentence, never an exception of
another kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from visionstudio.core.data.base import DatasetError, DatasetInfo, LoadedDataset
from visionstudio.core.data.compat import check_compatibility
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.data.registry import DATASETS, unknown_dataset_message
from visionstudio.core.layers import LAYERS
from visionstudio.core.params import validate_all
from visionstudio.core.tasks import TASK_KINDS
from visionstudio.core.tasks.heads import HeadError, HeadPlan, head_problems, plan_heads


class Refused(Exception):
    """A problem found while planning; plan_run turns it into PlanProblems."""


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def describe_without_loading(dataset: DatasetConfig) -> DatasetInfo | None:
    """What the dataset will give, when that is known for sure without loading it: sets
    of fixed images (Shapes, the torchvision sets). None when only loading can tell: an
    image folder's images follow the Input, and a class whose files are all unreadable
    drops out, so counting its sub-folders is no promise. Refused for an unknown dataset."""
    if dataset.key not in DATASETS:
        raise Refused(unknown_dataset_message(dataset.key))
    spec = DATASETS.get(dataset.key)
    params, _ = validate_all(spec.params, dict(dataset.params or {}))
    try:
        info = spec.describe(params)
    except DatasetError:
        return None   # loading will say what is wrong
    if info.sample_shape is None or getattr(dataset, "preprocessing", None) is not None:
        return None   # the images follow the Input (image folders; pretrained: fit_input.py)
    known = info.num_classes is not None if info.task != "regression" else bool(info.targets)
    return info if known else None


def _task_title(task: str) -> str:
    return TASK_KINDS[task].title.lower() if task in TASK_KINDS else task


def task_problem(dataset: DatasetConfig, task: str) -> str | None:
    """The refusal when the configured dataset does not give ``task``'s labels."""
    if dataset.key not in DATASETS:
        return unknown_dataset_message(dataset.key)
    spec = DATASETS.get(dataset.key)
    if task in spec.tasks:
        return None
    serving = [s.title for _, s in DATASETS.items() if task in s.tasks]
    gives = " and ".join(_task_title(t) for t in spec.tasks)
    choose = (f"choose one that does: {', '.join(serving)}" if serving
              else "no dataset gives them yet")
    return (f"The dataset {spec.title} gives {gives} labels; a {_task_title(task)} project needs "
            f"{_task_title(task)} labels ({choose}), or set the project's task to {gives}.")


def loaded_task_problem(loaded: LoadedDataset, task: str) -> str | None:
    """The same refusal for a loaded dataset (a loader that found other labels)."""
    got = getattr(loaded, "task", "classification")
    if got == task:
        return None
    return (f"The dataset gives {_task_title(got)} labels; a {_task_title(task)} project needs "
            f"{_task_title(task)} labels.")


def heads_of(task: str, graph: Any, analysis: Any, loss: dict) -> tuple[HeadPlan, ...]:
    try:
        return plan_heads(task, graph, analysis, loss)
    except HeadError as exc:
        raise Refused(sentence(str(exc))) from None


def _plain(graph: Any, analysis: Any) -> bool:
    """No output is a head layer (an Output or Detect): the network of a project from before tasks."""
    for nid in analysis.output_ids or (analysis.output_id,):
        kind = graph.nodes[nid].kind
        if kind in LAYERS and LAYERS.get(kind).is_head:
            return False
    return True


@dataclass(frozen=True)
class Ends:
    input_shape: tuple | None
    output_shape: tuple | None
    input_name: str | None
    output_name: str | None
    task: str = "classification"
    heads: tuple[HeadPlan, ...] = ()
    plain: bool = True            # no head layers: the old output check applies


def ends(graph: Any, analysis: Any, task: str, heads: tuple[HeadPlan, ...]) -> Ends:
    return Ends(tuple(analysis.input_shape) if analysis.input_shape else None,
                tuple(analysis.output_shape) if analysis.output_shape else None,
                graph.nodes[analysis.input_id].name, graph.nodes[analysis.output_id].name,
                task, heads, _plain(graph, analysis))


def structure_problem(e: Ends) -> str | None:
    """The heads against the task alone (before any dataset is known)."""
    problems = head_problems(e.task, e.heads, None)
    if not problems:
        return None
    return "The network's outputs do not fit the task:\n" + "\n".join(f"- {p}" for p in problems)


def fit_problem(e: Ends | Any, data: DatasetInfo | LoadedDataset) -> str | None:
    """The refusal when the network's ends (a plan's, or Ends) do not fit ``data``."""
    task, heads = getattr(e, "task", "classification"), tuple(getattr(e, "heads", ()) or ())
    old_check = task == "classification" and getattr(e, "plain", True)
    problems = check_compatibility(data, e.input_shape, e.output_shape if old_check else None,
                                   output_name=e.output_name, input_name=e.input_name)
    if not old_check and heads:
        problems += head_problems(task, heads, data)
    if not problems:
        return None
    return "The network does not fit the dataset:\n" + "\n".join(f"- {x}" for x in problems)
