"""Putting a traced PyTorch network together: the top graph, its block definitions, weights.

A :class:`Scope` is one graph being filled (the network or one block instance's inside);
each layer's parameters go through the layer's schema and its shape through the layer's
own rule, which must give the shape the real module gave (else the node is listed). An
instance's inside becomes a definition; instances whose insides are identical (kinds,
names, parameters, wiring) share one definition, so a ResNet gets one definition per
distinct block configuration. :class:`Assembly` collects every problem of every scope,
and only when there is none writes the project through the project reader, builds it
and loads every weight with its key and shape checked.
"""

from __future__ import annotations

import json
import re
from typing import Any

import torch
from torch import nn

from visionstudio.core.build import BuildError, attribute_name, build_model
from visionstudio.core.graph import analyze
from visionstudio.core.graph.model import new_id
from visionstudio.core.importers.layout import layered_layout
from visionstudio.core.importers.result import ImportProblem, ImportResult, listing
from visionstudio.core.layers import LAYERS, ShapeError
from visionstudio.core.params import validate_all
from visionstudio.core.project import FORMAT_NAME, SCHEMA_VERSION, ProjectFormatError, document_from_dict

MAX_NAME = 60
# The value of an operation that could not be imported: later operations are still
# checked (every problem is listed at once), but nothing is assembled.
PHANTOM = "?"


def identifier(raw: str, fallback: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]+", "_", raw).strip("_")[:MAX_NAME].rstrip("_") or fallback
    if name[0].isdigit():
        name = f"{fallback}_{name}"[:MAX_NAME]
    if attribute_name(name) != name:
        name = f"{name.strip('_')}_layer"
    return name


def _fmt(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


class Scope:
    def __init__(self, assembly: Assembly, prefix: str, top: bool) -> None:
        self.assembly = assembly
        self.prefix = prefix
        self.top = top
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[tuple[str, str, int]] = []     # (src name, dst name, port)
        self.weights: dict[str, torch.Tensor] = {}      # keys relative to this scope
        self.output: str | None = None
        self.shapes: list[tuple[int, ...]] = []          # a definition's input shapes

    def problem(self, where: str, why: str) -> None:
        self.assembly.problems.append(f"{where} ({why})")

    def _name(self, raw: str, fallback: str) -> str:
        taken = {n["name"] for n in self.nodes}
        base = identifier(raw, fallback)
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base[:MAX_NAME - 4]}_{n}"
        return name

    def _append(self, kind: str, raw: str, params: dict[str, Any], inputs: list[str]) -> str:
        spec = LAYERS.get(kind)
        name = self._name(raw, spec.name_prefix)
        self.nodes.append({"id": new_id(), "kind": kind, "version": spec.version, "name": name,
                           "params": params})
        self.edges.extend((src, name, port) for port, src in enumerate(inputs))
        return name

    def port(self, index: int, shape: tuple[int, ...]) -> str:
        if self.top:
            if len(shape) != 3:
                self.problem("the network's input", f"a {_fmt(shape)} tensor; only C×H×W images are imported")
                return self._append("identity", "input", {}, [])
            c, h, w = shape
            return self._append("input", "input", {"channels": c, "height": h, "width": w}, [])
        self.shapes.append(shape)
        return self._append("block_input", "input" if index == 0 else f"input{index}", {"index": index}, [])

    def layer(self, kind: str, raw: str, params: dict[str, Any], inputs: list[str],
              in_shapes: list[tuple[int, ...]], out_shape: tuple[int, ...], where: str,
              module: nn.Module | None) -> str | None:
        spec = LAYERS.get(kind)
        clean, issues = validate_all(spec.params, params)
        if issues:
            self.problem(where, "; ".join(issues))
            return None
        try:
            shape = tuple(spec.infer(in_shapes, clean))
        except ShapeError as exc:
            self.problem(where, str(exc))
            return None
        if shape != out_shape:
            self.problem(where, f"the library's {spec.title} gives {_fmt(shape)}, "
                                f"the module {_fmt(out_shape)}")
            return None
        if PHANTOM in inputs:
            return PHANTOM
        name = self._append(kind, raw, clean, inputs)
        if module is not None:
            for key, tensor in module.state_dict().items():
                self.weights[f"{name}.{key}"] = tensor.detach()
        return name

    def instance(self, key_base: str, title: str, raw: str, inner: Scope, inputs: list[str],
                 out_shape: tuple[int, ...], where: str) -> str | None:
        if inner.output is None or inner.output == PHANTOM or PHANTOM in inputs:
            return PHANTOM           # its problems are listed already
        key, values = self.assembly.definition(key_base, title, inner)
        name = self._append("block", raw, {"block": key, **values}, inputs)
        for k, tensor in inner.weights.items():
            self.weights[f"{name}.{k}"] = tensor
        return name

    def finish(self, result: str) -> None:
        if result == PHANTOM:
            self.output = PHANTOM
            return
        if not self.top:
            result = self._append("block_output", "output", {}, [result])
        self.output = result
        self._prune()

    def _prune(self) -> None:
        """Only what the output depends on (and a definition's every port)."""
        parents: dict[str, list[str]] = {}
        for src, dst, _ in self.edges:
            parents.setdefault(dst, []).append(src)
        need: set[str] = set()
        todo = [self.output]
        while todo:
            name = todo.pop()
            if name not in need:
                need.add(name)
                todo.extend(parents.get(name, ()))
        keep = need | {n["name"] for n in self.nodes if n["kind"] == "block_input"}
        self.nodes = [n for n in self.nodes if n["name"] in keep]
        self.edges = [e for e in self.edges if e[1] in keep]
        self.weights = {k: v for k, v in self.weights.items() if k.split(".", 1)[0] in keep}

    def graph_dict(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
        ids = {n["name"]: n["id"] for n in self.nodes}
        edges = [{"src": ids[s], "dst": ids[d], "port": p} for s, d, p in self.edges]
        positions = layered_layout([n["id"] for n in self.nodes], [(e["src"], e["dst"]) for e in edges])
        return self.nodes, edges, {"positions": {k: list(v) for k, v in positions.items()}}

    def structure(self) -> str:
        """What instances sharing a definition have in common: the layers' kinds and
        names, nested blocks' definitions and the wiring (parameters may differ)."""
        return json.dumps([[n["kind"], n["name"], n["params"].get("block")] for n in self.nodes]
                          + [list(e) for e in self.edges])


class Assembly:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.definitions: dict[str, dict[str, Any]] = {}
        self._by_structure: dict[str, str] = {}
        self._exposed: dict[tuple[str, str, str], str] = {}   # (key, node id, param) -> exposed name

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def definition(self, base: str, title: str, inner: Scope) -> tuple[str, dict[str, Any]]:
        """The definition for ``inner`` and the instance's exposed values: the first
        instance of a structure defines it; a later one with other parameter values
        (channels, stride) exposes each parameter that differs and sets it."""
        struct = json.dumps([title, inner.structure()])
        key = self._by_structure.get(struct)
        if key is None:
            return self._new_definition(base, title, inner, struct), {}
        definition = self.definitions[key]
        values: dict[str, Any] = {}
        for first, node in zip(definition["nodes"], inner.nodes):
            old, new = self._effective(first["params"]), self._effective(node["params"])
            for param, value in new.items():
                if param != "block" and old.get(param) != value:
                    values[self._expose(key, first, param)] = value
        return key, values

    def _effective(self, params: dict[str, Any]) -> dict[str, Any]:
        """A node's parameters with a nested instance's unset exposed values filled in
        (an unset value is its definition's own)."""
        key = params.get("block")
        if key is None:
            return params
        definition = self.definitions[key]
        nodes = {n["id"]: n for n in definition["nodes"]}
        out = dict(params)
        for exp in definition["exposed"]:
            out.setdefault(exp["name"], self._effective(nodes[exp["node"]]["params"]).get(exp["param"]))
        return out

    def _expose(self, key: str, node: dict[str, Any], param: str) -> str:
        target = (key, node["id"], param)
        if target not in self._exposed:
            name = identifier(f"{node['name']}_{param}", "param")[:MAX_NAME]
            self._exposed[target] = name
            self.definitions[key]["exposed"].append(
                {"name": name, "node": node["id"], "param": param, "title": f"{node['name']} {param}"})
        return self._exposed[target]

    def _new_definition(self, base: str, title: str, inner: Scope, struct: str) -> str:
        base = identifier(base, "block")[:50]
        key, n = base, 1
        while key in self.definitions:
            n += 1
            key = f"{base}_{n}"
        nodes, edges, layout = inner.graph_dict()
        self.definitions[key] = {
            "title": title if n == 1 else f"{title} {n}", "version": 1,
            "description": f"Imported: a {title} of {self.source}"[:500],
            "nodes": nodes, "edges": edges, "layout": layout, "exposed": [],
            "input_shapes": [list(s) for s in inner.shapes]}
        self._by_structure[struct] = key
        return key

    def fail(self, problem: str) -> ImportProblem:
        return ImportProblem(f"{self.source}: {problem}")

    def finish(self, scope: Scope, name: str) -> ImportResult:
        if self.problems:
            raise listing(self.source, "operation", self.problems)
        if scope.output is None:
            raise self.fail("the network has no output that can be imported")
        nodes, edges, layout = scope.graph_dict()
        graph: dict[str, Any] = {"nodes": nodes, "edges": edges}
        if self.definitions:
            graph["blocks"] = self.definitions
        data = {"format": FORMAT_NAME, "schema_version": SCHEMA_VERSION, "name": name[:200] or "Imported",
                "description": f"Imported from {self.source}.", "graph": graph, "layout": layout}
        try:
            document = document_from_dict(data)
        except ProjectFormatError as exc:
            raise self.fail(f"the imported network is not a valid project: {exc}") from None
        analysis = analyze(document.graph)
        if not analysis.ok:
            raise self.fail("the imported network has problems: "
                            + "; ".join(str(d) for d in analysis.errors[:10]))
        try:
            with torch.device("meta"):     # the keys and shapes to check, without allocating them
                model = build_model(document.graph, analysis)
        except BuildError as exc:
            raise self.fail(str(exc)) from None
        return ImportResult(document, self._state(model, scope.weights), self.notes, self.source)

    def _state(self, model: nn.Module, weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        state = {k: v.detach() for k, v in model.state_dict().items()}
        wrong = []
        for key, tensor in weights.items():
            if key not in state:
                wrong.append(f"{key} (the network has no such weight)")
            elif tuple(state[key].shape) != tuple(tensor.shape):
                wrong.append(f"{key} ({tuple(tensor.shape)} given, {tuple(state[key].shape)} needed)")
            else:
                state[key] = tensor.to(dtype=state[key].dtype, device="cpu", copy=True)
        missing = [k for k in state if k not in weights]
        if missing:
            wrong.append(f"no values for {', '.join(missing[:10])}")
        if wrong:
            raise self.fail("the weights do not fit the imported network: " + "; ".join(wrong[:10]))
        return state
