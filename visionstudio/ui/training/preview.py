"""A strip of sample images with their labels and the class counts, loaded off the
GUI thread (a background task that loads the dataset and keeps a few images)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QThread
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from visionstudio.core.data.registry import load_dataset
from visionstudio.ui.shell.tasks import BackgroundTask, TaskState

SAMPLES = 12
THUMB = 44


def load_preview(state: TaskState, config, seed: int, val_split: float) -> dict:
    """A few images, their labels and the class counts (on the task's thread)."""
    # never download just for a preview: that happens when training starts
    data = load_dataset(config, val_split=val_split, seed=seed,
                         cancel=lambda: state.cancelled, download=False)
    if data.train_images is not None:
        images = data.train_images[:SAMPLES].numpy().copy()
        labels = data.train_labels[:SAMPLES].numpy().copy()
        counts = np.bincount(data.train_labels.numpy(), minlength=data.num_classes)
    else:
        items = [data.train_dataset[i] for i in range(min(SAMPLES, data.num_train))]
        images = np.stack([np.asarray(x) for x, _ in items]) if items else np.zeros((0, 1, 1, 1), np.uint8)
        labels = np.array([y for _, y in items])
        counts = None
    return {"images": images, "labels": labels, "class_names": list(data.class_names),
            "counts": counts, "train": data.num_train, "val": data.num_val}


def to_pixmap(image: np.ndarray, size: int = THUMB) -> QPixmap:
    """uint8 C×H×W -> a scaled QPixmap (grayscale or RGB)."""
    c, h, w = image.shape
    if c == 1:
        buf = np.ascontiguousarray(image[0])
        qimg = QImage(buf.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    else:
        buf = np.ascontiguousarray(np.transpose(image[:3], (1, 2, 0)))
        qimg = QImage(buf.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(qimg).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.FastTransformation)


class PreviewStrip(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("datasetPreview")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.grid = QGridLayout()
        self.grid.setSpacing(2)
        layout.addLayout(self.grid)
        self.info = QLabel("Preview appears when the panel is shown.")
        self.info.setObjectName("datasetCounts")
        self.info.setWordWrap(True)
        self.info.setStyleSheet("color: palette(mid);")
        layout.addWidget(self.info)
        self.loader: BackgroundTask | None = None
        self._pending = None
        self.data = None
        from PySide6.QtCore import QCoreApplication

        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    def request(self, config, seed: int, val_split: float) -> None:
        """Load a preview of ``config`` (the newest request wins)."""
        self._pending = (config, seed, val_split)
        if self.loader is not None and self.loader.is_running():
            self.loader.cancel()
            return
        self._start()

    def _start(self) -> None:
        if self._pending is None:
            return
        config, seed, val_split = self._pending
        self._pending = None
        self.info.setText("Loading a preview…")
        # the task outlives this strip if it is dropped (document replaced) mid-load
        loader = BackgroundTask(load_preview, config, seed, val_split, name="dataset-preview",
                                parent=self, report_errors=False)
        loader.finished.connect(self._on_loaded)
        loader.failed.connect(self._on_failed)
        loader.done.connect(self._on_done)
        self.loader = loader
        loader.start(QThread.Priority.LowPriority)

    def _on_done(self) -> None:
        self.loader = None
        self._start()

    def _on_failed(self, exc: BaseException) -> None:
        if not self.loader.cancel_requested:
            self.info.setText(f"No preview: {str(exc) or type(exc).__name__}")

    def _on_loaded(self, data: dict) -> None:
        if self._pending is not None:
            return  # outdated: a newer request is waiting
        self.data = data
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        names = data["class_names"]
        for i, (img, lab) in enumerate(zip(data["images"], data["labels"])):
            cell = QLabel()
            cell.setPixmap(to_pixmap(img))
            cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
            name = names[int(lab)] if 0 <= int(lab) < len(names) else str(lab)
            cell.setToolTip(name)
            text = QLabel(name)
            text.setAlignment(Qt.AlignmentFlag.AlignCenter)
            text.setStyleSheet("font-size: 9px;")
            self.grid.addWidget(cell, (i // 6) * 2, i % 6)
            self.grid.addWidget(text, (i // 6) * 2 + 1, i % 6)
        counts = data["counts"]
        per_class = (", ".join(f"{n} {int(c)}" for n, c in zip(names, counts))
                     if counts is not None else f"{len(names)} classes")
        self.info.setText(f"{data['train']} training / {data['val']} validation images. "
                          f"Per class: {per_class}.")

    def shutdown(self) -> None:
        """Cancel a preview being loaded and wait for its thread (hide, quit)."""
        self._pending = None
        loader = self.loader
        if loader is not None:
            loader.cancel()
            loader.wait(10_000)
            if self.data is None:
                self.info.setText("Preview appears when the panel is shown.")
