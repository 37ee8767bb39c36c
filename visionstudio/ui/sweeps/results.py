"""What a sweep found: the trial table above, parallel coordinates and importance below.

The table's selection is the trial the user looks at: ``trial_selected`` carries its
TrialRow (the panel shows its run in the Runs list). Rows and charts are redrawn when a
trial starts or ends, never per batch; the table keeps the user's sort column.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QSplitter, QTableView, QWidget

from visionstudio.ui.sweeps.plots import Axis, ImportanceChart, ParallelCoordinates
from visionstudio.ui.sweeps.table import ROW_ROLE, SweepSortProxy, SweepTableModel


def axes_for(parameters: tuple[Any, ...], titles: dict[str, str]) -> list[Axis]:
    """The plot's axes from the sweep's ParameterRanges."""
    return [Axis(p.path, titles.get(p.path, p.path), p.kind, p.low, p.high, p.log, tuple(p.choices))
            for p in parameters]


def best_row(rows: list[Any], direction: str) -> Any | None:
    """The finished trial with the best value (ties: the earliest)."""
    done = [r for r in rows if r.state == "complete" and r.value is not None and math.isfinite(r.value)]
    if not done:
        return None
    sign = 1.0 if direction == "minimize" else -1.0
    return min(done, key=lambda r: (sign * r.value, r.number))


class SweepResults(QSplitter):
    trial_selected = Signal(object)   # TrialRow

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Vertical, parent)
        self.setObjectName("sweepResults")
        self.setChildrenCollapsible(False)
        self.model = SweepTableModel(self)
        self.proxy = SweepSortProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setObjectName("sweepTable")
        self.table.setAccessibleName("Sweep trials")
        self.table.setToolTip("One row per trial; click a column to sort by it, select a trial "
                              "to show its run")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setTabKeyNavigation(False)  # Tab leaves the table; the arrows move between cells
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMinimumHeight(80)
        self.table.selectionModel().currentRowChanged.connect(self._on_table_current_row_changed)
        self.table.doubleClicked.connect(lambda index: self._emit_row(index))
        self.addWidget(self.table)
        charts = QSplitter(Qt.Orientation.Horizontal)
        charts.setChildrenCollapsible(False)
        self.parallel = ParallelCoordinates()
        self.importance = ImportanceChart()
        charts.addWidget(self.parallel)
        charts.addWidget(self.importance)
        charts.setStretchFactor(0, 3)
        charts.setStretchFactor(1, 2)
        self.charts = charts
        self.addWidget(charts)
        self.setStretchFactor(0, 1)
        self.setStretchFactor(1, 1)
        self.titles: dict[str, str] = {}
        self.parameters: tuple[Any, ...] = ()
        self.metric_name, self.direction = "val_loss", "minimize"

    def configure(self, config: Any, titles: dict[str, str]) -> None:
        """A new (or reopened) sweep: its columns and axes; the rows start empty."""
        self.titles = dict(titles)
        self.parameters = tuple(config.parameters)
        self.metric_name, self.direction = config.objective_metric, config.direction
        self.model.configure([p.path for p in self.parameters], self.titles, self.metric_name, config.repeats)
        self.model.set_rows([])
        self.importance.show_importance({}, self.titles)
        self._redraw()

    def set_rows(self, rows: list[Any]) -> None:
        self.model.set_rows(rows)
        self._redraw()

    def upsert(self, row: Any) -> None:
        self.model.upsert(row)
        self._redraw()

    def rows(self) -> list[Any]:
        return list(self.model.rows)

    def best(self) -> Any | None:
        return best_row(self.model.rows, self.direction)

    def _redraw(self) -> None:
        self.parallel.show_trials(axes_for(self.parameters, self.titles), self.model.rows, self.metric_name,
                                  self.direction == "minimize")

    def show_importance(self, importance: dict[str, float], note: str = "") -> None:
        self.importance.show_importance(importance, self.titles, note)

    def sort_by(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.table.sortByColumn(column, order)

    def select_trial(self, number: int) -> bool:
        for r in range(self.proxy.rowCount()):
            index = self.proxy.index(r, 0)
            if self.proxy.data(index, ROW_ROLE).number == number:
                self.table.selectionModel().setCurrentIndex(
                    index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                    | QItemSelectionModel.SelectionFlag.Rows)
                return True
        return False

    def _on_table_current_row_changed(self, current, _previous) -> None:
        self._emit_row(current)

    def _emit_row(self, index) -> None:
        if index.isValid():
            self.trial_selected.emit(self.proxy.data(index, ROW_ROLE))
