"""Where the canvas is editing: the whole network, or a block definition opened inside it.

A scope is a path of levels, outermost first; each level names a definition and the
instance it was opened from (a node of the level above; None when it was opened from
the palette or the library). The controller keeps one path and answers every
"which graph, which analysis" question with these rules, so the canvas, palette,
inspector and context menus follow the scope without knowing it exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from visionstudio.core.blocks.analysis import analyze_definition
from visionstudio.core.blocks.commands import InDefinition
from visionstudio.core.commands import Command, Macro
from visionstudio.core.graph import GraphAnalysis, GraphModel
from visionstudio.core.graph.commands import GraphCommand


@dataclass(frozen=True)
class ScopeLevel:
    key: str                    # the definition's key in the project's block library
    instance: str | None = None  # the instance node (in the level above) it was opened from


def scope_graph(network: GraphModel, path: tuple[ScopeLevel, ...]) -> GraphModel:
    """The graph the innermost level edits (the network itself for an empty path)."""
    if not path:
        return network
    return network.blocks.get(path[-1].key).graph


def valid_prefix(network: GraphModel, path: tuple[ScopeLevel, ...]) -> tuple[ScopeLevel, ...]:
    """The longest start of ``path`` whose definitions all still exist (an undo may have
    removed the one being edited: the canvas then goes back to the level above)."""
    library = network.blocks
    for depth, level in enumerate(path):
        if level.key not in library:
            return path[:depth]
    return path


def _opened_from(graph: GraphModel, level: ScopeLevel) -> bool:
    """The level's instance is still in the graph above and still uses its definition
    (a Detach or an undo may have pointed it elsewhere)."""
    node = graph.nodes.get(level.instance) if level.instance is not None else None
    return node is not None and node.kind == "block" and node.params.get("block") == level.key


def scope_analysis(network: GraphModel, network_analysis: GraphAnalysis,
                   path: tuple[ScopeLevel, ...]) -> GraphAnalysis:
    """The analysis the innermost level shows: the inner analysis of the instance each
    level was opened from (its input shapes and exposed values), else the definition
    analysed on its own (its preview input shapes)."""
    analysis, graph, library = network_analysis, network, network.blocks
    for level in path:
        info = analysis.nodes.get(level.instance) if _opened_from(graph, level) else None
        inner = getattr(info, "inner", None)
        analysis = inner if inner is not None else analyze_definition(library, level.key)
        graph = library.get(level.key).graph
    return analysis


# -- edits inside a definition ----------------------------------------------------------
def edits_graph(command: Command) -> bool:
    """A command on the graph (not on settings or runs): inside a definition it is the
    definition's graph it must edit."""
    if isinstance(command, Macro):
        return bool(command.commands) and all(edits_graph(c) for c in command.commands)
    return isinstance(command, GraphCommand)


def innermost(command: Command) -> Command:
    """The edit an InDefinition wraps (the training lock judges what it does)."""
    while isinstance(command, (InDefinition, _GraphMacro)):
        command = command.command
    return command


def in_definition(key: str, command: Command) -> InDefinition:
    """``command`` (a GraphCommand, or a Macro of them) as an edit of definition ``key``."""
    return InDefinition(key, _GraphMacro(command) if isinstance(command, Macro) else command)


class _OneGraph:
    """What a Macro of graph commands needs of a document: its graph and its batch."""

    def __init__(self, graph: GraphModel) -> None:
        self.graph = graph

    def batch(self):
        return self.graph.batch()


class _GraphMacro(GraphCommand):
    """A Macro of graph commands run on any one graph (InDefinition applies GraphCommands)."""

    def __init__(self, macro: Macro) -> None:
        self.command = macro
        self.text = macro.text
        self.merge_key = macro.merge_key

    def apply(self, graph: GraphModel) -> None:
        self.command.do(_OneGraph(graph))  # type: ignore[arg-type]
        self.text = self.command.text

    def revert(self, graph: GraphModel) -> None:
        self.command.undo(_OneGraph(graph))  # type: ignore[arg-type]

    def merge(self, other: Command) -> bool:
        return isinstance(other, _GraphMacro) and self.command.merge(other.command)
