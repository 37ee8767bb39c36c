"""The Data dock: Check runs the dataset checks off the GUI thread (progress, Cancel); the
findings are listed with their counts, the class balance is a bar chart, and selecting a
finding shows the images behind it (thumbnails, at most ``GALLERY_MAX``).

Thumbnails are read with QImageReader scaled to ``THUMB_PX`` while decoding, and a file
whose header announces more than the app's ``MAX_PIXELS`` is not decoded at all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage, QImageReader, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from visionstudio.core.data.image_decode import MAX_PIXELS
from visionstudio.ui.shell.tasks import run_task

GALLERY_MAX = 60
THUMB_PX = 72


def _check(state, config, val_split: float, seed: int):
    from visionstudio.core.data.checks import check_dataset

    return check_dataset(config, val_split=val_split, seed=seed,
                         progress=lambda text, f: state.set_progress(f, text),
                         cancel=lambda: state.cancelled)


def thumbnail(name: str) -> QPixmap | None:
    """A small pixmap of an image file, or None (not a file, unreadable, too large)."""
    if not Path(name).is_file():
        return None
    reader = QImageReader(name)
    size = reader.size()
    if not size.isValid() or size.width() * size.height() > MAX_PIXELS:
        return None
    reader.setScaledSize(size.scaled(THUMB_PX, THUMB_PX, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    return None if image.isNull() else QPixmap.fromImage(image)


def mean_pixmap(mean: list, side: int = 48) -> QPixmap | None:
    """A class's mean image (3×H×W nested lists of uint8) as a pixmap, or None (no image)."""
    if not mean:
        return None
    arr = np.ascontiguousarray(np.asarray(mean, dtype=np.uint8).transpose(1, 2, 0))
    h, w, _ = arr.shape
    image = QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(side, side)


def describe_sizes(histograms: dict) -> str:
    """One line about the images' sizes and channels, from the result's histograms."""
    parts = []
    for key in ("width", "height", "aspect"):
        hist = histograms.get(key) or {}
        if "min" in hist:
            low, high = hist["min"], hist["max"]
            parts.append(f"{key} {low:g}" if low == high else f"{key} {low:g}–{high:g}")
    channels = histograms.get("channels") or {}
    if channels:
        parts.append("channels " + ", ".join(f"{k}: {v}" for k, v in channels.items()))
    return "; ".join(parts)


class DataPanel(QWidget):
    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.task = None
        self.result = None
        self.check_button = QPushButton("Check")
        self.check_button.setToolTip("Look for duplicates, validation images that leak from "
                                     "training, unreadable files and class imbalance")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QLabel("Check the dataset for duplicates, leaks and imbalance.")
        self.status.setWordWrap(True)
        self.findings = QListWidget()
        self.findings.setAccessibleName("Findings")
        self.gallery = QListWidget()
        self.gallery.setAccessibleName("Images behind the finding")
        self.gallery.setViewMode(QListView.ViewMode.IconMode)
        self.gallery.setIconSize(QSize(THUMB_PX, THUMB_PX))
        self.gallery.setResizeMode(QListView.ResizeMode.Adjust)
        self.chart = pg.PlotWidget()
        self.chart.setMinimumHeight(120)
        self.chart.setLabel("left", "images")
        self.bars = None
        self.sizes = QLabel("")
        self.sizes.setWordWrap(True)
        self.means = QListWidget()
        self.means.setAccessibleName("Mean image per class")
        self.means.setViewMode(QListView.ViewMode.IconMode)
        self.means.setIconSize(QSize(48, 48))
        self.means.setMaximumHeight(90)
        self.means.setFlow(QListView.Flow.LeftToRight)
        top = QHBoxLayout()
        for w in (self.check_button, self.cancel_button, self.progress):
            top.addWidget(w)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.findings)
        split.addWidget(self.gallery)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(split, 2)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.sizes)
        layout.addWidget(self.means)
        self.check_button.clicked.connect(self.check)
        self.cancel_button.clicked.connect(self.cancel)
        self.findings.currentRowChanged.connect(self.show_finding)

    def check(self) -> None:
        if self.task is not None:
            return
        doc = self.controller.document
        self.check_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.status.setText("Checking the dataset…")
        self.task = run_task(_check, doc.dataset, doc.training.val_split, doc.training.seed,
                             name="data-check", parent=self, report_errors=False,
                             on_progress=self._on_progress, on_finished=self._on_finished,
                             on_failed=self._on_failed)
        self.task.done.connect(self._on_done)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _on_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        if text:
            self.status.setText(text)

    def _on_failed(self, exc: BaseException) -> None:
        self.status.setText(str(exc) or "The check failed.")

    def _on_done(self) -> None:
        self.task = None
        self.check_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _on_finished(self, result) -> None:
        self.result = result
        self.progress.setValue(1000)
        cached = " (from the cache: nothing changed)" if result.cached else ""
        self.status.setText(f"Checked {result.images} images in {result.seconds:.1f} s{cached}."
                            + ("" if result.findings else " Nothing found."))
        self.findings.clear()
        self.gallery.clear()
        for finding in result.findings:
            item = QListWidgetItem(("⚠ " if finding.warns else "") + finding.message)
            self.findings.addItem(item)
        self._draw_balance(result.class_names, result.class_counts)
        self.sizes.setText(describe_sizes(result.histograms))
        self.means.clear()
        for name, mean in zip(result.class_names, result.class_means):
            item = QListWidgetItem(name)
            pixmap = mean_pixmap(mean)
            if pixmap is not None:
                item.setIcon(QIcon(pixmap))
            self.means.addItem(item)

    def _draw_balance(self, names: list[str], counts: list[int]) -> None:
        if self.bars is not None:
            self.chart.removeItem(self.bars)
        self.bars = pg.BarGraphItem(x=list(range(len(counts))), height=counts, width=0.7,
                                    brush="#4a90d9")
        self.chart.addItem(self.bars)
        self.chart.getAxis("bottom").setTicks([list(enumerate(names))])

    def show_finding(self, row: int) -> None:
        self.gallery.clear()
        if self.result is None or not 0 <= row < len(self.result.findings):
            return
        finding = self.result.findings[row]
        reasons = finding.detail.get("reasons", {})
        shown = 0
        for n, group in enumerate(finding.groups):
            for name in group:
                if shown >= GALLERY_MAX:
                    return
                item = QListWidgetItem(Path(name).name if Path(name).is_file() else name)
                item.setToolTip(f"{name} (group {n + 1})" + (f": {reasons[name]}" if name in reasons else ""))
                item.setData(Qt.ItemDataRole.UserRole, name)
                pixmap = thumbnail(name)
                if pixmap is not None:
                    item.setIcon(QIcon(pixmap))
                self.gallery.addItem(item)
                shown += 1
