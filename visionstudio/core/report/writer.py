"""Write a run's report: gather, evaluate (bounded, on the CPU), render, save atomically.

An evaluation that cannot be done (the dataset is not on this machine, the checkpoint
no longer fits the project's network) does not stop the report: its sections say why,
and the rest — network, settings, curves — is still written.
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from visionstudio.core.data.checks import last_result
from visionstudio.core.graph import analyze
from visionstudio.core.project.atomic import atomic_write_bytes
from visionstudio.core.report import page
from visionstudio.core.report.evaluate import MAX_IMAGES, evaluate_run
from visionstudio.core.report.source import ReportError, RunSource
from visionstudio.core.runs.history import RunHistory
from visionstudio.core.summary import summarize


@dataclass(frozen=True)
class ReportResult:
    path: Path
    size: int                    # bytes written
    seconds: float
    notes: list[str] = field(default_factory=list)   # what the report could not show, and why


def render_report(source: RunSource, *, max_images: int = MAX_IMAGES, evaluate: bool = True,
                  progress: Callable[[str, float], None] | None = None,
                  cancel: Callable[[], bool] | None = None) -> tuple[str, list[str]]:
    """The report's HTML and the notes on what it leaves out."""
    doc = source.document
    graph = doc.graph
    analysis = analyze(graph)
    summary = summarize(graph, doc.name, analysis=analysis)
    notes: list[str] = []
    title = f"{doc.name or 'Untitled project'} — {source.run_name}"
    written = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
    positions = {nid: (float(p[0]), float(p[1])) for nid, p in graph.positions.items()}
    edges = [(e.src, e.dst) for e in graph.edges]
    steps = None
    try:
        history = RunHistory.load(source.folder)
        steps = history.batch_arrays() if history.step.n else None
    except ValueError as exc:
        notes.append(f"The per-step curves are left out: {exc}")
    sections = [page.header(title, source.run_name, source.status, source.created, written),
                page.network(summary, positions, edges), page.summary_table(summary),
                page.settings(source.training.to_dict(), source.dataset.to_dict()),
                page.curves(source.epochs, steps),
                page.data_checks(last_result(source.dataset, source.training.val_split,
                                             source.training.seed))]
    if evaluate:
        try:
            ev = evaluate_run(source, max_images=max_images, progress=progress, cancel=cancel)
        except ReportError as exc:
            notes.append(f"No evaluation: {exc}")
            sections.append(f"<h2>Evaluation</h2><p>The run could not be evaluated: {escape(str(exc))}.</p>")
        else:
            notes.extend(ev.notes)
            sections += [page.per_class(ev), page.confusion(ev), page.worst_errors(ev),
                         page.feature_maps(ev)]
    return page.document(title, sections), notes


def write_report(source: RunSource, output: str | os.PathLike[str] | None = None, **kw) -> ReportResult:
    """Render and save the report (default ``report.html`` in the run's folder)."""
    start = time.perf_counter()
    path = Path(output) if output is not None else source.default_output()
    text, notes = render_report(source, **kw)
    data = text.encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise ReportError(f"the report could not be saved as {path}: {exc.strerror or exc}") from None
    return ReportResult(path, len(data), time.perf_counter() - start, notes)
