"""The sweep table: one row per trial (TrialRow, plain data from the core), sortable by
any column through a QSortFilterProxyModel.

Columns: Trial, State, one per swept parameter (in the sweep's order), the objective
metric, Seconds. With repeats the metric cell reads "mean ± sd" over the seeds and sorts
by the mean. A cell with no value yet (a running or failed trial) sorts after every
value, whichever the direction: the proxy compares ``SORT_ROLE`` keys, (missing, number,
text) tuples, so mixed types never meet.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ROW_ROLE = Qt.ItemDataRole.UserRole + 2   # the TrialRow of a row
STATE_COLORS = {"complete": None, "running": "#1e88e5", "pruned": "#90a4ae", "failed": "#c62828",
                "stopped": "#fb8c00", "waiting": "#90a4ae"}
Index = QModelIndex | QPersistentModelIndex


def format_number(value: Any) -> str:
    """Four significant digits: learning rates (3e-04) and accuracies (0.9123) both read."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.3g}"
    return f"{value:.4g}"


def spread(values: tuple[float, ...]) -> tuple[float, float] | None:
    """(mean, sample sd) of a trial's per-seed values; None when there are none."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    return statistics.fmean(finite), (statistics.stdev(finite) if len(finite) > 1 else 0.0)


def metric_text(row: Any, repeats: int) -> str:
    if repeats > 1 and len(row.values_per_seed) > 1:
        mean_sd = spread(row.values_per_seed)
        if mean_sd is not None:
            return f"{format_number(mean_sd[0])} ± {format_number(mean_sd[1])}"
    return "" if row.value is None else format_number(row.value)


def _key(value: Any) -> tuple:
    """Sort key: values first (numbers by value, the rest by text), missing ones last."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (2, 0.0, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


class SweepTableModel(QAbstractTableModel):
    """The trials of one sweep; ``set_rows`` replaces them, ``upsert`` adds or updates one
    (rows arrive as each trial starts and ends)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.parameters: list[str] = []   # parameter paths, the column order
        self.titles: dict[str, str] = {}  # path -> the column's title
        self.metric = "val_loss"
        self.repeats = 1
        self.rows: list[Any] = []

    def configure(self, parameters: list[str], titles: dict[str, str], metric: str, repeats: int) -> None:
        self.beginResetModel()
        self.parameters, self.titles = list(parameters), dict(titles)
        self.metric, self.repeats = metric, max(1, int(repeats))
        self.endResetModel()

    def set_rows(self, rows: list[Any]) -> None:
        self.beginResetModel()
        self.rows = sorted(rows, key=lambda r: r.number)
        self.endResetModel()

    def upsert(self, row: Any) -> None:
        for i, old in enumerate(self.rows):
            if old.number == row.number:
                self.rows[i] = row
                self.dataChanged.emit(self.index(i, 0), self.index(i, self.columnCount() - 1))
                return
        at = len(self.rows)
        self.beginInsertRows(QModelIndex(), at, at)
        self.rows.append(row)
        self.endInsertRows()

    def headers(self) -> list[str]:
        metric = self.metric + (" (mean ± sd)" if self.repeats > 1 else "")
        return ["Trial", "State", *(self.titles.get(p, p) for p in self.parameters), metric, "Seconds"]

    def metric_column(self) -> int:
        return 2 + len(self.parameters)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt's signature
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt's signature
        return 0 if parent.isValid() else 4 + len(self.parameters)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802 - Qt's name
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            names = self.headers()
            return names[section] if 0 <= section < len(names) else None
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            if 2 <= section < self.metric_column():
                return f"Swept setting {self.parameters[section - 2]}; click to sort"
            return "Click to sort by this column"
        return None

    def _value(self, row: Any, column: int) -> Any:
        if column == 0:
            return row.number
        if column == 1:
            return row.state
        if column < self.metric_column():
            return row.params.get(self.parameters[column - 2])
        if column == self.metric_column():
            mean_sd = spread(row.values_per_seed) if self.repeats > 1 else None
            return mean_sd[0] if mean_sd is not None else row.value
        return row.seconds

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        row, column = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == self.metric_column():
                return metric_text(row, self.repeats)
            if column == self.columnCount() - 1:
                return f"{row.seconds:.1f}"
            value = self._value(row, column)
            return "" if value is None else format_number(value)
        if role == SORT_ROLE:
            return _key(self._value(row, column))
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.ToolTipRole:
            runs = ", ".join(row.run_ids) or "no run yet"
            return f"Trial {row.number}: {row.state}" + (f" — {row.message}" if row.message else "") \
                + f"; runs: {runs}"
        if role == Qt.ItemDataRole.ForegroundRole and column == 1:
            color = STATE_COLORS.get(row.state)
            return QColor(color) if color else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column != 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class SweepSortProxy(QSortFilterProxyModel):
    """Sorts by the source's SORT_ROLE keys (tuples Qt cannot compare itself)."""

    def lessThan(self, left: Index, right: Index) -> bool:  # noqa: N802 - Qt's name
        src = self.sourceModel()
        lk, rk = src.data(left, SORT_ROLE), src.data(right, SORT_ROLE)
        if (lk[0] == 2) != (rk[0] == 2):   # one has no value: it goes last either way
            missing_left = lk[0] == 2
            return missing_left if self.sortOrder() == Qt.SortOrder.DescendingOrder else not missing_left
        return lk < rk
