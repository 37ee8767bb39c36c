"""FlatBuilder: the one way an importer puts layers and weights together.

Each importer walks its source and calls ``add`` with the library's kinds; the builder
checks every parameter with the layer's own schema and infers each shape with the
layer's own rule as it goes (so a mapping can ask "what size is this image here?", for
Keras's "same" padding), records unsupported operations instead of stopping at the
first, and in ``finish`` writes the project through the project reader (the same checks
a file gets), builds the model and loads every weight with its shape checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch

from visionstudio.core.build import BuildError, attribute_name, build_model
from visionstudio.core.graph import analyze
from visionstudio.core.graph.model import new_id
from visionstudio.core.importers.layout import layered_layout
from visionstudio.core.importers.result import ImportProblem, ImportResult, listing
from visionstudio.core.layers import LAYERS, Shape, ShapeError
from visionstudio.core.params import validate_all
from visionstudio.core.project import FORMAT_NAME, ProjectFormatError, document_from_dict

MAX_NAME = 60


@dataclass(frozen=True)
class Value:
    """A tensor on its way through the import: the node that makes it and its shape (one
    sample, channels first). ``shape`` None: it comes after an unsupported operation, so
    later mappings skip their checks but still report their own problems."""

    node: str
    shape: Shape | None

    @property
    def known(self) -> bool:
        return self.shape is not None


DEAD = Value("", None)


def _identifier(raw: str, fallback: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]+", "_", raw).strip("_")[:MAX_NAME].rstrip("_")
    if not name:
        name = fallback
    if name[0].isdigit():
        name = f"{fallback}_{name}"[:MAX_NAME]
    if attribute_name(name) != name:      # a keyword, or an nn.Module member ("forward")
        name = f"{name}_layer"
    return name


class FlatBuilder:
    def __init__(self, source: str, noun: str) -> None:
        self.source = source          # the file, for messages
        self.noun = noun              # "operation" or "layer"
        self.problems: list[str] = []
        self.notes: list[str] = []
        self._nodes: list[dict[str, Any]] = []
        self._edges: list[tuple[str, str, int]] = []
        self._ids: dict[str, str] = {}   # node name -> id
        self._names: set[str] = set()
        self._weights: dict[str, torch.Tensor] = {}

    # -- problems -----------------------------------------------------------------------
    def unsupported(self, what: str) -> Value:
        self.problems.append(what)
        return DEAD

    def fail(self, problem: str) -> ImportProblem:
        """A file-level problem (not one operation): the source is unusable as a whole."""
        return ImportProblem(f"{self.source}: {problem}")

    # -- nodes --------------------------------------------------------------------------
    def name(self, raw: str, fallback: str) -> str:
        base = _identifier(raw, fallback)
        name, n = base, 1
        while name in self._names:
            n += 1
            name = f"{base[:MAX_NAME - 4]}_{n}"
        self._names.add(name)
        return name

    def add(self, kind: str, raw_name: str, params: dict[str, Any], inputs: list[Value],
            where: str) -> Value:
        """A node of ``kind`` fed by ``inputs`` in port order; ``where`` names the source
        operation in problems. Returns its output value (DEAD after a problem)."""
        if any(not v.known for v in inputs):
            return DEAD
        spec = LAYERS.get(kind)
        if len(inputs) < spec.min_inputs or (spec.max_inputs is not None and len(inputs) > spec.max_inputs):
            return self.unsupported(f"{where} ({len(inputs)} inputs)")
        clean, issues = validate_all(spec.params, params)
        if issues:
            return self.unsupported(f"{where} ({'; '.join(issues)})")
        shapes = [v.shape for v in inputs]
        try:
            shape = spec.infer(shapes, clean) if inputs else spec.infer([], clean)
        except ShapeError as exc:
            return self.unsupported(f"{where} ({exc})")
        name = self.name(raw_name, spec.name_prefix)
        node_id = new_id()
        self._ids[name] = node_id
        self._nodes.append({"id": node_id, "kind": spec.key, "version": spec.version, "name": name,
                            "params": clean})
        for port, value in enumerate(inputs):
            self._edges.append((self._ids[value.node], node_id, port))
        return Value(name, tuple(shape))

    def node_params(self, value: Value) -> dict[str, Any] | None:
        """The node that makes ``value`` (its kind and params), for a mapping that folds a
        later operation into it (ONNX's MatMul + Add becomes one Dense)."""
        node_id = self._ids.get(value.node)
        return next((n for n in reversed(self._nodes) if n["id"] == node_id), None)

    def weight(self, value: Value, param: str, tensor: Any) -> None:
        """The tensor for ``<node>.<param>`` (checked against the built model in finish)."""
        if value.known:
            self._weights[f"{value.node}.{param}"] = torch.as_tensor(tensor, dtype=torch.float32).contiguous()

    # -- the result ---------------------------------------------------------------------
    def finish(self, output: Value, name: str) -> ImportResult:
        if self.problems:
            raise listing(self.source, self.noun, self.problems)
        if not output.known:
            raise self.fail("the network has no output that can be imported")
        nodes, edges = self._needed(output)
        positions = layered_layout([n["id"] for n in nodes], [(s, d) for s, d, _ in edges])
        data = {"format": FORMAT_NAME, "name": name[:200] or "Imported",
                "description": f"Imported from {self.source}.",
                "graph": {"nodes": nodes, "edges": [{"src": s, "dst": d, "port": p} for s, d, p in edges]},
                "layout": {"positions": {k: list(v) for k, v in positions.items()}}}
        try:
            document = document_from_dict(data)
        except ProjectFormatError as exc:
            raise self.fail(f"the imported network is not a valid project: {exc}") from None
        analysis = analyze(document.graph)
        if not analysis.ok:
            raise self.fail("the imported network has problems: "
                            + "; ".join(str(d) for d in analysis.errors[:10]))
        try:
            model = build_model(document.graph, analysis)
        except BuildError as exc:
            raise self.fail(str(exc)) from None
        return ImportResult(document, self._state(model), self.notes, self.source)

    def _needed(self, output: Value) -> tuple[list[dict[str, Any]], list[tuple[str, str, int]]]:
        """Only the nodes the output depends on (an unused branch of the source is left
        out, with a note), in the order they were added (a topological order)."""
        parents: dict[str, list[str]] = {}
        for src, dst, _ in self._edges:
            parents.setdefault(dst, []).append(src)
        keep, todo = set(), [self._ids[output.node]]
        while todo:
            nid = todo.pop()
            if nid not in keep:
                keep.add(nid)
                todo.extend(parents.get(nid, ()))
        dropped = [n["name"] for n in self._nodes if n["id"] not in keep]
        if dropped:
            self.notes.append(f"Left out {len(dropped)} layer(s) the output does not use: "
                              f"{', '.join(dropped[:10])}.")
        nodes = [n for n in self._nodes if n["id"] in keep]
        return nodes, [e for e in self._edges if e[1] in keep]

    def _state(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        wrong = []
        for key, tensor in self._weights.items():
            if key not in state:
                wrong.append(f"{key} (the network has no such weight)")
            elif tuple(state[key].shape) != tuple(tensor.shape):
                wrong.append(f"{key} ({tuple(tensor.shape)} given, {tuple(state[key].shape)} needed)")
            else:
                state[key] = tensor.to(state[key].dtype).clone()
        missing = [k for k, v in state.items() if k not in self._weights and v.is_floating_point()]
        if missing:
            wrong.append(f"no values for {', '.join(missing[:10])}")
        if wrong:
            raise self.fail("the weights do not fit the imported network: " + "; ".join(wrong[:10]))
        return state
