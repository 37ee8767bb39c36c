"""The inspector: editors generated from the selected layer's ParamSpecs, and the model summary."""

from visionstudio.ui.inspector.panel import InspectorPanel

__all__ = ["InspectorPanel"]
