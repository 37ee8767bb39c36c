"""Block definitions in model.py: one readable ``nn.Module`` class per definition.

A definition's class takes what differs between its instances as ``__init__``
arguments (``BasicBlock(in_channels=64, channels=128, stride=2)``): the exposed
numbers and the input channel counts. The text comes from the inner layers' own
emitters, run once on a *sentinel* configuration (each varying number replaced by an
odd value no other literal in the text has), whose literals are then turned back into
the argument names. That template is trusted for an instance only after it is proved
to say what the emitters say for that instance: rendered with the instance's numbers,
each line must be the emitters' line, or both must construct the same ``nn`` class
with the same bound arguments (``stride=1`` spelled out or left to its default). An
instance that fails the proof gets a class of its own text (``BasicBlock2``), so the
code is never wrong, only less shared. Numbers equal in every instance (a basic
block's input and output channels) share one argument.

Project text never becomes code here: definition keys and exposed names only after
``checked_identifier``, titles and descriptions through ``docstring_line``, numbers
through core.layers.source; the finished model.py is compiled by codegen.
"""

from __future__ import annotations

import tokenize
from dataclasses import dataclass, field
from typing import Any

from visionstudio.core.blocks.analysis import analyze_definition
from visionstudio.core.build import attribute_names
from visionstudio.core.export.block_text import (
    MARK,
    Text,
    camel,
    class_source,
    join_ports,
    literal,
    numbers,
    port_arg,
    render,
    same_text,
    splice,
    symbolic,
    wrapped,
)
from visionstudio.core.export.source_check import checked_identifier
from visionstudio.core.layers import LAYERS, Emitted, LayerCode
from visionstudio.core.layers.block_ports import BLOCK, BLOCK_INPUT

# Factors that make a sentinel from an instance's number (keeping whatever divides it).
_FACTORS = (7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83)
_MAX_CHANNELS = 65536
LOCALS = frozenset({"self", "x", "torch", "nn", "F", "super", "int", "float"})


@dataclass
class _Use:
    """One instance configuration: its definition, input shapes, exposed values, inner analysis."""

    key: str
    name: str
    shapes: tuple[tuple[int, ...], ...]
    values: dict[str, Any]
    inner: Any


@dataclass
class _Template:
    text: Text
    parts: list[list[tuple[str, Any]]]  # per argument: the symbols it stands for
    args: list[tuple[str, str]]         # per argument: (name, annotation)
    cls: str | None = None              # the class, once one instance proved it


@dataclass
class _Class:
    name: str
    key: str
    text: Text
    args: list[tuple[str, str]]
    users: list[str] = field(default_factory=list)


class BlockClasses:
    """The block classes one model.py needs; codegen asks for each top-level instance's
    lines (:meth:`emitted`) and then for the classes' source (:meth:`sources`)."""

    def __init__(self, graph, analysis, taken: set[str]) -> None:
        self.library = graph.blocks
        self.taken = set(taken)
        self.classes: dict[str, _Class] = {}
        self.concrete: dict[tuple[str, str], str] = {}
        self.templates: dict[tuple, _Template | None] = {}
        self.uses: dict[str, list[_Use]] = {}
        self.attrs: dict[str, dict[str, str]] = {}
        self.top: list[str] = []
        self._collect(graph, analysis)

    # -- what the instances are ----------------------------------------------------------
    def _use(self, graph, analysis, nid: str) -> _Use:
        info = analysis.nodes[nid]
        values = {k: v for k, v in info.clean_params.items() if k != "block"}
        return _Use(info.clean_params["block"], graph.nodes[nid].name,
                    tuple(tuple(s) for s in info.input_shapes), values, info.inner)

    def _collect(self, graph, analysis) -> None:
        for nid in analysis.order:
            if graph.nodes[nid].kind == BLOCK and analysis.nodes[nid].inner is not None:
                use = self._use(graph, analysis, nid)
                self.uses.setdefault(use.key, []).append(use)
                self._collect(self.library.get(use.key).graph, use.inner)

    def _kinds(self, key: str) -> dict[str, str | None]:
        uses = self.uses.get(key, [])
        names = [e.name for e in self.library.get(key).exposed]
        return {n: symbolic([u.values.get(n) for u in uses]) for n in dict.fromkeys(names)}

    def _group(self, use: _Use) -> tuple:
        fixed = [(n, repr(use.values.get(n))) for n, kind in self._kinds(use.key).items() if kind is None]
        ranks = tuple(len(s) for s in use.shapes)
        return (use.key, ranks, tuple(fixed))

    def _symbols(self, use: _Use) -> dict[tuple[str, Any], Any]:
        out: dict[tuple[str, Any], Any] = {("in", i): s[0] for i, s in enumerate(use.shapes) if s}
        for n, kind in self._kinds(use.key).items():
            if kind is not None and n in use.values:
                out[("exp", n)] = use.values[n]
        return out

    # -- one definition's lines for one configuration ------------------------------------
    def _attrs(self, key: str) -> dict[str, str]:
        if key not in self.attrs:
            graph = self.library.get(key).graph
            for node in graph.nodes.values():
                checked_identifier(node.name, "the layer name")
            self.attrs[key] = {nid: checked_identifier(a, "the layer attribute")
                               for nid, a in attribute_names(graph).items()}
        return self.attrs[key]

    def _lines(self, key: str, inner, create: bool) -> Text | None:
        definition = self.library.get(key)
        graph, out_id, attrs = definition.graph, definition.output_id(), self._attrs(key)
        needed = graph.reachable_from(out_id, upstream=True)
        ports = definition.input_ids()
        order = [n for n in ports if n in needed] + [
            n for n in inner.order if n in needed and n != out_id and n not in ports]
        where = self._where(graph, order, ports, out_id, attrs)
        text = Text([], [], {}, [])
        for nid in order:
            node, info = graph.nodes[nid], inner.nodes[nid]
            args = tuple(where[e.src] for e in graph.inputs_of(nid))
            if node.kind == BLOCK_INPUT:
                arg = port_arg(ports.index(nid))
                if where[nid] != arg:
                    text.forward.append(f"{where[nid]} = {arg}")
                continue
            if node.kind == BLOCK:
                call = self._resolve(self._use(graph, inner, nid), create)
                if call is None:
                    return None
                text.refs.append(call.partition("(")[0])
                emitted = Emitted(f"self.{attrs[nid]}({', '.join(args)})", init=call)
            else:
                spec = LAYERS.get(node.kind)
                emitted = spec.emit(LayerCode(f"self.{attrs[nid]}", args, tuple(info.input_shapes),
                                              info.clean_params))
                text.helpers.update(spec.code_helpers)
            if emitted.init is not None:
                text.init.append(f"self.{attrs[nid]} = {emitted.init}")
            if emitted.expr != where[nid]:
                text.forward.append(f"{where[nid]} = {emitted.expr}")
        last = graph.inputs_of(out_id)[0].src
        text.forward.append(f"return {where[last]}")
        return text

    @staticmethod
    def _where(graph, order: list[str], ports: list[str], out_id: str,
               attrs: dict[str, str]) -> dict[str, str]:
        """Where each value lives in forward: "x" when only the next step reads it (and
        for the output), the port's argument for a later input, else a local named after
        its node (codegen's rule for the network itself)."""
        inside = set(order) | {out_id}
        consumers = {nid: [e.dst for e in graph.outputs_of(nid) if e.dst in inside] for nid in order}
        last = graph.inputs_of(out_id)[0].src
        taken = set(LOCALS) | {port_arg(i) for i in range(len(ports))}
        where: dict[str, str] = {}
        for i, nid in enumerate(order):
            nxt = order[i + 1] if i + 1 < len(order) else out_id
            if nid in ports and ports.index(nid) > 0:
                where[nid] = port_arg(ports.index(nid))
            elif nid == last or consumers[nid] == [nxt]:
                where[nid] = "x"
            else:
                base = attrs[nid]
                name, n = (base if base not in taken else f"{base}_out"), 2
                while name in taken:
                    name, n = f"{base}_out{n}", n + 1
                taken.add(name)
                where[nid] = name
        return where

    # -- which class an instance uses -----------------------------------------------------
    def _resolve(self, use: _Use, create: bool) -> str | None:
        """``Cls(arg=value, ...)`` for this instance, or None (only when not ``create``)."""
        text = self._lines(use.key, use.inner, create)
        if text is None:
            return None
        template = self._template(use)
        if template is not None:
            values = self._values(template, use)
            if values is not None and same_text(render(template.text, values), text):
                if template.cls is None:
                    if not create:
                        return None
                    template.cls = self._new_class(use.key, template.text, template.args)
                self._used(template.cls, use, create)
                kwargs = ", ".join(f"{name}={literal(v)}" for (name, _), v in zip(template.args, values))
                return f"{template.cls}({kwargs})"
        signature = (use.key, repr((text.init, text.forward)))
        cls = self.concrete.get(signature)
        if cls is None:
            if not create:
                return None
            cls = self.concrete[signature] = self._new_class(use.key, text, [])
        self._used(cls, use, create)
        return f"{cls}()"

    def _used(self, cls: str, use: _Use, create: bool) -> None:
        if create and use.name not in self.classes[cls].users:
            self.classes[cls].users.append(use.name)

    @staticmethod
    def _values(template: _Template, use: _Use) -> list[Any] | None:
        symbols = {("in", i): s[0] for i, s in enumerate(use.shapes) if s}
        symbols.update({("exp", n): v for n, v in use.values.items()})
        out = []
        for part in template.parts:
            found = {repr(symbols.get(s)) for s in part}
            if len(found) != 1 or any(s not in symbols for s in part):
                return None
            out.append(symbols[part[0]])
        return out

    def _template(self, use: _Use) -> _Template | None:
        group = self._group(use)
        if group not in self.templates:
            self.templates[group] = None  # no recursion into itself while it is being made
            self.templates[group] = self._make_template(use, group)
        return self.templates[group]

    def _make_template(self, seed: _Use, group: tuple) -> _Template | None:
        """The first of a few ways to share numbers that gives a valid sentinel network:
        every number its own argument; input channels joined to an exposed number that
        always equals them; every always-equal pair joined; then a number that is the same
        in every instance written as it is (a basic block's stride 1, which the identity
        shortcut needs), one at a time and all together."""
        uses = [u for u in self.uses.get(seed.key, []) if self._group(u) == group] or [seed]
        symbols = list(self._symbols(seed))
        vector = {s: tuple(repr(self._symbols(u).get(s)) for u in uses) for s in symbols}
        seed_text = self._lines(seed.key, seed.inner, False)
        if not symbols or seed_text is None:
            return None
        exposed = [s for s in symbols if s[0] == "exp"]
        joined: dict[tuple, list] = {}
        for s in symbols:
            joined.setdefault(vector[s], []).append(s)
        by_vector = list(joined.values())
        attempts = [[[s] for s in symbols], join_ports(symbols, exposed, vector), by_vector]
        constant = [p for p in by_vector if len(set(vector[p[0]])) == 1]
        attempts += [[p for p in by_vector if p is not c] for c in constant]
        attempts.append([p for p in by_vector if p not in constant])
        tried: list = []
        for parts in attempts:
            if parts in tried or not parts:
                continue
            tried.append(parts)
            template = self._try_template(seed, parts, numbers(seed_text))
            if template is not None:
                return template
        return None

    def _try_template(self, seed: _Use, parts, numbers: set[str]) -> _Template | None:
        sentinels = self._sentinels(seed, parts, numbers)
        if sentinels is None:
            return None
        by_symbol = {s: v for part, v in zip(parts, sentinels) for s in part}
        shapes = [(by_symbol.get(("in", i), s[0]), *s[1:]) if s else s for i, s in enumerate(seed.shapes)]
        values = {**seed.values, **{n: v for (k, n), v in by_symbol.items() if k == "exp"}, "block": seed.key}
        inner = analyze_definition(self.library, seed.key, shapes, values)
        text = self._lines(seed.key, inner, False) if inner.ok else None
        if text is None:
            return None
        marks = {literal(v): f"{MARK}{i}" for i, v in enumerate(sentinels)}

        def mark(tok):
            return marks.get(tok.string) if tok.type == tokenize.NUMBER else None

        marked = Text([splice(line, mark) for line in text.init],
                       [splice(line, mark) for line in text.forward], text.helpers, text.refs)
        return _Template(marked, parts, self._arg_names(parts, sentinels))

    def _sentinels(self, seed: _Use, parts, numbers: set[str]) -> list[Any] | None:
        specs = {s.name: s for s in self.library.get(seed.key).param_specs()}
        symbols = self._symbols(seed)
        chosen: list[Any] = []
        for part in parts:
            value = symbols[part[0]]
            bounds = [specs[n] for k, n in part if k == "exp" and n in specs]
            floats = isinstance(value, float)
            low = max([b.minimum for b in bounds if b.minimum is not None],
                      default=-float("inf") if floats else 1)
            high = min([b.maximum for b in bounds if b.maximum is not None],
                       default=float("inf") if floats else _MAX_CHANNELS)
            if floats:  # a nearby value with digits no literal has
                candidates = [value + 1.37e-4 * (i + 1) * (-1) ** i for i in range(20)]
            else:  # a multiple: whatever divides the instance's number divides it too
                candidates = [max(value, 1) * f for f in _FACTORS]
            pick = next((c for c in candidates if low <= c <= high and literal(c) not in numbers
                         and c not in chosen), None)
            if pick is None:
                return None
            chosen.append(pick)
        return chosen

    def _arg_names(self, parts, sentinels) -> list[tuple[str, str]]:
        names: list[tuple[str, str]] = []
        used = set(LOCALS)
        for part, value in zip(parts, sentinels):
            exposed = [n for k, n in part if k == "exp"]
            ports = [i for k, i in part if k == "in"]
            base = exposed[0] if exposed else ("in_channels" if ports[0] == 0 else f"in_channels{ports[0]}")
            name = checked_identifier(base, "the block parameter name")
            while name in used or name in self.taken:
                name += "_"
            used.add(name)
            names.append((name, "float" if isinstance(value, float) else "int"))
        return names

    def _new_class(self, key: str, text: Text, args: list[tuple[str, str]]) -> str:
        base = camel(checked_identifier(key, "the block key"))
        name, n = base, 2
        while name in self.taken or name in self.classes:
            name, n = f"{base}{n}", n + 1
        self.classes[name] = _Class(name, key, text, args)
        return name

    # -- what codegen asks for -------------------------------------------------------------
    def emitted(self, graph, analysis, nid: str, code: LayerCode) -> Emitted:
        """A top-level instance's lines: construct its class, call it on its inputs (a
        long call wrapped as codegen's ``self.<attr> = `` line in __init__ needs it)."""
        call = self._resolve(self._use(graph, analysis, nid), True)
        self.top.append(call.partition("(")[0])
        line = wrapped(f"{code.module} = {call}", 8).lstrip()
        return Emitted(code.call(), init=line.partition(" = ")[2])

    def sources(self) -> dict[str, str]:
        """Layer helpers the classes need, then the classes (inner ones first) the network uses."""
        order: list[str] = []

        def visit(name: str) -> None:
            if name not in order:
                for ref in self.classes[name].text.refs:
                    visit(ref)
                order.append(name)

        for name in self.top:
            visit(name)
        out: dict[str, str] = {}
        for name in order:
            out.update(self.classes[name].text.helpers)
        for name in order:
            cls = self.classes[name]
            out[name] = class_source(cls.name, self.library.get(cls.key), cls.users, cls.args, cls.text,
                                     [n for n in order if self.classes[n].key == cls.key])
        return out
