"""A small residual CNN to look at when a panel is launched alone."""

from __future__ import annotations

from visionstudio.core.graph import AddNode, Connect
from visionstudio.core.project import ProjectDocument
from visionstudio.ui.canvas.layout import layered_positions


def demo_document() -> ProjectDocument:
    doc = ProjectDocument(name="Demo")
    graph = doc.graph
    ids: dict[str, str] = {}

    def add(name: str, kind: str, **params) -> None:
        cmd = AddNode(kind, name=name, params=params or None)
        cmd.do(doc)
        ids[name] = cmd.node_id

    def wire(a: str, b: str) -> None:
        Connect(ids[a], ids[b]).do(doc)

    add("input", "input", channels=1, height=28, width=28)
    add("conv1", "conv2d", out_channels=32, padding="same")
    add("bn1", "batchnorm2d")
    add("conv2", "conv2d", out_channels=32, padding="same")
    add("add1", "add")
    add("pool1", "maxpool2d")
    add("conv3", "conv2d", out_channels=64, kernel_size=3)
    add("flatten", "flatten")
    add("dropout", "dropout", p=0.3)
    add("fc", "dense", units=10, activation="none")
    for a, b in [("input", "conv1"), ("conv1", "bn1"), ("bn1", "conv2"), ("conv2", "add1"),
                 ("conv1", "add1"), ("add1", "pool1"), ("pool1", "conv3"), ("conv3", "flatten"),
                 ("flatten", "dropout"), ("dropout", "fc")]:
        wire(a, b)
    for nid, pos in layered_positions(graph).items():
        graph._set_position(nid, pos)
    return doc
