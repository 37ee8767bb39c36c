"""A strip of sample images with their labels (class names, boxes or target values:
preview_cells.py) and the class counts of the chosen dataset, loaded off the GUI
thread; or, for a set whose files are not on disk yet, a "not downloaded yet" line
with a Download button (progress, Cancel).

The strip always shows the choice it was last given: a new request clears the old
thumbnails at once, and a result that belongs to an earlier request (a generation
number) is dropped. A failure is shown here in words, in a red box, until the next
request.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QCoreApplication, Qt, QThread
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from visionstudio.core.data import registry as data_registry
from visionstudio.core.data.base import DatasetCancelled, default_data_dir
from visionstudio.ui.shell.tasks import BackgroundTask, TaskState, run_task
from visionstudio.ui.training.preview_cells import caption_text, cells, summary, thumbnail

SAMPLES = 12
IDLE_TEXT = "Preview appears when the panel is shown."
PROBLEM_STYLE = ("background: #fdecea; color: #8a1c1c; border: 1px solid #e0a0a0; "
                 "border-radius: 3px; padding: 6px;")


def load_preview(state: TaskState, config, seed: int, val_split: float, data_dir=None) -> dict:
    """A few images, their labels and the class counts (on the task's thread)."""
    shown = data_registry.preview_dataset(config, SAMPLES, val_split=val_split, seed=seed,
                                          data_dir=data_dir, cancel=lambda: state.cancelled)
    if shown is not None:
        return shown   # drawn without torch (the preview shows at start, before torch loads)
    # never download just for a preview: the Download button or training does that
    data = data_registry.load_dataset(config, val_split=val_split, seed=seed, data_dir=data_dir,
                                      cancel=lambda: state.cancelled, download=False)
    classes = data.task == "classification"    # other tasks' labels are values or boxes
    if data.train_images is not None:
        images = data.train_images[:SAMPLES].numpy().copy()
        labels = data.train_labels[:SAMPLES].numpy().copy()
        counts = np.bincount(data.train_labels.numpy(), minlength=data.num_classes) if classes else None
    else:
        items = [data.train_dataset[i] for i in range(min(SAMPLES, data.num_train))]
        images = np.stack([np.asarray(x) for x, _ in items]) if items else np.zeros((0, 1, 1, 1), np.uint8)
        labels = np.stack([np.asarray(y) for _, y in items]) if items else np.zeros(0)
        counts = None
    return {"images": images, "labels": labels, "class_names": list(data.class_names),
            "counts": counts, "train": data.num_train, "val": data.num_val, "task": data.task,
            "target_names": list(data.target_names)}


def download_files(state: TaskState, config, data_dir=None) -> None:
    """Fetch a dataset's files (on the task's thread), reporting progress, stopping on Cancel."""
    data_registry.download_dataset(config, data_dir=data_dir,
                                   progress=lambda text, fraction: state.set_progress(fraction, text),
                                   cancel=lambda: state.cancelled)


def title_of(config) -> str:
    key = getattr(config, "key", None)
    return data_registry.DATASETS.get(key).title if key in data_registry.DATASETS else str(key)


class PreviewStrip(QWidget):
    """``state`` is what it shows: idle, loading, ready, missing, downloading or problem."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("datasetPreview")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.grid = QGridLayout()
        self.grid.setSpacing(2)
        layout.addLayout(self.grid)
        self.info = QLabel(IDLE_TEXT)
        self.info.setObjectName("datasetCounts")
        self.info.setWordWrap(True)
        self.info.setStyleSheet("color: palette(mid);")
        layout.addWidget(self.info)
        self.problem = QLabel("")
        self.problem.setObjectName("datasetProblem")
        self.problem.setWordWrap(True)
        self.problem.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem.setStyleSheet(PROBLEM_STYLE)
        self.problem.hide()
        layout.addWidget(self.problem)
        layout.addLayout(self._build_download_row())
        self.data_dir = None            # None: the app's data folder (default_data_dir)
        self.state = "idle"
        self.loader: BackgroundTask | None = None
        self.downloads: dict[str, BackgroundTask] = {}   # dataset key -> its running download
        self._download_progress: dict[str, tuple[float, str]] = {}
        self._pending = None            # a load waiting for the running one to stop
        self._wanted = None             # (config, seed, val_split) last requested
        self._generation = 0
        self.data = None
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown_all)

    def _build_download_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.download_button = QPushButton("Download")
        self.download_button.setObjectName("datasetDownloadButton")
        self.download_button.setAccessibleName("Download the dataset")
        self.download_button.setToolTip("Download the chosen dataset's files into the data folder "
                                        "(you can cancel; the preview loads when it is done)")
        self.download_button.clicked.connect(lambda _=False: self.download())
        self.progress = QProgressBar()
        self.progress.setObjectName("datasetDownloadProgress")
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("datasetCancelButton")
        self.cancel_button.setToolTip("Stop the download (after the file being fetched)")
        self.cancel_button.setAccessibleName("Cancel the download")
        self.cancel_button.clicked.connect(lambda _=False: self.cancel_download())
        for widget in (self.download_button, self.progress, self.cancel_button):
            row.addWidget(widget)
            widget.hide()
        row.addStretch(1)
        return row

    # -- requests ---------------------------------------------------------------------------
    def request(self, config, seed: int, val_split: float) -> None:
        """Show ``config``: clear what is shown now, then its preview, its download or
        the reason it cannot be shown (the newest request wins). Asking again for what
        is shown or on its way changes nothing."""
        if (config, seed, val_split) == self._wanted and self.state in ("loading", "ready", "downloading"):
            return
        self._show(config, seed, val_split)

    def _show(self, config, seed: int, val_split: float) -> None:
        self._generation += 1
        self._wanted = (config, seed, val_split)
        self._pending = None
        self.data = None
        self._clear_grid()
        key = getattr(config, "key", None)
        running = self.loader is not None and self.loader.is_running()
        if running:
            self.loader.cancel()   # an earlier choice's; its done starts a pending load
        if key in self.downloads:
            self._show_downloading(key)
        elif not data_registry.is_downloaded(config, self.data_dir):
            self._show_missing(config)
        else:
            self._set_state("loading", f"Loading {title_of(config)}…")
            self._pending = (self._generation, config, seed, val_split)
            if not running:
                self._start()

    def clear(self) -> None:
        """Forget what is shown (the choice changed while the strip was hidden)."""
        self._generation += 1
        self._pending = self._wanted = self.data = None
        self._clear_grid()
        self._set_state("idle", IDLE_TEXT)

    def _start(self) -> None:
        if self._pending is None:
            return
        gen, config, seed, val_split = self._pending
        self._pending = None
        # the task outlives this strip if it is dropped (document replaced) mid-load
        loader = BackgroundTask(load_preview, config, seed, val_split, self.data_dir,
                                name="dataset-preview", parent=self, report_errors=False)
        loader.finished.connect(lambda data, g=gen: self._on_loaded(g, data))
        loader.failed.connect(lambda exc, g=gen: self._on_failed(g, exc))
        loader.done.connect(self._on_done)
        self.loader = loader
        loader.start(QThread.Priority.LowPriority)

    def _on_done(self) -> None:
        self.loader = None
        self._start()

    def _on_failed(self, gen: int, exc: BaseException) -> None:
        if gen == self._generation and not isinstance(exc, DatasetCancelled):
            self._show_problem(str(exc) or type(exc).__name__)

    def _on_loaded(self, gen: int, data: dict) -> None:
        if gen != self._generation:
            return  # outdated: the user chose something else meanwhile
        self.data = data
        self._clear_grid()
        for i, (img, note) in enumerate(zip(data["images"], cells(data))):
            cell = QLabel()
            cell.setPixmap(thumbnail(img, note))
            cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
            cell.setToolTip(note.tooltip)
            text = QLabel()
            text.setAlignment(Qt.AlignmentFlag.AlignCenter)
            text.setStyleSheet("font-size: 9px;")
            text.setText(caption_text(text, note.caption))
            text.setToolTip(note.tooltip)
            self.grid.addWidget(cell, (i // 6) * 2, i % 6)
            self.grid.addWidget(text, (i // 6) * 2 + 1, i % 6)
        self._set_state("ready", summary(data))

    # -- downloads ------------------------------------------------------------------------
    def download(self) -> None:
        """Fetch the shown dataset's files in the background, then show its preview."""
        if self._wanted is None:
            return
        config = self._wanted[0]
        key = config.key
        if key in self.downloads:
            return
        task = run_task(download_files, config, self.data_dir, name=f"download-{key}", parent=self,
                        report_errors=False,
                        on_progress=lambda f, text, k=key: self._on_download_progress(k, f, text),
                        on_finished=lambda _r, k=key: self._on_download_finished(k),
                        on_failed=lambda exc, k=key: self._on_download_failed(k, exc))
        self.downloads[key] = task
        self._download_progress[key] = (0.0, "")
        task.done.connect(lambda k=key: self.downloads.pop(k, None))
        self._show_downloading(key)

    def cancel_download(self) -> None:
        key = self._shown_key()
        task = self.downloads.get(key)
        if task is not None:
            task.cancel()
            self.cancel_button.setEnabled(False)
            self.info.setText(f"Cancelling the download of {title_of(self._wanted[0])}…")

    def _shown_key(self):
        return getattr(self._wanted[0], "key", None) if self._wanted is not None else None

    def _on_download_progress(self, key: str, fraction: float, text: str) -> None:
        self._download_progress[key] = (fraction, text)
        task = self.downloads.get(key)
        if key != self._shown_key() or task is None or task.cancel_requested:
            return
        self._set_progress(fraction)
        if text:
            self.info.setText(text)

    def _on_download_finished(self, key: str) -> None:
        self.downloads.pop(key, None)
        if key == self._shown_key():
            self._show(*self._wanted)

    def _on_download_failed(self, key: str, exc: BaseException) -> None:
        self.downloads.pop(key, None)
        if key != self._shown_key():
            return
        config = self._wanted[0]
        if isinstance(exc, DatasetCancelled):
            self._show_missing(config, note="The download was cancelled. ")
        else:
            self._show_missing(config)
            self._show_problem(str(exc) or type(exc).__name__, keep_download=True)

    # -- what is shown ----------------------------------------------------------------------
    def _set_state(self, state: str, text: str) -> None:
        self.state = state
        self.info.setText(text)
        # a line that asks for a click reads as text, the counts under thumbnails as a caption
        self.info.setStyleSheet("" if state in ("missing", "downloading") else "color: palette(mid);")
        self.problem.hide()
        downloading = state == "downloading"
        self.download_button.setVisible(state == "missing")
        self.progress.setVisible(downloading)
        self.cancel_button.setVisible(downloading)
        self.cancel_button.setEnabled(downloading)

    def _show_missing(self, config, note: str = "") -> None:
        spec = data_registry.DATASETS.get(config.key)
        size = f" ({spec.download_size})" if spec.download_size else ""
        self._set_state("missing", f"{note}{spec.title} is not downloaded yet{size}.")
        folder = self.data_dir or default_data_dir()
        self.download_button.setToolTip(f"Download {spec.title}{size} into {folder}")

    def _show_downloading(self, key: str) -> None:
        task = self.downloads[key]
        self._set_state("downloading", f"Downloading {title_of(self._wanted[0])}…")
        fraction, text = self._download_progress.get(key, (0.0, ""))
        self._set_progress(fraction)
        if text:
            self.info.setText(text)
        if task.cancel_requested:
            self.cancel_button.setEnabled(False)
            self.info.setText(f"Cancelling the download of {title_of(self._wanted[0])}…")

    def _set_progress(self, fraction: float) -> None:
        if fraction <= 0.0:
            self.progress.setRange(0, 0)        # busy until the first file is in
        else:
            self.progress.setRange(0, 100)
            self.progress.setValue(int(round(fraction * 100)))

    def _show_problem(self, text: str, keep_download: bool = False) -> None:
        if not keep_download:
            self._set_state("problem", f"{title_of(self._wanted[0])} cannot be shown.")
        else:
            self.state = "problem"
        self.problem.setText(text)
        self.problem.show()

    def _clear_grid(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()

    # -- ending -------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Cancel a preview being loaded and wait for its thread (hide, quit). A download
        goes on while the panel is hidden; quitting stops it (shutdown_all)."""
        self._pending = None
        loader = self.loader
        if loader is not None:
            loader.cancel()
            loader.wait(10_000)
            if self.data is None and self.state == "loading":
                self.clear()

    def shutdown_all(self) -> None:
        """Quitting: stop the preview and every download, and wait for their threads."""
        self.shutdown()
        for task in list(self.downloads.values()):
            task.cancel()
            task.wait(10_000)
