"""ProjectDocument: everything a project file holds, as live objects.

The document is the unit the app opens and saves: the graph (with its layout),
the dataset and training settings, and the list of runs. Converting to and from
plain JSON data lives here; reading files lives in ``io.py``.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.events import Event
from visionstudio.core.graph import GraphModel
from visionstudio.core.params import ConfigError
from visionstudio.core.project.blocks_reader import definitions_to_dict, read_blocks_section
from visionstudio.core.project.errors import json_path
from visionstudio.core.project.graph_reader import Budget, expect, fail, read_graph_parts
from visionstudio.core.project.runs_data import read_runs
from visionstudio.core.project.transfer_reader import read_transfer_section
from visionstudio.core.tasks import DEFAULT_TASK, TASK_KINDS
from visionstudio.core.training.config import TrainingConfig

FORMAT_NAME = "visionstudio.project"
# 2: graph.blocks (block definitions); version 1 files have none.
# 3: the top-level task; version 2 files were all classification.
SCHEMA_VERSION = 3


@dataclass
class ProjectDocument:
    graph: GraphModel = field(default_factory=GraphModel)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    name: str = "Untitled"
    description: str = ""
    runs: list[dict[str, Any]] = field(default_factory=list)
    initial_weights: str | None = None   # a weights file in the project's folder (an import's)
    task: str = DEFAULT_TASK             # a TASK_KINDS key: what the network is trained to do
    # The folder the file was read from or saved to (not saved): initial_weights is relative to it.
    folder: Path | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # (section) where section is "task", "dataset", "training", "runs" or "initial_weights"
        self.settings_changed = Event("settings_changed")
        self._held: list[str] | None = None   # sections changed inside batch()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Hold ``settings_changed`` and the graph's ``changed`` until the outermost block
        ends, then announce each changed section once: a Macro is one change for every
        listener, however many steps it has."""
        if self._held is not None:
            with self.graph.batch():
                yield
            return
        self._held = []
        try:
            with self.graph.batch():
                yield
        finally:
            held, self._held = self._held, None
            for section in dict.fromkeys(held):
                self.settings_changed.emit(section)

    def _announce(self, section: str) -> None:
        if self._held is not None:
            self._held.append(section)
        else:
            self.settings_changed.emit(section)

    def to_dict(self) -> dict[str, Any]:
        from visionstudio.core import __version__ as core_version

        return {
            "format": FORMAT_NAME,
            "schema_version": SCHEMA_VERSION,
            "app_version": core_version,
            "name": self.name,
            "description": self.description,
            "task": self.task,
            "graph": self._graph_dict(),
            "layout": self.graph.layout_dict(),
            "dataset": self.dataset.to_dict(),
            "training": self.training.to_dict(),
            "runs": copy.deepcopy(self.runs),
            **({"initial_weights": self.initial_weights} if self.initial_weights else {}),
        }

    def _graph_dict(self) -> dict[str, Any]:
        graph = self.graph.to_dict()
        if len(self.graph.blocks):
            graph["blocks"] = definitions_to_dict(self.graph.blocks)
        transfer = self.graph.transfer.to_dict(self.graph.nodes)
        if transfer:
            graph["transfer"] = transfer
        return graph

    # Settings are replaced whole (they are frozen); commands call these.
    def set_dataset(self, config: DatasetConfig) -> None:
        self.dataset = config
        self._announce("dataset")

    def set_training(self, config: TrainingConfig) -> None:
        self.training = config
        self._announce("training")

    def set_task(self, task: str) -> None:
        if task not in TASK_KINDS:
            raise ValueError(f"unknown task {task!r}")
        self.task = task
        self._announce("task")

    def set_initial_weights(self, name: str | None) -> None:
        self.initial_weights = name
        self._announce("initial_weights")

    def set_runs(self, runs: list[dict[str, Any]]) -> None:
        self.runs = copy.deepcopy(runs)
        self._announce("runs")


# -- reading ------------------------------------------------------------------------
def _read_graph(data: Any, layout: Any) -> GraphModel:
    """The network and the block definitions it uses (read first: instances are
    checked against them), every layer and connection counted against one budget."""
    expect(data, dict, "graph", "an object")
    for key in data:
        if key not in ("nodes", "edges", "blocks", "transfer"):
            raise fail(json_path("graph", key), "unknown field")
    graph = GraphModel()
    budget = Budget()
    if "blocks" in data:
        read_blocks_section(data["blocks"], "graph.blocks", graph.blocks, budget)
    read_graph_parts(graph, data.get("nodes", []), data.get("edges", []), layout, "graph", "layout", budget)
    if "transfer" in data:
        read_transfer_section(data["transfer"], "graph.transfer", graph)
    return graph


def _read_runs(data: Any) -> list[dict[str, Any]]:
    """Bounded and copied in one walk (``runs_data``): run entries are free-form, so
    they are where a crafted file hides millions of values or a path like ``../..``."""
    return read_runs(data)


def _check_choice(data: Any, path: str, extra: tuple[str, ...] = ()) -> None:
    """The shape of a ``{"key", "params"}`` section, checked here so it is strict even
    where its registry is not available to validate the params themselves."""
    expect(data, dict, path, "an object with 'key' and 'params'")
    for key in data:
        if key not in ("key", "params", *extra):
            raise fail(json_path(path, key), "unknown field")
    if "key" in data:
        expect(data["key"], str, f"{path}.key", "a name")
    if "params" in data:
        expect(data["params"], dict, f"{path}.params", "an object")


TOP_LEVEL = ("format", "schema_version", "app_version", "name", "description", "task", "graph",
             "layout", "dataset", "training", "runs", "initial_weights")


def read_task(value: Any) -> str:
    """A TASK_KINDS key; anything else is named with the keys it may be."""
    task = expect(value, str, "task", "a task name")
    if task not in TASK_KINDS:
        shown = repr(task[:40] + ("…" if len(task) > 40 else ""))
        raise fail("task", f"unknown task {shown}; expected one of {', '.join(TASK_KINDS)}")
    return task


def read_weights_name(value: Any) -> str:
    """A relative path inside the project's folder: where it leads (symbolic links) is
    checked again when a run starts (core.training.initial_weights)."""
    name = expect(value, str, "initial_weights", "a file name")
    parts = PurePosixPath(name).parts
    if not name or len(name) > 255 or "\\" in name or "\0" in name or ":" in name:
        raise fail("initial_weights", "expected a file name in the project's folder")
    if PurePosixPath(name).is_absolute() or ".." in parts or not parts or parts[-1] == ".":
        raise fail("initial_weights", "must name a file inside the project's folder "
                                      "(no absolute path, no '..')")
    return name


def document_from_dict(data: Any) -> ProjectDocument:
    """Validate plain JSON data (already migrated) into a document."""
    expect(data, dict, "(top level)", "an object")
    for key in data:
        if key not in TOP_LEVEL:
            raise fail(json_path("", key), "unknown field")
    if data.get("format", FORMAT_NAME) != FORMAT_NAME:
        raise fail("format", f"expected {FORMAT_NAME!r}: this is not a VisionStudio project")
    expect(data.get("app_version", ""), str, "app_version", "text")
    name = expect(data.get("name", "Untitled"), str, "name", "text")
    description = expect(data.get("description", ""), str, "description", "text")
    task = read_task(data.get("task", DEFAULT_TASK))
    graph = _read_graph(data.get("graph", {"nodes": [], "edges": []}), data.get("layout"))
    dataset_data = data.get("dataset", {})
    training_data = data.get("training", {})
    _check_choice(dataset_data, "dataset", ("preprocessing",))
    expect(training_data, dict, "training", "an object")
    for section in ("loss", "optimizer", "scheduler"):
        if training_data.get(section) is not None:
            _check_choice(training_data[section], f"training.{section}")
    try:
        dataset = DatasetConfig.from_dict(dataset_data)
        training = TrainingConfig.from_dict(training_data)
    except ConfigError as exc:
        raise fail(exc.path, exc.problem) from None
    runs = _read_runs(data.get("runs", []))
    weights = read_weights_name(data["initial_weights"]) if "initial_weights" in data else None
    return ProjectDocument(graph, dataset, training, name, description, runs, weights, task)
