"""Live training plots: MetricsPlots (the dashboard dock, objectName ``metricsPlots``)."""

from .metrics import MetricsPlots
from .runs_list import RunsList

__all__ = ["MetricsPlots", "RunsList"]
