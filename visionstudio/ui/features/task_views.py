"""TaskEvaluationPanel: the Evaluation tab for the tasks beyond classification.

The task's metrics (regression: MAE, RMSE, R² per target; detection: mAP@0.5, mAP,
precision and recall, and the precision/recall curve; localization: IoU, accuracy, box
L1) in a table, and a gallery of where the network is most wrong: a regression's worst
predictions of the target chosen on the scatter, a detection's images with missed true
boxes (dashed amber) and false boxes (red), worst first, a localization's wrong classes
and lowest IoUs. A regression run's predicted-vs-true scatter is live while it trains
(each ValidationRecord's scatter, from the run controller's ``validation`` signal) and
shows the evaluation's values once evaluated. The evaluation runs as a background task
over a copy of the model (core/inspect/task_evaluation.evaluate_task); clicking a
gallery image emits ``sample_chosen(index)``.
"""

from __future__ import annotations

import copy

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from visionstudio.ui.features.boxes_overlay import boxes_pixmap
from visionstudio.ui.features.panels import sample_pixmap
from visionstudio.ui.features.regression_scatter import RegressionScatter
from visionstudio.ui.plots.grid import add_grid
from visionstudio.ui.shell.tasks import BackgroundTask, one_line

GALLERY_LIMIT = 48
TITLES = {"mae": "MAE", "rmse": "RMSE", "r2": "R²", "map50": "mAP@0.5", "map": "mAP@0.5:0.95",
          "precision": "precision", "recall": "recall", "iou": "mean IoU", "accuracy": "class accuracy",
          "box_l1": "box L1"}
SUMMARY_KEYS = {"regression": ("r2", "mae", "rmse"), "detection": ("map50", "map", "precision", "recall"),
                "localization": ("iou", "accuracy")}


def metric_title(key: str) -> str:
    base, _, target = key.partition("/")
    title = TITLES.get(base, base)
    return f"{title} of {target}" if target else title


def metric_text(key: str, value: float) -> str:
    base = key.partition("/")[0]
    return f"{value:.1%}" if base in ("map50", "map", "precision", "recall", "accuracy") else f"{value:.4g}"


class TaskEvaluationPanel(QWidget):
    sample_chosen = Signal(int)

    def __init__(self, state, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("taskEvaluationPanel")
        self.state = state
        self.task_name = "regression"
        self.result = None
        self.task: BackgroundTask | None = None
        self._build()
        self.scatter.target_combo.currentIndexChanged.connect(lambda _i: self._fill_gallery())
        self.gallery.itemActivated.connect(self._on_gallery_item)
        self.gallery.itemClicked.connect(self._on_gallery_item)
        self.run_button.clicked.connect(self.run_evaluation)
        self.cancel_button.clicked.connect(self.cancel)
        runs = getattr(state, "runs", None)
        if runs is not None:       # the live scatter: plain records from the worker, queued
            runs.validation.connect(self.scatter.add_record)
            runs.fit_started.connect(lambda _r: self.scatter.clear())
        self.set_task("regression")

    def _build(self) -> None:
        self.run_button = QPushButton("Evaluate validation set")
        self.run_button.setObjectName("taskEvaluateButton")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        for w, tip, name in ((self.run_button, "Run the network on the whole validation set: the "
                              "task's metrics and where it is most wrong", "Evaluate validation set"),
                             (self.cancel_button, "Stop the running evaluation", "Cancel evaluation")):
            w.setToolTip(tip)
            w.setAccessibleName(name)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumWidth(160)
        self.summary = QLabel("Evaluate to see the task's metrics and the worst predictions.")
        self.summary.setObjectName("taskEvaluationSummary")
        self.summary.setWordWrap(True)
        self.scatter = RegressionScatter()
        self.pr_plot = pg.PlotWidget()
        self.pr_plot.setObjectName("prCurve")
        self.pr_plot.setMenuEnabled(False)
        self.pr_plot.setMinimumSize(220, 180)
        self.pr_plot.setLabel("bottom", "recall")
        self.pr_plot.setLabel("left", "precision")
        self.pr_plot.setXRange(0, 1, padding=0.02)
        self.pr_plot.setYRange(0, 1.02, padding=0.02)
        add_grid(self.pr_plot.getPlotItem(), x=True, y=True, alpha=0.25)
        self.pr_curve = self.pr_plot.plot([], [], pen=pg.mkPen("#4c9be8", width=2))
        self.table = QTableWidget(0, 1)
        self.table.setObjectName("taskMetrics")
        self.table.setHorizontalHeaderLabels(["value"])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setTabKeyNavigation(False)  # Tab leaves the table; the arrows move between cells
        self.gallery_label = QLabel("")
        self.gallery_label.setWordWrap(True)
        self.gallery = QListWidget()
        self.gallery.setObjectName("taskGallery")
        self.gallery.setViewMode(QListWidget.ViewMode.IconMode)
        self.gallery.setIconSize(QSize(72, 72))
        self.gallery.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.gallery.setMovement(QListWidget.Movement.Static)
        self.gallery.setSpacing(4)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.scatter, 1)
        ll.addWidget(self.pr_plot, 1)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.table, 2)
        rl.addWidget(self.gallery_label)
        rl.addWidget(self.gallery, 3)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([480, 420])
        top = QHBoxLayout()
        for w in (self.run_button, self.cancel_button, self.progress):
            top.addWidget(w)
        top.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.summary)
        lay.addWidget(split, 1)

    def set_task(self, task: str) -> None:
        """Show the parts of ``task``: the scatter for regression, the PR curve for detection."""
        if task != self.task_name:
            self.result = None
            self.table.setRowCount(0)
            self.gallery.clear()
            self.gallery_label.setText("")
        self.task_name = task
        self.scatter.setVisible(task == "regression")
        self.pr_plot.setVisible(task == "detection")

    # -- running ---------------------------------------------------------------------------------
    def run_evaluation(self) -> BackgroundTask | None:
        from visionstudio.core.inspect import prepare_batch
        from visionstudio.core.inspect.task_evaluation import evaluate_task
        from visionstudio.ui.features.task_sample import task_objective

        st = self.state
        model, d = st.model(), st.dataset
        if model is None or d is None or st.num_samples == 0:
            self.summary.setText("Nothing to evaluate yet: "
                                 + (st.model_error or "the dataset is still loading."))
            return None
        objective = task_objective(st)
        if objective is None:
            self.summary.setText("The network's heads do not fit the task; the canvas says what to change.")
            return None
        if self.task is not None and self.task.is_running():
            return self.task
        model = copy.deepcopy(model)
        images, labels, mean, std = d.val_images, d.val_labels, d.mean, d.std

        def work(state):
            return evaluate_task(model, images, labels, objective,
                                 prepare=lambda b: prepare_batch(b, mean, std),
                                 progress=state.set_progress, cancel=lambda: state.cancelled)

        self.task = BackgroundTask(work, name="feature-maps-task-evaluation", parent=self,
                                   report_errors=False)
        self.task.progressed.connect(lambda f, _text: self.progress.setValue(int(f * 1000)))
        self.task.finished.connect(self.show_result)
        self.task.failed.connect(self._on_failed)
        self.task.done.connect(self._update_buttons)
        self.summary.setText(f"Evaluating {len(labels):,} images…")
        st.start_task(self.task)
        self._update_buttons()
        return self.task

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _on_failed(self, exc: BaseException) -> None:
        self.summary.setText("Evaluation cancelled." if isinstance(exc, InterruptedError)
                             else f"Evaluation failed: {one_line(exc)}")

    def _update_buttons(self) -> None:
        running = self.task is not None and self.task.is_running()
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    # -- showing ---------------------------------------------------------------------------------
    def show_result(self, result) -> None:
        """A TaskEvaluation (core/inspect/task_evaluation.py)."""
        self.set_task(result.task)
        self.result = result
        m = result.metrics
        shown = [f"{metric_title(k)} {metric_text(k, m[k])}"
                 for k in SUMMARY_KEYS.get(result.task, ()) if k in m]
        self.summary.setText(" · ".join(shown) + f" on {result.images:,} validation images"
                             + (f" ({self.state.describe()})" if self.state.describe() else "") + ".")
        keys = list(m)
        self.table.setRowCount(len(keys))
        self.table.setVerticalHeaderLabels([metric_title(k) for k in keys])
        for i, k in enumerate(keys):
            item = QTableWidgetItem(metric_text(k, m[k]))
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(i, 0, item)
        self.table.resizeColumnsToContents()
        if result.task == "regression" and result.true is not None:
            self.scatter.show_values(result.target_names, result.true, result.predicted)
        if result.task == "detection":
            recall, precision = result.pr_curve
            self.pr_curve.setData(list(recall), list(precision))
            self.pr_plot.setTitle(f"precision/recall at IoU 0.5 — mAP@0.5 {m.get('map50', 0.0):.1%}")
        self._fill_gallery()
        self._update_buttons()

    def _fill_gallery(self) -> None:
        r = self.result
        self.gallery.clear()
        if r is None:
            return
        images, names = self.state.dataset.val_images, self.state.class_names
        if r.task == "regression":
            target = max(self.scatter.target_combo.currentIndex(), 0)
            rows = r.worst(target, GALLERY_LIMIT)
            name = r.target_names[target] if target < len(r.target_names) else ""
            self.gallery_label.setText(f"The {len(rows)} largest errors of <b>{name}</b> — click one to "
                                       "inspect it")
            for w in rows:
                self._add(w.index, sample_pixmap(self._display(images, w.index), 72),
                          f"#{w.index} {w.true:.3g}→{w.predicted:.3g}",
                          f"validation #{w.index}: {name} true {w.true:.4g}, predicted {w.predicted:.4g}")
        elif r.task == "detection":
            rows = r.errors[:GALLERY_LIMIT]
            self.gallery_label.setText(f"{len(r.errors)} images with missed (dashed amber) or false (red) "
                                       "boxes, worst first — click one to inspect it")
            for e in rows:
                pix = boxes_pixmap(self._display(images, e.index), e.missed, e.false, 72)
                lost = ", ".join(self._name(names, c) for c in e.missed_labels) or "none"
                wrong = ", ".join(f"{self._name(names, c)} {s:.0%}"
                                  for c, s in zip(e.false_labels, e.false_scores))
                self._add(e.index, pix, f"#{e.index} {len(e.missed)} missed · {len(e.false)} false",
                          f"validation #{e.index}: missed {lost}; false {wrong or 'none'}")
        elif r.task == "localization":
            rows = r.worst_boxes(GALLERY_LIMIT)
            self.gallery_label.setText("Wrong classes first, then the lowest IoU — click one to inspect it")
            for i in rows:
                t, p = (int(v) for v in r.classes[i])
                self._add(i, sample_pixmap(self._display(images, i), 72), f"#{i} IoU {r.ious[i]:.2f}",
                          f"validation #{i}: true {self._name(names, t)}, predicted {self._name(names, p)}, "
                          f"IoU {r.ious[i]:.2f}")

    @staticmethod
    def _name(names, c) -> str:
        return names[int(c)] if 0 <= int(c) < len(names) else str(int(c))

    @staticmethod
    def _display(images, index: int) -> np.ndarray:
        from visionstudio.core.inspect import Sample

        return Sample(images[int(index)].numpy(), None, "").display()

    def _add(self, index: int, pix, text: str, tip: str) -> None:
        item = QListWidgetItem(QIcon(pix), text)
        item.setData(Qt.ItemDataRole.UserRole, int(index))
        item.setToolTip(tip)
        self.gallery.addItem(item)

    def gallery_indices(self) -> list[int]:
        return [int(self.gallery.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.gallery.count())]

    def _on_gallery_item(self, item: QListWidgetItem) -> None:
        self.sample_chosen.emit(int(item.data(Qt.ItemDataRole.UserRole)))
