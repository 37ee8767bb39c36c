"""The network graph: model, commands with undo, and shape analysis."""

from visionstudio.core.graph.analysis import Diagnostic, GraphAnalysis, NodeInfo, analyze
from visionstudio.core.graph.commands import (
    AddNode,
    Connect,
    Disconnect,
    GraphCommand,
    MoveNodes,
    RemoveNodes,
    RenameNode,
    SetParam,
)
from visionstudio.core.graph.editing import append_after, fragment_of, insert_on_edge, paste_nodes
from visionstudio.core.graph.model import Edge, GraphModel, Node, make_node, name_problem, new_id

__all__ = [
    "AddNode", "Connect", "Diagnostic", "Disconnect", "Edge",
    "GraphAnalysis", "GraphCommand", "GraphModel", "MoveNodes", "Node", "NodeInfo", "RemoveNodes",
    "RenameNode", "SetParam", "analyze", "append_after", "fragment_of",
    "insert_on_edge", "make_node", "name_problem", "new_id", "paste_nodes",
]
