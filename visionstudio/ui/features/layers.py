"""The layers the feature viewer offers, blocks drilled into.

A block instance builds to a sub-network whose layers the hooks find under the path of
node names (``block1.conv1``, nested ``stage1.block1.conv1``: core/inspect's
``modules_by_node``). The chooser lists them right under their instance, indented and
labelled ``block1 › conv1``, with the shapes of that instance's own analysis
(``NodeInfo.inner``), so two instances of one block show their own sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

from visionstudio.core.graph import GraphAnalysis, GraphModel

CONV_KINDS = ("conv2d",)
BLOCK_KIND = "block"
PORT_KINDS = ("block_input", "block_output")  # identities with no module of their own
MAX_DEPTH = 16                                 # a definition cycle is the analysis's problem


@dataclass(frozen=True)
class LayerRow:
    name: str                 # the dotted node path: what the hooks and Grad-CAM take
    label: str                # "block1 › conv1"
    kind: str
    shape: tuple | None
    depth: int                # 0: a layer of the network, 1: inside a block, ...

    @property
    def is_conv(self) -> bool:
        return self.kind in CONV_KINDS

    def text(self) -> str:
        shape = "×".join(map(str, self.shape)) if self.shape else "?"
        return f"{'    ' * self.depth}{self.label}  ({shape})"


def layer_rows(graph: GraphModel, analysis: GraphAnalysis) -> list[LayerRow]:
    """Every layer in network order, each block instance followed by its inner layers."""
    rows: list[LayerRow] = []
    _walk(graph, analysis, "", "", 0, rows)
    return rows


def _walk(graph: GraphModel, analysis: GraphAnalysis, prefix: str, label_prefix: str,
          depth: int, rows: list[LayerRow]) -> None:
    for nid in analysis.order:
        node = graph.nodes.get(nid)
        info = analysis.nodes.get(nid)
        if node is None or info is None or (depth and node.kind in PORT_KINDS):
            continue
        rows.append(LayerRow(prefix + node.name, label_prefix + node.name, node.kind,
                             info.output_shape, depth))
        inner = info.inner if node.kind == BLOCK_KIND else None
        if inner is None or depth >= MAX_DEPTH:
            continue
        definition = graph.blocks.find(node.params.get("block"))
        if definition is not None:
            _walk(definition.graph, inner, f"{prefix}{node.name}.",
                  f"{label_prefix}{node.name} › ", depth + 1, rows)
