"""Block definitions and the project's library of them.

A block is defined once (a :class:`BlockDefinition`: an inner graph with
``block_input`` ports and one ``block_output``) and used by any number of ``block``
instance nodes, which name it by key. The top-level graph owns the
:class:`BlockLibrary`; every definition's inner graph shares that same object, so any
graph reaches any definition through ``graph.blocks``.

The library stamps every edit inside a definition (each mutation, batched or not), so
caches keyed by :meth:`BlockLibrary.revision` can never serve a stale analysis, and it
announces ``changed`` when the inner graph announces its own (batched) change; the
owning graph forwards that to its ``changed``. Edit definitions through commands: a
direct write into ``node.params`` is seen by nobody.
"""

from __future__ import annotations

import dataclasses
import keyword
import re
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from visionstudio.core.events import Event
from visionstudio.core.layers import LAYERS, Shape
from visionstudio.core.layers.block_ports import BLOCK, BLOCK_INPUT, BLOCK_OUTPUT
from visionstudio.core.params import ParamSpec

if TYPE_CHECKING:
    from visionstudio.core.graph.model import GraphModel

MAX_KEY_LENGTH = 64
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def key_problem(key: Any, what: str = "a block key") -> str | None:
    """Why ``key`` cannot name a block or an exposed parameter (both become Python
    names in exported code), else None."""
    if not isinstance(key, str) or not key:
        return f"{what} must be a non-empty name"
    if len(key) > MAX_KEY_LENGTH:
        return f"{what} can have at most {MAX_KEY_LENGTH} characters"
    if not _KEY_RE.fullmatch(key):
        return (f"{key[:80]!r} is not a valid name for {what}: use letters, digits and "
                "underscores, not starting with a digit")
    if keyword.iskeyword(key):
        return f"{key!r} is a Python keyword"
    return None


@dataclass(frozen=True)
class ExposedParam:
    """Inner parameter ``param`` of inner node ``node_id``, set per instance as ``name``."""

    name: str
    node_id: str
    param: str
    title: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "node": self.node_id, "param": self.param, "title": self.title}


@dataclass(eq=False)
class BlockDefinition:
    key: str
    title: str
    description: str
    graph: GraphModel
    exposed: list[ExposedParam] = field(default_factory=list)
    version: int = 1
    # The shapes of the instance it was made from: what the definition editor shows
    # when the definition is opened on its own.
    input_shapes: list[Shape] | None = None

    def input_ids(self) -> list[str]:
        """The block_input node ids in port order (by ``index``, then document order)."""
        ports = [(n.params.get("index", 0), i, nid) for i, (nid, n) in enumerate(self.graph.nodes.items())
                 if n.kind == BLOCK_INPUT]
        return [nid for _, _, nid in sorted(ports, key=_port_key)]

    def output_id(self) -> str | None:
        outs = [nid for nid, n in self.graph.nodes.items() if n.kind == BLOCK_OUTPUT]
        return outs[0] if len(outs) == 1 else None

    def param_specs(self) -> tuple[ParamSpec, ...]:
        """The instance's parameters: each exposed inner ParamSpec under the exposed name
        and title, defaulting to the inner node's current value. A name exposed on
        several inner parameters (of one kind) sets them all and takes its rules from
        the first. An entry that names a missing node or parameter is left out."""
        return _exposed_specs(self, set())

    def copy(self, key: str | None = None) -> BlockDefinition:
        """A detached copy (its graph without any library of its own)."""
        shapes = [tuple(s) for s in self.input_shapes] if self.input_shapes is not None else None
        return BlockDefinition(key or self.key, self.title, self.description, self.graph.copy(blocks=False),
                               list(self.exposed), self.version, shapes)

    def to_dict(self) -> dict[str, Any]:
        graph = self.graph.to_dict()
        return {
            "key": self.key,
            "title": self.title,
            "description": self.description,
            "version": self.version,
            "nodes": graph["nodes"],
            "edges": graph["edges"],
            "layout": self.graph.layout_dict(),
            "exposed": [e.to_dict() for e in self.exposed],
            "input_shapes": ([list(s) for s in self.input_shapes]
                             if self.input_shapes is not None else None),
        }


def _port_key(entry: tuple[Any, int, str]) -> tuple[int, int]:
    index = entry[0]
    return (index if isinstance(index, int) and not isinstance(index, bool) else 1 << 30, entry[1])


def _exposed_specs(definition: BlockDefinition, seen: set[str]) -> tuple[ParamSpec, ...]:
    seen = seen | {definition.key}
    out: list[ParamSpec] = []
    nodes = definition.graph.nodes
    for exp in definition.exposed:
        node = nodes.get(exp.node_id)
        if node is None or any(s.name == exp.name for s in out):  # one name may set several params
            continue
        inner = _inner_param_spec(definition.graph, node, exp.param, seen)
        if inner is None:
            continue
        value = node.params.get(exp.param, inner.default)
        out.append(dataclasses.replace(inner, name=exp.name, title=exp.title or inner.title,
                                       default=list(value) if isinstance(value, list) else value))
    return tuple(out)


def _inner_param_spec(graph: GraphModel, node: Any, param: str, seen: set[str]) -> ParamSpec | None:
    if node.kind == BLOCK:
        nested = graph.blocks.find(node.params.get("block"))
        if nested is None or nested.key in seen:  # a definition cycle: reported by the analysis
            return None
        specs = _exposed_specs(nested, seen)
    elif node.kind in LAYERS:
        specs = LAYERS.get(node.kind).params
    else:
        return None
    return next((s for s in specs if s.name == param), None)


def instance_key(node: Any) -> str | None:
    """The definition key a ``block`` node names, or None for any other node."""
    if node.kind != BLOCK:
        return None
    key = node.params.get("block")
    return key if isinstance(key, str) else None


class BlockLibrary:
    """The project's definitions by key, shared by the top-level graph and every inner graph."""

    def __init__(self, owner: GraphModel | None = None) -> None:
        # The top-level graph that owns the library (held weakly: it holds the library).
        self._owner = weakref.ref(owner) if owner is not None else None
        self._defs: dict[str, BlockDefinition] = {}
        self._last_edit: dict[str, int] = {}  # key -> stamp of its last edit
        self._forwarders: dict[str, Any] = {}
        self._stamp = 0
        self._deps_memo: tuple[int, dict[str, list[str]]] = (-1, {})
        # (key) when a definition is added, removed, or announces an edit of its graph
        # or of its exposed list.
        self.changed = Event("blocks_changed")
        # Analyses of definitions per (key, shapes, values), valid for one stamp
        # (core.graph.analysis keeps it; held here so it dies with the library).
        self.analysis_cache: dict[Any, Any] = {}
        self.analysis_cache_stamp = -1

    # -- queries ------------------------------------------------------------------
    def get(self, key: str) -> BlockDefinition:
        try:
            return self._defs[key]
        except (KeyError, TypeError):
            raise KeyError(f"the project has no block {key!r}") from None

    def find(self, key: Any) -> BlockDefinition | None:
        return self._defs.get(key) if isinstance(key, str) else None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._defs

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._defs))

    def __len__(self) -> int:
        return len(self._defs)

    def keys(self) -> list[str]:
        return list(self._defs)

    def values(self) -> list[BlockDefinition]:
        return list(self._defs.values())

    @property
    def stamp(self) -> int:
        """Bumped by every edit of any definition (and by add/remove): a cache key."""
        return self._stamp

    def revision(self, key: str) -> int:
        """Changes whenever the definition or one it uses (transitively) changes."""
        keys = [key, *self.dependencies(key)]
        return max((self._last_edit.get(k, 0) for k in keys), default=0)

    def unique_key(self, base: str) -> str:
        """``base`` made a valid key and free: ``basic_block``, ``basic_block2``..."""
        word = re.sub(r"[^A-Za-z0-9_]", "_", base or "block").strip("_")[:MAX_KEY_LENGTH - 6] or "block"
        if word[0].isdigit():
            word = f"block_{word}"
        if keyword.iskeyword(word):
            word += "_"
        if word not in self._defs:
            return word
        i = 2
        while f"{word}{i}" in self._defs:
            i += 1
        return f"{word}{i}"

    @staticmethod
    def instances_of(graph: GraphModel, key: str) -> list[str]:
        """Ids of the nodes of ``graph`` (one level) that are instances of ``key``."""
        return [nid for nid, n in graph.nodes.items() if instance_key(n) == key]

    @property
    def owner(self) -> GraphModel | None:
        """The top-level graph the library belongs to (None once it is gone)."""
        return self._owner() if self._owner is not None else None

    def graph_of(self, key: str | None) -> GraphModel | None:
        """Definition ``key``'s graph, or the owner for None."""
        return self.owner if key is None else self.get(key).graph

    def users_of(self, key: str, top: GraphModel | None = None) -> list[tuple[str | None, str]]:
        """(definition key or None for the top-level graph, node id) of every instance of
        ``key``; ``top`` defaults to the library's owner."""
        top = top if top is not None else self.owner
        found: list[tuple[str | None, str]] = []
        if top is not None:
            found += [(None, nid) for nid in self.instances_of(top, key)]
        for other, d in self._defs.items():
            found += [(other, nid) for nid in self.instances_of(d.graph, key)]
        return found

    def direct_uses(self, key: str) -> list[str]:
        """Keys of the definitions ``key``'s graph uses directly, in document order."""
        d = self._defs.get(key)
        if d is None:
            return []
        return list(dict.fromkeys(k for n in d.graph.nodes.values() if (k := instance_key(n)) is not None))

    def dependencies(self, key: str) -> list[str]:
        """Every definition ``key`` uses, transitively, deepest first (an order in which
        adding them never meets an unknown key); ``key`` itself only when it is on a cycle."""
        stamp, memo = self._deps_memo
        if stamp != self._stamp:
            memo = {}
            self._deps_memo = (self._stamp, memo)
        if key in memo:
            return list(memo[key])
        order: list[str] = []
        done: set[str] = set()
        stack: list[tuple[str, Iterator[str]]] = [(key, iter(self.direct_uses(key)))]
        on_stack = {key}
        while stack:
            current, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                on_stack.discard(current)
                if current != key:
                    order.append(current)
                done.add(current)
                continue
            if child == key and key not in order:
                order.append(key)  # on a cycle through itself
            if child in done or child in on_stack or child not in self._defs:
                continue
            on_stack.add(child)
            stack.append((child, iter(self.direct_uses(child))))
        memo[key] = order
        return list(order)

    def would_cycle(self, outer_key: str | None, inner_key: str) -> bool:
        """Whether an instance of ``inner_key`` inside ``outer_key``'s graph makes a
        definition use itself (``outer_key`` None: the top-level graph, never)."""
        if outer_key is None:
            return False
        return inner_key == outer_key or outer_key in self.dependencies(inner_key)

    # -- changes ------------------------------------------------------------------
    def add(self, definition: BlockDefinition) -> None:
        problem = key_problem(definition.key)
        if problem:
            raise ValueError(problem)
        if definition.key in self._defs:
            raise ValueError(f"the project already has a block {definition.key!r}")
        graph = definition.graph
        own = graph.blocks
        if own is not self:
            for other in own.values():  # definitions the graph brought along
                if other.key not in self._defs:
                    own._forget(other.key)
                    self.add(other)
                elif self._defs[other.key] is not other:
                    raise ValueError(f"the project already has a different block {other.key!r}")
        graph.blocks = self
        key = definition.key
        self._defs[key] = definition
        graph._on_edit = lambda: self._touch(key)
        forward = self._forwarders[key] = lambda: self.changed.emit(key)
        graph.changed.connect(forward)
        self._touch(key)
        self.changed.emit(key)

    def remove(self, key: str) -> BlockDefinition:
        definition = self.get(key)
        self._forget(key)
        self._bump()
        self.changed.emit(key)
        return definition

    def _forget(self, key: str) -> None:
        definition = self._defs.pop(key)
        definition.graph._on_edit = None
        definition.graph.changed.disconnect(self._forwarders.pop(key))
        self._last_edit.pop(key, None)

    def set_exposed(self, key: str, exposed: list[ExposedParam]) -> None:
        """Replace a definition's exposed list (commands call this: it is an edit)."""
        self.get(key).exposed = list(exposed)
        self._touch(key)
        self.changed.emit(key)

    def touch(self, key: str) -> None:
        """Announce an edit of a definition's fields (title, input_shapes...)."""
        self._touch(key)
        self.changed.emit(key)

    def copy_from(self, other: BlockLibrary) -> None:
        """Add a detached copy of every definition of ``other`` (a snapshot's library)."""
        for definition in other.values():
            self.add(definition.copy())

    def _bump(self) -> int:
        self._stamp += 1
        return self._stamp

    def _touch(self, key: str) -> None:
        self._last_edit[key] = self._bump()
