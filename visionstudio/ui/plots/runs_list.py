"""RunsList: the project's runs; tick runs to overlay their curves, select one to show
it, rename it, delete it (removing is undoable; deleting its files is asked first)."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from visionstudio.ui.plots.metric_names import metric_text, primary_value
from visionstudio.ui.plots.run_report import RunReport

ID_ROLE = Qt.ItemDataRole.UserRole
STATUS_ROLE = Qt.ItemDataRole.UserRole + 1   # the status the item shows ("failed", ...)
# overlaid runs, in order (the shown run excluded): dashed curves of these colours
OVERLAY_COLORS = ("#8e24aa", "#00897b", "#f4511e", "#3949ab", "#c0ca33", "#6d4c41")


def ask_delete(parent: QWidget, name: str) -> str:
    """'files' (remove and delete files), 'keep' (remove, keep files) or '' (cancel)."""
    box = QMessageBox(QMessageBox.Icon.Question, "Delete run",
                      f"Remove the run “{name}” from the project?\n\nIts checkpoints and metric "
                      "files can be deleted as well; that cannot be undone.", parent=parent)
    delete = box.addButton("Remove and Delete Files", QMessageBox.ButtonRole.DestructiveRole)
    keep = box.addButton("Remove, Keep Files", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    clicked = box.clickedButton()
    return "files" if clicked is delete else "keep" if clicked is keep else ""


def primary_score(summary: dict) -> str:
    """The run's score for the list: its task's primary metric (R², IoU, mAP@0.5) when it
    recorded one, else its accuracy (validation, or training without a validation set)."""
    metric = primary_value(summary.get("val_metrics"))
    if metric is not None:
        return metric_text(*metric)
    acc = summary.get("val_accuracy") if summary.get("val_accuracy") is not None \
        else summary.get("train_accuracy")
    return f"{acc:.1%}" if isinstance(acc, (int, float)) and math.isfinite(acc) else ""


class RunsList(QWidget):
    def __init__(self, selection, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runsPanel")
        self.selection = selection             # a RunSelection
        self.runs = selection.runs             # its RunController: renames and removals
        self.ask_delete = ask_delete          # tests replace these
        self.ask_name = lambda parent, old: QInputDialog.getText(parent, "Rename run", "Name:", text=old)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.list = QListWidget()
        self.list.setObjectName("runsList")
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setToolTip("Click a run to show it; tick runs to overlay their curves.")
        self.list.setAccessibleName("Training runs")
        layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.rename_button = QPushButton("Rename…")
        self.rename_button.setObjectName("renameRunButton")
        self.rename_button.setToolTip("Give the selected run a new name")
        self.rename_button.setAccessibleName("Rename run")
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setObjectName("deleteRunButton")
        self.delete_button.setToolTip("Remove the selected run from the project, optionally "
                                      "deleting its checkpoints and metric files")
        self.delete_button.setAccessibleName("Delete run")
        self.report = RunReport(self, self.runs)
        self.report_button = QPushButton("Report…")
        self.report_button.setObjectName("reportRunButton")
        self.report_button.setToolTip("Write Report…: the selected run as one HTML page (network, "
                                      "settings, curves, per-class metrics, worst errors)")
        self.report_button.setAccessibleName("Write run report")
        row.addWidget(self.rename_button)
        row.addWidget(self.delete_button)
        row.addWidget(self.report_button)
        layout.addLayout(row)
        self.report_button.clicked.connect(lambda: self.report.write(self._current_id()))
        self.rename_button.clicked.connect(self.rename_current)
        self.delete_button.clicked.connect(self.delete_current)
        self.list.currentItemChanged.connect(self._on_list_current_changed)
        self.list.itemChanged.connect(self._on_list_item_changed)
        self.runs.runs_changed.connect(self.refresh)
        self.runs.state_changed.connect(lambda _s: self.refresh())
        selection.display_changed.connect(self.refresh)
        self._filling = False
        self.refresh()

    def refresh(self) -> None:
        self._filling = True
        try:
            self.list.clear()
            s, runs = self.selection, self.runs
            overlaid = [r for r in s.overlay_ids if r != s.display_id]
            for run in reversed(runs.controller.document.runs):
                summary = run.get("summary") or {}
                status = run.get("status", "")
                if runs.active_run == run.get("id"):
                    status = runs.state
                score = primary_score(summary)
                detail = f"{status}" + (f", {score}" if score else "") \
                    + (f", {summary.get('epochs')} ep" if summary.get("epochs") else "")
                settings = run.get("settings") or {}
                opt = (settings.get("training") or {}).get("optimizer") or {}
                what = f"{(settings.get('dataset') or {}).get('key', '?')} · {opt.get('key', '?')} " \
                       f"{(opt.get('params') or {}).get('lr', '')}"
                item = QListWidgetItem(f"{run.get('name', run['id'])}  ({what})\n  {detail}")
                item.setData(ID_ROLE, run["id"])
                item.setData(STATUS_ROLE, status)
                item.setToolTip(f"Created {run.get('created', '?')}; folder {run.get('folder', run['id'])}")
                if status == "failed":
                    self._mark_failed(item, summary.get("failure"))
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if run["id"] in s.overlay_ids
                                   else Qt.CheckState.Unchecked)
                if run["id"] in overlaid:
                    color = OVERLAY_COLORS[overlaid.index(run["id"]) % len(OVERLAY_COLORS)]
                    item.setForeground(QColor(color))
                    item.setToolTip(item.toolTip() + "; overlaid as the dashed curves of this colour")
                self.list.addItem(item)
                if run["id"] == s.display_id:
                    self.list.setCurrentItem(item)
            self.delete_button.setEnabled(self.list.count() > 0)
            self.rename_button.setEnabled(self.list.count() > 0)
        finally:
            self._filling = False

    def _mark_failed(self, item: QListWidgetItem, why: str | None) -> None:
        """A failed run says so: an error icon, and why in its tooltip (it cannot be
        continued, so the tooltip says what to do instead)."""
        item.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical))
        reason = (why or "").splitlines()[0] if why else ""
        item.setToolTip("Failed" + (f": {reason}" if reason else "") + ". It cannot be "
                        "continued; press Train to start a new run.\n" + item.toolTip())

    def _current_id(self) -> str | None:
        item = self.list.currentItem()
        return item.data(ID_ROLE) if item is not None else None

    def _on_list_current_changed(self, current, _previous) -> None:
        if not self._filling and current is not None:
            self.selection.show_run(current.data(ID_ROLE))

    def _on_list_item_changed(self, _item) -> None:
        if self._filling:
            return
        ids = [self.list.item(i).data(ID_ROLE) for i in range(self.list.count())
               if self.list.item(i).checkState() == Qt.CheckState.Checked]
        self.selection.set_overlay(ids)

    def rename_current(self) -> None:
        run_id = self._current_id()
        entry = self.selection.entry(run_id)
        if entry is None:
            return
        name, ok = self.ask_name(self, entry.get("name", ""))
        if ok and name.strip():
            self.runs.rename_run(run_id, name)

    def delete_current(self) -> None:
        run_id = self._current_id()
        entry = self.selection.entry(run_id)
        if entry is None:
            return
        answer = self.ask_delete(self, entry.get("name", run_id))
        if answer:
            self.runs.remove_run(run_id, delete_files=answer == "files")
