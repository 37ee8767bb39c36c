"""EvaluationPanel: confusion matrix (counts or row-normalised, numbers in the cells),
per-class precision / recall / accuracy, and the gallery of a clicked cell's samples.

Evaluation runs as a background task over a copy of the model, with progress and
Cancel; clicking a gallery image emits ``sample_chosen(index)`` (validation index).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
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

from visionstudio.core.inspect import evaluate, prepare_batch
from visionstudio.ui.features.panels import sample_pixmap
from visionstudio.ui.shell.tasks import BackgroundTask, one_line

GALLERY_LIMIT = 200


class EvaluationPanel(QWidget):
    sample_chosen = Signal(int)

    def __init__(self, state, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("evaluationPanel")
        self.state = state
        self.evaluation = None
        self.task: BackgroundTask | None = None
        self.cell: tuple[int, int] | None = None
        self._texts: list[pg.TextItem] = []
        self._k = 0
        top = self._build_toolbar()
        self._build_matrix()
        right = self._build_table_and_gallery()
        split = QSplitter()
        split.addWidget(self.matrix_plot)
        split.addWidget(right)
        split.setSizes([520, 420])
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.summary)
        lay.addWidget(split, 1)
        self._connect()
        self._update_buttons()

    def _build_toolbar(self) -> QHBoxLayout:
        self.run_button = QPushButton("Evaluate validation set")
        self.run_button.setObjectName("evaluateButton")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumWidth(160)
        self.normalised = QCheckBox("Normalised (rows sum to 1)")
        self.export_csv_button = QPushButton("Export CSV…")
        self.export_png_button = QPushButton("Export PNG…")
        for widget, tip, name, object_name in (
                (self.run_button, "Run the network on the whole validation set: confusion matrix "
                 "and per-class precision, recall and accuracy", "Evaluate validation set", ""),
                (self.cancel_button, "Stop the running evaluation", "Cancel evaluation",
                 "cancelEvaluationButton"),
                (self.normalised, "Show each row of the confusion matrix as fractions of that "
                 "class's samples", "Normalised confusion matrix", "normalisedCheck"),
                (self.export_csv_button, "Save the confusion matrix as a CSV file",
                 "Export confusion matrix as CSV", "exportConfusionCsvButton"),
                (self.export_png_button, "Save the confusion-matrix plot as a PNG image",
                 "Export confusion matrix as PNG", "exportConfusionPngButton")):
            widget.setToolTip(tip)
            widget.setAccessibleName(name)
            if object_name:
                widget.setObjectName(object_name)
        self.summary = QLabel("Evaluate to see where the network confuses classes.")
        self.summary.setObjectName("evaluationSummary")
        top = QHBoxLayout()
        for w in (self.run_button, self.cancel_button, self.progress, self.normalised):
            top.addWidget(w)
        top.addStretch(1)
        top.addWidget(self.export_csv_button)
        top.addWidget(self.export_png_button)
        return top

    def _build_matrix(self) -> None:
        self.matrix_plot = pg.PlotWidget()
        self.matrix_plot.setObjectName("confusionMatrix")
        self.matrix_plot.setMenuEnabled(False)
        self.matrix_plot.setAspectLocked(True)
        self.matrix_plot.invertY(True)
        self.matrix_plot.setLabel("left", "true class")
        self.matrix_plot.setLabel("bottom", "predicted class")
        self.matrix_image = pg.ImageItem(axisOrder="row-major")
        self.matrix_image.setColorMap(pg.colormap.get("CET-L17"))
        self.matrix_plot.addItem(self.matrix_image)
        self.cell_mark = pg.QtWidgets.QGraphicsRectItem()
        self.cell_mark.setPen(pg.mkPen("#ff4040", width=2))
        self.cell_mark.setVisible(False)
        self.cell_mark.setZValue(20)
        self.matrix_plot.addItem(self.cell_mark)

    def _build_table_and_gallery(self) -> QWidget:
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("classMetrics")
        self.table.setHorizontalHeaderLabels(["precision", "recall", "accuracy", "samples"])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setTabKeyNavigation(False)  # Tab leaves the table; the arrows move between cells
        self.gallery_label = QLabel("Click a cell to see its samples.")
        self.gallery = QListWidget()
        self.gallery.setObjectName("cellGallery")
        self.gallery.setViewMode(QListWidget.ViewMode.IconMode)
        self.gallery.setIconSize(QSize(56, 56))
        self.gallery.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.gallery.setMovement(QListWidget.Movement.Static)
        self.gallery.setSpacing(4)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.table, 2)
        rl.addWidget(self.gallery_label)
        rl.addWidget(self.gallery, 3)
        return right

    def _connect(self) -> None:
        self.run_button.clicked.connect(self.run_evaluation)
        self.cancel_button.clicked.connect(self.cancel)
        self.normalised.toggled.connect(self._redraw)
        self.export_csv_button.clicked.connect(lambda: self.export_csv())
        self.export_png_button.clicked.connect(lambda: self.export_png())
        self.matrix_plot.scene().sigMouseClicked.connect(self._on_matrix_clicked)
        self.gallery.itemActivated.connect(self._on_gallery_item)
        self.gallery.itemClicked.connect(self._on_gallery_item)

    # -- running ---------------------------------------------------------------------------------
    def run_evaluation(self) -> BackgroundTask | None:
        st = self.state
        model = st.model()
        d = st.dataset
        if model is None or d is None or st.num_samples == 0:
            self.summary.setText("Nothing to evaluate yet: " + (
                st.model_error or "the dataset is still loading."))
            return None
        if self.task is not None and self.task.is_running():
            return self.task
        want = st.controller.network_analysis.input_shape
        have = tuple(int(x) for x in d.val_images.shape[1:])
        if want is not None and tuple(want) != have:
            self.summary.setText(f"The dataset's images are {'×'.join(map(str, have))} but the "
                                 f"network's Input is {'×'.join(map(str, want))}; they must match.")
            return None
        model = copy.deepcopy(model)   # the GUI keeps using its own copy meanwhile
        images, labels, names, mean, std = d.val_images, d.val_labels, d.class_names, d.mean, d.std

        def work(state):
            return evaluate(model, images, labels, list(names),
                            prepare=lambda b: prepare_batch(b, mean, std),
                            progress=state.set_progress, cancel=lambda: state.cancelled)

        self.task = BackgroundTask(work, name="feature-maps-evaluation", parent=self, report_errors=False)
        self.task.progressed.connect(lambda f, _text: self.progress.setValue(int(f * 1000)))
        self.task.finished.connect(self.show_evaluation)
        self.task.failed.connect(self._on_failed)
        self.task.done.connect(self._update_buttons)
        self.progress.setValue(0)
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
        has = self.evaluation is not None
        self.export_csv_button.setEnabled(has)
        self.export_png_button.setEnabled(has)

    # -- showing ---------------------------------------------------------------------------------
    def show_evaluation(self, ev) -> None:
        self.evaluation = ev
        self.cell = None
        self.cell_mark.setVisible(False)
        self.gallery.clear()
        self.gallery_label.setText("Click a cell to see its samples.")
        k = len(ev.class_names)
        self.summary.setText(f"Accuracy {ev.accuracy:.1%} on {int(ev.confusion.sum()):,} validation "
                             f"images ({self.state.describe()}). Rows: true class; columns: predicted.")
        ticks = [[(i + 0.5, n) for i, n in enumerate(ev.class_names)]]
        self.matrix_plot.getAxis("bottom").setTicks(ticks)
        self.matrix_plot.getAxis("left").setTicks(ticks)
        if k != self._k:
            for t in self._texts:
                self.matrix_plot.removeItem(t)
            self._texts = []
            for r in range(k):
                for c in range(k):
                    t = pg.TextItem(anchor=(0.5, 0.5))
                    t.setPos(c + 0.5, r + 0.5)
                    self.matrix_plot.addItem(t)
                    self._texts.append(t)
            self._k = k
        self._redraw()
        prec, rec, acc = ev.precision(), ev.recall(), ev.class_accuracy()
        support = ev.confusion.sum(axis=1)
        self.table.setRowCount(k)
        self.table.setVerticalHeaderLabels(list(ev.class_names))
        for i in range(k):
            cells = (f"{prec[i]:.1%}", f"{rec[i]:.1%}", f"{acc[i]:.1%}", f"{int(support[i])}")
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()
        self._update_buttons()

    def matrix(self) -> np.ndarray | None:
        if self.evaluation is None:
            return None
        return self.evaluation.normalized if self.normalised.isChecked() else self.evaluation.confusion

    def _redraw(self) -> None:
        m = self.matrix()
        if m is None:
            return
        norm = self.evaluation.normalized
        self.matrix_image.setImage(norm, levels=(0.0, 1.0), autoLevels=False)
        self.matrix_image.setRect(0, 0, m.shape[1], m.shape[0])
        k = m.shape[0]
        small = k > 12
        for r in range(k):
            for c in range(k):
                v = m[r, c]
                text = f"{v:.2f}" if self.normalised.isChecked() else f"{int(v)}"
                t = self._texts[r * k + c]
                # CET-L17 runs from white (0) to dark purple (1): dark text on light cells
                color = "#f4f4f4" if norm[r, c] > 0.45 else ("#9a9a9a" if not v else "#1a1a1a")
                t.setText("" if (small and not v) else text, color=color)
        self.matrix_plot.autoRange(padding=0.02)

    def _on_matrix_clicked(self, event) -> None:
        if self.evaluation is None:
            return
        vb = self.matrix_plot.getViewBox()
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        p = vb.mapSceneToView(event.scenePos())
        k = len(self.evaluation.class_names)
        c, r = int(np.floor(p.x())), int(np.floor(p.y()))
        if 0 <= r < k and 0 <= c < k:
            self.show_cell(r, c)

    def show_cell(self, true_class: int, predicted: int) -> np.ndarray:
        """Fill the gallery with the samples of one cell; returns their indices."""
        ev = self.evaluation
        idx = ev.cell(true_class, predicted)
        self.cell = (true_class, predicted)
        self.cell_mark.setRect(predicted, true_class, 1, 1)
        self.cell_mark.setVisible(True)
        names = ev.class_names
        shown = idx[:GALLERY_LIMIT]
        more = f" (first {GALLERY_LIMIT})" if len(idx) > GALLERY_LIMIT else ""
        self.gallery_label.setText(f"{len(idx)} images of <b>{names[true_class]}</b> predicted as "
                                   f"<b>{names[predicted]}</b>{more} — click one to inspect it")
        self.gallery.clear()
        images = self.state.dataset.val_images
        from visionstudio.core.inspect import Sample

        for i in shown:
            pix = sample_pixmap(Sample(images[int(i)].numpy(), None, "").display(), 56)
            item = QListWidgetItem(QIcon(pix), f"#{int(i)} {ev.confidences[int(i)]:.0%}")
            item.setData(Qt.ItemDataRole.UserRole, int(i))
            item.setToolTip(f"validation #{int(i)}: {names[true_class]} predicted {names[predicted]} "
                            f"with {ev.confidences[int(i)]:.1%}")
            self.gallery.addItem(item)
        return idx

    def _on_gallery_item(self, item: QListWidgetItem) -> None:
        self.sample_chosen.emit(int(item.data(Qt.ItemDataRole.UserRole)))

    # -- export ----------------------------------------------------------------------------------
    def export_csv(self, path: str | Path | None = None) -> Path | None:
        if self.evaluation is None:
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export confusion matrix", "confusion.csv",
                                                  "CSV (*.csv)")
            if not path:
                return None
        p = Path(path)
        p.write_text(self.evaluation.to_csv(), encoding="utf-8")
        return p

    def export_png(self, path: str | Path | None = None) -> Path | None:
        if self.evaluation is None:
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export confusion matrix", "confusion.png",
                                                  "PNG (*.png)")
            if not path:
                return None
        p = Path(path)
        return p if self.matrix_plot.grab().save(str(p), "PNG") else None
