"""A run's report: one self-contained HTML page (network, layers, settings, curves,
per-class metrics, confusion matrix, worst errors with Grad-CAM, feature maps) for a
teacher, a paper or a colleague. No Qt; the app and ``visionstudio report`` call it."""

from visionstudio.core.report.source import ReportError, RunSource, from_folder, from_project, project_of
from visionstudio.core.report.writer import ReportResult, render_report, write_report

__all__ = ["ReportError", "ReportResult", "RunSource", "from_folder", "from_project", "project_of",
           "render_report", "write_report"]
