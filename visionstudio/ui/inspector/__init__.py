"""The inspector: editors generated from the selected layer's ParamSpecs."""

from .editors import ParamEditor, editor_for, parse_text
from .panel import InspectorPanel

__all__ = ["InspectorPanel", "ParamEditor", "editor_for", "parse_text"]
