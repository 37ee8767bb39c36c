"""The model canvas: GraphView (interaction) over GraphScene (items of one graph)."""

from visionstudio.ui.canvas.edge_item import EdgeItem
from visionstudio.ui.canvas.items import NodeItem, PortItem
from visionstudio.ui.canvas.scene import GraphScene
from visionstudio.ui.canvas.view import FRAGMENT_MIME, LAYER_MIME, GraphView

__all__ = ["EdgeItem", "FRAGMENT_MIME", "GraphScene", "GraphView", "LAYER_MIME", "NodeItem", "PortItem"]
