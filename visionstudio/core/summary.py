"""A network summary: one row per layer (shape, parameters, FLOPs) and totals.

Plain data built from :func:`analyze`, rendered as a text table (``visionstudio
summary``) or JSON (``--json``, schema in docs/cli.md); the GUI's summary panel uses
:func:`summarize` and the ``rows``/``totals`` directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from visionstudio.core.gcpause import gc_paused
from visionstudio.core.graph import GraphAnalysis, GraphModel, analyze
from visionstudio.core.graph.blocks import instance_key
from visionstudio.core.graph.transfer import parameter_split
from visionstudio.core.layers import LAYERS, Shape, fmt_shape
from visionstudio.core.memory import MemoryEstimate, estimate_for_config

SUMMARY_FORMAT = "visionstudio.summary"
SUMMARY_VERSION = 1
BYTES_PER_PARAM = 4  # float32 weights


@dataclass(frozen=True)
class LayerRow:
    id: str
    name: str
    kind: str           # registry key, e.g. "conv2d"
    title: str          # display name, e.g. "Conv2d"
    details: str        # the node's one-line summary, e.g. "32 · 3×3 · s1 · ReLU"
    inputs: tuple[str, ...]  # names of the layers feeding it, in port order
    output_shape: Shape | None
    params: int
    flops: int
    problems: tuple[str, ...] = ()
    trainable: bool = True      # False: frozen (graph.transfer)
    lr_multiplier: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "kind": self.kind, "title": self.title,
            "details": self.details, "inputs": list(self.inputs),
            "output_shape": list(self.output_shape) if self.output_shape is not None else None,
            "params": self.params, "flops": self.flops, "problems": list(self.problems),
            "trainable": self.trainable, "lr_multiplier": self.lr_multiplier,
        }


@dataclass(frozen=True)
class Totals:
    params: int
    flops: int
    frozen_params: int = 0

    @property
    def trainable_params(self) -> int:
        return self.params - self.frozen_params

    @property
    def weight_bytes(self) -> int:
        return self.params * BYTES_PER_PARAM

    @property
    def weight_mb(self) -> float:
        return self.weight_bytes / 1_000_000

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.params, "params_text": f"{self.params:,}",
            "params_human": human_count(self.params),
            "trainable_params": self.trainable_params, "frozen_params": self.frozen_params,
            "flops": self.flops, "flops_text": f"{self.flops:,}",
            "flops_human": human_count(self.flops),
            "weight_bytes": self.weight_bytes, "weight_mb": round(self.weight_mb, 3),
        }


@dataclass(frozen=True)
class NetworkSummary:
    name: str
    rows: tuple[LayerRow, ...]
    totals: Totals
    input_shape: Shape | None
    output_shape: Shape | None
    diagnostics: tuple[dict[str, Any], ...] = field(default=())
    source: str = ""
    memory: MemoryEstimate | None = None   # training at the project's batch size (float32)

    @property
    def ok(self) -> bool:
        return not any(d["severity"] == "error" for d in self.diagnostics)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SUMMARY_FORMAT, "version": SUMMARY_VERSION,
            "name": self.name, "source": self.source, "ok": self.ok,
            "input_shape": _shape_list(self.input_shape),
            "output_shape": _shape_list(self.output_shape),
            "layers": [row.to_dict() for row in self.rows],
            "totals": self.totals.to_dict(),
            "diagnostics": [dict(d) for d in self.diagnostics],
            "memory": {"training": self.memory.to_dict()} if self.memory is not None else None,
        }


def _shape_list(shape: Shape | None) -> list[int] | None:
    return list(shape) if shape is not None else None


def human_count(n: int) -> str:
    """121930 -> '0.12 M', 5056000 -> '5.06 M', 2.3e9 -> '2.30 G' (K below 10,000)."""
    if n < 10_000:
        return f"{n / 1_000:.2f} K" if n >= 1_000 else str(n)
    if n < 1_000_000_000:
        return f"{n / 1_000_000:.2f} M"
    return f"{n / 1_000_000_000:.2f} G"


def summarize(graph: GraphModel, name: str = "", *, analysis: GraphAnalysis | None = None,
              source: str = "", training: Any = None) -> NetworkSummary:
    """Rows in execution (topological) order; layers stuck on a cycle come last.

    ``training`` (a TrainingConfig) adds the memory estimate for training at its batch
    size and optimizer, in float32 (the device is not known here; mixed precision only
    lowers the activations' share)."""
    with gc_paused():  # a row per layer, all kept: see core.gcpause
        return _summarize(graph, name, analysis, source, training)


def _summarize(graph: GraphModel, name: str, analysis: GraphAnalysis | None, source: str,
               training: Any) -> NetworkSummary:
    analysis = analysis or analyze(graph)
    placed = set(analysis.order)  # a set: membership in the order list made this quadratic
    order = list(analysis.order) + [nid for nid in graph.nodes if nid not in placed]
    rows = []
    for nid in order:
        node, info = graph.nodes[nid], analysis.nodes[nid]
        spec = LAYERS.get(node.kind) if node.kind in LAYERS else None
        title, details = _title_and_details(graph, node, spec, info.clean_params)
        inputs = tuple(graph.nodes[e.src].name for e in graph.inputs_of(nid) if e.src in graph.nodes)
        rows.append(LayerRow(
            nid, node.name, node.kind, title, details, inputs,
            info.output_shape, info.params, info.flops,
            tuple(d.message for d in info.diagnostics),
            graph.transfer.trainable(nid), graph.transfer.multiplier(nid)))
    diagnostics = tuple({"message": d.message, "node": graph.nodes[d.node_id].name
                         if d.node_id in graph.nodes else None, "severity": d.severity}
                        for d in analysis.diagnostics)
    frozen = parameter_split(graph, analysis)[1]
    memory = estimate_for_config(analysis, training, frozen=frozen) if training is not None else None
    return NetworkSummary(name, tuple(rows), Totals(analysis.total_params, analysis.total_flops, frozen),
                          analysis.input_shape, analysis.output_shape, diagnostics, source, memory)


def _title_and_details(graph: GraphModel, node: Any, spec: Any, clean: dict[str, Any]) -> tuple[str, str]:
    """A row's kind title and one-line details; a block instance shows its definition's
    title and the values it sets (its params and FLOPs are the analysis' sums)."""
    definition = graph.blocks.find(instance_key(node))
    if definition is not None:
        values = " · ".join(f"{k} {v}" for k, v in clean.items() if k != "block")
        return definition.title or definition.key, values
    details = ""
    if spec is not None and clean:
        try:
            details = spec.summary(clean)
        except (KeyError, TypeError, ValueError):  # pragma: no cover - defensive
            details = ""
    return (spec.title if spec else node.kind), details


def render_text(summary: NetworkSummary) -> str:
    """A Keras-style table with totals, then the problems found (if any)."""
    headers = ("Layer", "Kind", "Output shape", "Params", "FLOPs")
    table = [(r.name, r.title + (f" ({r.details})" if r.details else ""), fmt_shape(r.output_shape),
              f"{r.params:,}", f"{r.flops:,}") for r in summary.rows]
    widths = [max([len(h)] + [len(row[i]) for row in table]) for i, h in enumerate(headers)]

    def line(cells: tuple[str, ...]) -> str:
        left = [c.ljust(w) for c, w in zip(cells[:3], widths[:3])]
        right = [c.rjust(w) for c, w in zip(cells[3:], widths[3:])]
        return "  ".join(left + right).rstrip()

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    title = summary.name or "Network"
    out = [title + (f"  ({summary.source})" if summary.source else ""), rule, line(headers), rule]
    out += [line(row) for row in table]
    out.append(rule)
    t = summary.totals
    out.append(f"Input: {fmt_shape(summary.input_shape)}    Output: {fmt_shape(summary.output_shape)}")
    out.append(f"Total params: {t.params:,} ({human_count(t.params)})")
    if t.frozen_params:
        out.append(f"Trainable params: {t.trainable_params:,} · Frozen params: {t.frozen_params:,}")
    out.append(f"FLOPs per image: {t.flops:,} ({human_count(t.flops)})")
    out.append(f"Estimated weight size: {t.weight_mb:.2f} MB (float32)")
    if summary.memory is not None:
        out.append(f"{summary.memory.describe()} ({summary.memory.breakdown()})")
    if summary.diagnostics:
        out.append("")
        out.append(f"Problems ({len(summary.diagnostics)}):")
        out += [f"  {d['severity']}: {d['message']}" for d in summary.diagnostics]
    return "\n".join(out) + "\n"


__all__ = ["BYTES_PER_PARAM", "LayerRow", "NetworkSummary", "SUMMARY_FORMAT", "SUMMARY_VERSION",
           "Totals", "human_count", "render_text", "summarize"]
