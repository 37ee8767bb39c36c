"""ProjectDocument: everything a project file holds, as live objects.

The document is the unit the app opens and saves: the graph (with its layout),
the dataset and training settings, and the list of runs. Converting to and from
plain JSON data lives here; reading files lives in ``io.py``.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.events import Event
from visionstudio.core.graph import Edge, GraphModel, Node, name_problem
from visionstudio.core.layers import LAYERS
from visionstudio.core.params import ConfigError, validate_section
from visionstudio.core.project.errors import ProjectFormatError, json_path
from visionstudio.core.project.runs_data import read_runs
from visionstudio.core.registry import UnknownKeyError
from visionstudio.core.training.config import TrainingConfig

FORMAT_NAME = "visionstudio.project"
SCHEMA_VERSION = 1
MAX_NODES = 10_000
MAX_EDGES = 100_000
MAX_PARAM_LIST = 4096  # values in one list parameter (merge weights: one per input port)


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
            "graph": self.graph.to_dict(),
            "layout": self.graph.layout_dict(),
            "dataset": self.dataset.to_dict(),
            "training": self.training.to_dict(),
            "runs": copy.deepcopy(self.runs),
        }

    # Settings are replaced whole (they are frozen); commands call these.
    def set_dataset(self, config: DatasetConfig) -> None:
        self.dataset = config
        self._announce("dataset")

    def set_training(self, config: TrainingConfig) -> None:
        self.training = config
        self._announce("training")

    def set_runs(self, runs: list[dict[str, Any]]) -> None:
        self.runs = copy.deepcopy(runs)
        self._announce("runs")


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
            raise _fail(json_path(path, key), "unknown field")
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
    for pname, value in params.items():  # before anything walks them: a list of millions
        if isinstance(value, list) and len(value) > MAX_PARAM_LIST:
            raise _fail(json_path(f"{path}.params", pname),
                        f"has {len(value):,} values; a parameter holds at most {MAX_PARAM_LIST:,}")
    # Validation builds new values, so only a migration (which may edit in place) needs
    # a copy of the caller's data.
    if version < spec.version and spec.migrate is not None:
        params = spec.migrate(version, copy.deepcopy(params))
    try:
        clean = validate_section(spec.params, params, f"{path}.params")
    except ConfigError as exc:
        raise _fail(exc.path, exc.problem) from None
    return Node(node_id, spec.key, name, clean)


def _read_graph(data: Any, layout: Any) -> GraphModel:
    _expect(data, dict, "graph", "an object")
    for key in data:
        if key not in ("nodes", "edges"):
            raise _fail(json_path("graph", key), "unknown field")
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
    _read_edges(graph, edges)
    _read_layout(graph, layout)
    return graph


_EDGE_FIELDS = frozenset(("src", "dst", "port"))


def _read_edges(graph: GraphModel, edges: list[Any]) -> None:
    """Edges in document order; cycles are looked for once at the end, so a large (or
    hostile) file cannot make loading quadratic.

    A valid list is checked column-wise at C speed (:func:`_valid_edges`); only a list
    that fails goes through the edge-by-edge reading, which names the first problem in
    file order with its JSON path. 100,000 edges load in a fraction of a second."""
    if len(edges) > MAX_EDGES:
        raise _fail("graph.edges", f"has {len(edges)} connections; at most {MAX_EDGES} are supported")
    max_inputs = {nid: LAYERS.get(node.kind).max_inputs for nid, node in graph.nodes.items()}
    columns = _valid_edges(edges, max_inputs)
    if columns is None:  # raises naming the first bad edge (or reads odd but valid types)
        columns = _read_edges_one_by_one(graph, edges, max_inputs)
    graph.edges = list(map(Edge, *columns))
    _check_acyclic(graph)


def _valid_edges(edges: list[Any], max_inputs: dict[str, int | None]
                 ) -> tuple[list[str], list[str], list[int]] | None:
    """(sources, destinations, ports) when every edge passes every check, else None.
    Each test is a comprehension or a set built in C: whole columns at a time."""
    if not all(type(ed) is dict and ed.keys() <= _EDGE_FIELDS for ed in edges):
        return None
    srcs = [ed.get("src") for ed in edges]
    dsts = [ed.get("dst") for ed in edges]
    ports = [ed.get("port", 0) for ed in edges]
    if not (all(type(v) is str for v in srcs) and all(type(v) is str for v in dsts)
            and all(type(v) is int for v in ports)):
        return None
    if not (max_inputs.keys() >= set(srcs) and max_inputs.keys() >= set(dsts)):
        return None
    if ports and (min(ports) < 0 or max(ports) >= 1024):
        return None
    if any(map(str.__eq__, srcs, dsts)):
        return None
    n = len(edges)
    if len(set(zip(srcs, dsts))) != n or len(set(zip(dsts, ports))) != n:
        return None
    limits = [max_inputs[d] for d in dsts]
    if 0 in limits:
        return None
    single = [(d, p) for d, p, lim in zip(dsts, ports, limits) if lim == 1]
    if any(p != 0 for _, p in single) or len({d for d, _ in single}) != len(single):
        return None
    return srcs, dsts, ports


def _read_edges_one_by_one(graph: GraphModel, edges: list[Any], max_inputs: dict[str, int | None]
                           ) -> tuple[list[str], list[str], list[int]]:
    """Every check, edge by edge in file order: the first failure raises with its path."""
    srcs: list[str] = []
    dsts: list[str] = []
    read_ports: list[int] = []
    pairs: set[tuple[str, str]] = set()
    ports: set[tuple[str, int]] = set()
    fan_in: dict[str, str] = {}  # dst -> first src, for single-input layers
    for i, ed in enumerate(edges):
        _expect(ed, dict, f"graph.edges[{i}]", "an object")
        for key in ed:
            if key not in _EDGE_FIELDS:
                raise _fail(json_path(f"graph.edges[{i}]", key), "unknown field")
        src = _expect(ed.get("src"), str, f"graph.edges[{i}].src", "a layer id")
        dst = _expect(ed.get("dst"), str, f"graph.edges[{i}].dst", "a layer id")
        port = _expect(ed.get("port", 0), int, f"graph.edges[{i}].port", "a whole number")
        for end, nid in (("src", src), ("dst", dst)):
            if nid not in max_inputs:
                raise _fail(f"graph.edges[{i}].{end}", f"no layer has id {nid[:80]!r}")
        if not 0 <= port < 1024:
            raise _fail(f"graph.edges[{i}].port", "must be between 0 and 1023")
        limit = max_inputs[dst]
        pair, slot = (src, dst), (dst, port)
        if src == dst or limit == 0 or pair in pairs or slot in ports \
                or (limit == 1 and (port != 0 or dst in fan_in)):
            _edge_problem(graph, i, src, dst, port, pairs, fan_in)
        if limit == 1:
            fan_in[dst] = src
        pairs.add(pair)
        ports.add(slot)
        srcs.append(src)
        dsts.append(dst)
        read_ports.append(port)
    return srcs, dsts, read_ports


def _edge_problem(graph: GraphModel, i: int, src: str, dst: str, port: int,
                  pairs: set[tuple[str, str]], fan_in: dict[str, str]) -> None:
    """Raise the error for edge ``i``, which one of the quick tests found wrong."""
    path = f"graph.edges[{i}]"
    a, b = graph.nodes[src], graph.nodes[dst]
    spec = LAYERS.get(b.kind)
    if src == dst:
        raise _fail(path, f"{a.name} cannot feed itself")
    if spec.max_inputs == 0:
        raise _fail(f"{path}.dst", f"{b.name} is an Input and takes no inputs")
    if (src, dst) in pairs:
        raise _fail(path, f"{a.name} is already connected to {b.name}")
    if spec.max_inputs == 1:
        if port != 0:
            raise _fail(f"{path}.port", f"{spec.title} has only input port 0")
        if dst in fan_in:
            raise _fail(path, f"{b.name} already has its input from {graph.nodes[fan_in[dst]].name}; "
                        f"a {spec.title} takes one input — use Add or Concat to merge branches")
    raise _fail(f"{path}.port", f"input {port} of {b.name} is already connected")


def _check_acyclic(graph: GraphModel) -> None:
    """Kahn's algorithm; on a cycle, name the last edge (in file order) on one: the one
    that closes it as the file reads. An edge lies on a cycle exactly when both its ends
    are in one strongly connected part, so finding it is linear too (a search per edge
    was quadratic on a file with a long chain behind a small cycle)."""
    _, stuck = graph.topological_order()
    if not stuck:
        return
    component = graph.components(stuck)
    edges = graph.edges
    for i in range(len(edges) - 1, -1, -1):
        e = edges[i]
        if e.src in stuck and component.get(e.dst) == component[e.src]:
            a, b = graph.nodes[e.src].name, graph.nodes[e.dst].name
            raise _fail(f"graph.edges[{i}]", f"connecting {a} to {b} creates a cycle; "
                        "a network must flow one way")
    raise _fail("graph.edges", "the connections form a cycle")  # pragma: no cover


def _read_layout(graph: GraphModel, layout: Any) -> None:
    if layout is None:
        return
    _expect(layout, dict, "layout", "an object")
    for key in layout:
        if key != "positions":
            raise _fail(json_path("layout", key), "unknown field")
    positions = _expect(layout.get("positions", {}), dict, "layout.positions", "an object")
    for nid, pos in positions.items():
        path = json_path("layout.positions", nid)
        if nid not in graph.nodes:
            raise _fail(path, "no layer has this id")
        _expect(pos, list, path, "a list [x, y]")
        if len(pos) != 2:
            raise _fail(path, "must be a list [x, y]")
        for v in pos:
            _expect(v, (int, float), path, "numbers")
            # abs() first: math.isfinite() overflows on huge integers (10**400).
            if abs(v) > 1e7 or not math.isfinite(v):
                raise _fail(path, "coordinates must be finite and within ±10,000,000")
        graph.positions[nid] = (float(pos[0]), float(pos[1]))


def _read_runs(data: Any) -> list[dict[str, Any]]:
    """Bounded and copied in one walk (``runs_data``): run entries are free-form, so
    they are where a crafted file hides millions of values or a path like ``../..``."""
    return read_runs(data)


def _check_choice(data: Any, path: str) -> None:
    """The shape of a ``{"key", "params"}`` section, checked here so it is strict even
    where its registry is not available to validate the params themselves."""
    _expect(data, dict, path, "an object with 'key' and 'params'")
    for key in data:
        if key not in ("key", "params"):
            raise _fail(json_path(path, key), "unknown field")
    if "key" in data:
        _expect(data["key"], str, f"{path}.key", "a name")
    if "params" in data:
        _expect(data["params"], dict, f"{path}.params", "an object")


TOP_LEVEL = ("format", "schema_version", "app_version", "name", "description", "graph",
             "layout", "dataset", "training", "runs")


def document_from_dict(data: Any) -> ProjectDocument:
    """Validate plain JSON data (already migrated) into a document."""
    _expect(data, dict, "(top level)", "an object")
    for key in data:
        if key not in TOP_LEVEL:
            raise _fail(json_path("", key), "unknown field")
    if data.get("format", FORMAT_NAME) != FORMAT_NAME:
        raise _fail("format", f"expected {FORMAT_NAME!r}: this is not a VisionStudio project")
    _expect(data.get("app_version", ""), str, "app_version", "text")
    name = _expect(data.get("name", "Untitled"), str, "name", "text")
    description = _expect(data.get("description", ""), str, "description", "text")
    graph = _read_graph(data.get("graph", {"nodes": [], "edges": []}), data.get("layout"))
    dataset_data = data.get("dataset", {})
    training_data = data.get("training", {})
    _check_choice(dataset_data, "dataset")
    _expect(training_data, dict, "training", "an object")
    for section in ("loss", "optimizer", "scheduler"):
        if training_data.get(section) is not None:
            _check_choice(training_data[section], f"training.{section}")
    try:
        dataset = DatasetConfig.from_dict(dataset_data)
        training = TrainingConfig.from_dict(training_data)
    except ConfigError as exc:
        raise _fail(exc.path, exc.problem) from None
    runs = _read_runs(data.get("runs", []))
    return ProjectDocument(graph, dataset, training, name, description, runs)
