"""ProjectDocument: everything a project file holds, as live objects.

The document is the unit the app opens and saves: the graph (with its layout),
the dataset and training settings, and the list of runs. Converting to and from
plain JSON data lives here; reading files lives in ``io.py``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

from ..data.config import DatasetConfig
from ..events import Event
from ..graph import Edge, GraphModel, Node, name_problem
from ..layers import LAYERS
from ..params import ConfigError, validate_section
from ..registry import UnknownKeyError
from ..training.config import TrainingConfig
from .errors import ProjectFormatError

FORMAT_NAME = "visionstudio.project"
SCHEMA_VERSION = 1
MAX_NODES = 10_000


@dataclass
class ProjectDocument:
    graph: GraphModel = field(default_factory=GraphModel)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    name: str = "Untitled"
    description: str = ""
    runs: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # (section) where section is "dataset", "training" or "runs"
        self.settings_changed = Event("settings_changed")

    def to_dict(self) -> dict[str, Any]:
        from .. import __version__ as core_version

        return {
            "format": FORMAT_NAME,
            "schema_version": SCHEMA_VERSION,
            "app_version": core_version,
            "name": self.name,
            "description": self.description,
            "graph": self.graph.to_dict(),
            "layout": self.graph.layout_dict(),
            "dataset": self.dataset.to_dict(),
            "training": self.training.to_dict(),
            "runs": copy.deepcopy(self.runs),
        }

    # Settings are replaced whole (they are frozen); commands call these.
    def set_dataset(self, config: DatasetConfig) -> None:
        self.dataset = config
        self.settings_changed.emit("dataset")

    def set_training(self, config: TrainingConfig) -> None:
        self.training = config
        self.settings_changed.emit("training")

    def set_runs(self, runs: list[dict[str, Any]]) -> None:
        self.runs = copy.deepcopy(runs)
        self.settings_changed.emit("runs")


# -- reading ------------------------------------------------------------------------
def _fail(path: str, problem: str) -> ProjectFormatError:
    return ProjectFormatError(problem, path=path)


def _expect(value: Any, kind: type | tuple[type, ...], path: str, what: str) -> Any:
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise _fail(path, f"must be {what}, not a boolean")
    if not isinstance(value, kind):
        raise _fail(path, f"must be {what}, not {_type_name(value)}")
    return value


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _read_node(data: Any, path: str) -> Node:
    _expect(data, dict, path, "an object")
    for key in data:
        if key not in ("id", "kind", "version", "name", "params"):
            raise _fail(f"{path}.{key}", "unknown field")
    node_id = _expect(data.get("id"), str, f"{path}.id", "text")
    if not node_id or len(node_id) > 64:
        raise _fail(f"{path}.id", "must be 1 to 64 characters")
    kind = _expect(data.get("kind"), str, f"{path}.kind", "text")
    try:
        spec = LAYERS.get(kind)
    except UnknownKeyError as exc:
        raise _fail(f"{path}.kind", str(exc)) from None
    version = data.get("version", spec.version)
    _expect(version, int, f"{path}.version", "a whole number")
    if version > spec.version:
        raise _fail(f"{path}.version", f"{spec.title} version {version} was written by a newer "
                    f"VisionStudio (this one knows up to version {spec.version})")
    if version < 1:
        raise _fail(f"{path}.version", "must be at least 1")
    name = _expect(data.get("name"), str, f"{path}.name", "text")
    problem = name_problem(name)
    if problem:
        raise _fail(f"{path}.name", problem)
    params = data.get("params", {})
    _expect(params, dict, f"{path}.params", "an object")
    params = copy.deepcopy(params)
    if version < spec.version and spec.migrate is not None:
        params = spec.migrate(version, params)
    try:
        clean = validate_section(spec.params, params, f"{path}.params")
    except ConfigError as exc:
        raise _fail(exc.path, exc.problem) from None
    return Node(node_id, spec.key, name, clean)


def _read_graph(data: Any, layout: Any) -> GraphModel:
    _expect(data, dict, "graph", "an object")
    for key in data:
        if key not in ("nodes", "edges"):
            raise _fail(f"graph.{key}", "unknown field")
    nodes = _expect(data.get("nodes", []), list, "graph.nodes", "a list")
    edges = _expect(data.get("edges", []), list, "graph.edges", "a list")
    if len(nodes) > MAX_NODES:
        raise _fail("graph.nodes", f"has {len(nodes)} layers; at most {MAX_NODES} are supported")
    graph = GraphModel()
    names: set[str] = set()
    for i, nd in enumerate(nodes):
        node = _read_node(nd, f"graph.nodes[{i}]")
        if node.id in graph.nodes:
            raise _fail(f"graph.nodes[{i}].id", f"id {node.id!r} is used twice")
        if node.name in names:
            raise _fail(f"graph.nodes[{i}].name", f"name {node.name!r} is used twice")
        names.add(node.name)
        graph.nodes[node.id] = node
    for i, ed in enumerate(edges):
        path = f"graph.edges[{i}]"
        _expect(ed, dict, path, "an object")
        for key in ed:
            if key not in ("src", "dst", "port"):
                raise _fail(f"{path}.{key}", "unknown field")
        src = _expect(ed.get("src"), str, f"{path}.src", "a layer id")
        dst = _expect(ed.get("dst"), str, f"{path}.dst", "a layer id")
        port = ed.get("port", 0)
        _expect(port, int, f"{path}.port", "a whole number")
        for end, nid in (("src", src), ("dst", dst)):
            if nid not in graph.nodes:
                raise _fail(f"{path}.{end}", f"no layer has id {nid!r}")
        if not 0 <= port < 1024:
            raise _fail(f"{path}.port", "must be between 0 and 1023")
        problem = graph.connection_problem(src, dst, port)
        if problem:
            raise _fail(path, problem)
        spec = LAYERS.get(graph.nodes[dst].kind)
        if spec.max_inputs == 1 and port != 0:
            raise _fail(f"{path}.port", f"{spec.title} has only input port 0")
        graph.edges.append(Edge(src, dst, port))
    _read_layout(graph, layout)
    return graph


def _read_layout(graph: GraphModel, layout: Any) -> None:
    if layout is None:
        return
    _expect(layout, dict, "layout", "an object")
    for key in layout:
        if key != "positions":
            raise _fail(f"layout.{key}", "unknown field")
    positions = _expect(layout.get("positions", {}), dict, "layout.positions", "an object")
    for nid, pos in positions.items():
        path = f"layout.positions.{nid}"
        if nid not in graph.nodes:
            raise _fail(path, "no layer has this id")
        _expect(pos, list, path, "a list [x, y]")
        if len(pos) != 2:
            raise _fail(path, "must be a list [x, y]")
        for v in pos:
            _expect(v, (int, float), path, "numbers")
            if not math.isfinite(v) or abs(v) > 1e7:
                raise _fail(path, "coordinates must be finite and within ±10,000,000")
        graph.positions[nid] = (float(pos[0]), float(pos[1]))


def _read_runs(data: Any) -> list[dict[str, Any]]:
    runs = _expect(data, list, "runs", "a list")
    for i, run in enumerate(runs):
        _expect(run, dict, f"runs[{i}]", "an object")
        _expect(run.get("id"), str, f"runs[{i}].id", "text")
    return copy.deepcopy(runs)


TOP_LEVEL = ("format", "schema_version", "app_version", "name", "description", "graph",
             "layout", "dataset", "training", "runs")


def document_from_dict(data: Any) -> ProjectDocument:
    """Validate plain JSON data (already migrated) into a document."""
    _expect(data, dict, "(top level)", "an object")
    for key in data:
        if key not in TOP_LEVEL:
            raise _fail(key, "unknown field")
    if data.get("format", FORMAT_NAME) != FORMAT_NAME:
        raise _fail("format", f"expected {FORMAT_NAME!r}: this is not a VisionStudio project")
    name = _expect(data.get("name", "Untitled"), str, "name", "text")
    description = _expect(data.get("description", ""), str, "description", "text")
    graph = _read_graph(data.get("graph", {"nodes": [], "edges": []}), data.get("layout"))
    try:
        dataset = DatasetConfig.from_dict(data.get("dataset", {}))
        training = TrainingConfig.from_dict(data.get("training", {}))
    except ConfigError as exc:
        raise _fail(exc.path, exc.problem) from None
    runs = _read_runs(data.get("runs", []))
    return ProjectDocument(graph, dataset, training, name, description, runs)
