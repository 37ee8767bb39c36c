"""Live training plots: ``metrics.MetricsPlots`` (the dashboard dock, objectName
``metricsPlots``), its runs list, and ``selection.RunSelection`` (which run it shows)."""
