"""The model canvas: GraphView (interaction) over GraphScene (items of one graph)."""

from .items import EdgeItem, NodeItem, PortItem
from .scene import GraphScene
from .view import FRAGMENT_MIME, LAYER_MIME, GraphView

__all__ = ["EdgeItem", "FRAGMENT_MIME", "GraphScene", "GraphView", "LAYER_MIME", "NodeItem", "PortItem"]
