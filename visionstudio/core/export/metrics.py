"""The metrics CSV shared by the app's trainer and the exported training script, and
importing one back as a run's epoch history.

One row per epoch; accuracies are fractions (0..1); an empty cell means "not measured"
(no validation set, no top-5 with few classes).
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any

from visionstudio.core.training.records import METRIC_COLUMNS

REQUIRED_COLUMNS = ("epoch", "train_loss")
INT_COLUMNS = frozenset({"epoch", "step"})
MAX_CSV_BYTES = 64 * 1024 * 1024


class MetricsImportError(ValueError):
    """A metrics CSV that cannot be imported; the message names the file and the problem."""


def _value(text: str, column: str, where: str) -> Any:
    text = text.strip()
    if text == "" or text.lower() in ("none", "nan", "null"):
        return None
    if column == "best":
        return text.lower() in ("1", "true", "yes")
    try:
        number = float(text)
    except ValueError:
        if column in METRIC_COLUMNS and column != "best":
            raise MetricsImportError(f"{where}: {column} is {text[:40]!r}, not a number") from None
        return text
    if column in INT_COLUMNS:
        if not number.is_integer():
            raise MetricsImportError(f"{where}: {column} must be a whole number, not {text!r}")
        return int(number)
    return number if math.isfinite(number) else None


def import_metrics_csv(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Rows of a metrics CSV as dicts (numbers as int/float, empty cells as None), sorted
    by epoch. Unknown extra columns are kept. Raises MetricsImportError naming the file."""
    file = Path(path)
    try:
        if file.stat().st_size > MAX_CSV_BYTES:
            raise MetricsImportError(f"{file}: larger than {MAX_CSV_BYTES >> 20} MiB; not a metrics CSV")
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise MetricsImportError(f"{file}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise MetricsImportError(f"{file}: not UTF-8 text; not a metrics CSV") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise MetricsImportError(f"{file}: not a metrics CSV (missing column(s) {', '.join(missing)}; "
                                 f"expected {', '.join(METRIC_COLUMNS)})")
    rows: list[dict[str, Any]] = []
    for line, raw in enumerate(reader, start=2):
        where = f"{file}, line {line}"
        if None in raw:
            raise MetricsImportError(f"{where}: more cells than columns")
        row = {k.strip(): _value(v or "", k.strip(), where) for k, v in raw.items()}
        if row.get("epoch") is None:
            raise MetricsImportError(f"{where}: the epoch is empty")
        rows.append(row)
    rows.sort(key=lambda r: r["epoch"])
    return rows


def import_metrics_run(path: str | os.PathLike[str], runs_folder: str | os.PathLike[str],
                       name: str | None = None) -> dict[str, Any]:
    """Make a run of a metrics CSV (e.g. an exported script's ``out/metrics.csv``): its
    epoch history is written into a new folder under ``runs_folder`` (the project's runs
    root) and the run entry to append to ``document.runs`` is returned. Raises
    MetricsImportError naming the file; OSError when the run folder cannot be written."""
    from visionstudio.core.runs import RunHistory, make_entry, new_run_id, summarize

    file = Path(path)
    rows = import_metrics_csv(file)
    if not rows:
        raise MetricsImportError(f"{file}: has no epochs")
    history = RunHistory()
    for row in rows:
        history.add_epoch({c: row.get(c) for c in METRIC_COLUMNS})
    history.status = "imported"
    history.events.append(f"Imported from {file}")
    run_id = new_run_id()
    history.save(Path(runs_folder) / run_id)
    if name is None:
        parent = file.parent.name if file.parent.name not in ("", "out") else file.parent.parent.name
        name = f"{parent or file.stem} (imported)"
    entry = make_entry(run_id, name, {"imported_from": str(file)}, status="imported")
    summary = summarize(history)
    summary["steps"] = rows[-1].get("step") or summary.get("steps")
    best = [r["epoch"] for r in rows if r.get("best")]
    if best:
        summary["best_epoch"] = best[-1]
    entry["summary"] = summary
    return entry
