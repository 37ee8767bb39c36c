"""The inspector: editors generated from the selected layer's ParamSpecs."""

from visionstudio.ui.inspector.editors import ParamEditor, editor_for, parse_text
from visionstudio.ui.inspector.panel import InspectorPanel

__all__ = ["InspectorPanel", "ParamEditor", "editor_for", "parse_text"]
