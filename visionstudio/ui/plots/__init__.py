"""Live training plots: MetricsPlots (the dashboard dock, objectName ``metricsPlots``)."""

from visionstudio.ui.plots.metrics import MetricsPlots
from visionstudio.ui.plots.runs_list import RunsList

__all__ = ["MetricsPlots", "RunsList"]
