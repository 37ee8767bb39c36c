"""The welcome page's *Start from a pretrained network*: cards, download, import.

A card names a torchvision architecture; its figures (parameters, download size, the
reference top-1 accuracy) come from torchvision's weights metadata, which needs torch.
Start-up never imports torch (see ``ui.shell.torch_loader``), so the figures appear at
once when torch is already loaded and otherwise on request (the *Show sizes and
accuracies* link). Clicking a card downloads the weights into torch's hub cache when
they are missing (progress bar and Cancel) and imports the network with them, both on a
background task; the section emits the :class:`ImportResult` and the controller opens
it as a new, unsaved project.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from visionstudio.ui.shell.tasks import BackgroundTask, one_line, run_task
from visionstudio.ui.shell.torch_loader import import_torch, torch_loaded

# The architectures offered (core.importers.pretrained.FEATURED, repeated here so the
# page can show them without importing torch; a test keeps the two equal).
FEATURED = ("mobilenet_v3_small", "squeezenet1_1", "resnet18", "mobilenet_v2", "efficientnet_b0",
            "regnet_y_400mf", "resnet50")
COLUMNS = 4


def catalogue(_state: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """Each architecture's recommended weights (plain data), on a worker thread."""
    import_torch()
    from visionstudio.core.importers.pretrained import find_weights

    return {name: find_weights(name) for name in names}


def fetch_and_import(state: Any, name: str, download: Callable[..., Any], import_fn: Callable[..., Any]):
    """The weights downloaded when missing, then the network imported with them."""
    import_torch()
    from visionstudio.core.importers.pretrained import find_weights

    entry = find_weights(name)
    if not entry.is_downloaded():
        def progress(done: int, total: int) -> None:
            fraction = done / total if total else 0.0
            size = f" of {total / 1e6:.1f} MB" if total else ""
            state.set_progress(fraction, f"Downloading {entry.title}: {done / 1e6:.1f}{size}")

        download(entry.url, progress=progress, cancel=lambda: state.cancelled)
    if state.cancelled:
        return None
    state.set_progress(1.0, f"Importing {name} with {entry.title}…")
    return import_fn(name, entry.name)


def _default_download(url: str, **kw: Any) -> Any:
    from visionstudio.core.importers.hub_download import download

    return download(url, **kw)


def _default_import(name: str, weights: str) -> Any:
    from visionstudio.core.importers.pretrained import import_pretrained

    return import_pretrained(name, weights)


class PretrainedCard(QToolButton):
    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.setObjectName(f"pretrainedCard_{name}")
        self.setAccessibleName(f"Start from a pretrained {name}")
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.setMinimumWidth(180)
        self.entry: Any = None
        self.show_facts(None)

    def show_facts(self, entry: Any) -> None:
        """``entry``: a ``PretrainedWeights``, or None while the figures are unknown."""
        self.entry = entry
        if entry is None:
            self.setText(f"{self.name}\n…\n")
            self.setToolTip(f"Download torchvision's pretrained {self.name} and open it as a project")
            return
        acc = (f"{entry.acc1:.1f} % top-1 on {entry.trained_on}" if entry.acc1 is not None
               else "no published accuracy")
        mark = "✓ downloaded" if entry.is_downloaded() else f"{entry.file_mb:.1f} MB download"
        self.setText(f"{self.name}\n{entry.num_params / 1e6:.1f} M parameters · {mark}\n{acc}")
        where = "in" if entry.is_downloaded() else "into"
        self.setToolTip(f"{entry.title}: weights {where} {entry.path}. "
                        f"Expects {entry.preprocessing.describe().split(': ', 1)[1]}.")


class PretrainedSection(QWidget):
    """Emits ``imported`` with the ImportResult of the card the user clicked."""

    imported = Signal(object)
    started = Signal(str)          # the architecture (the controller asks about unsaved work first)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pretrainedSection")
        self.download: Callable[..., Any] = _default_download   # tests put a fake here
        self.import_fn: Callable[..., Any] = _default_import
        self.may_start: Callable[[str], bool] = lambda name: True
        self.task: BackgroundTask | None = None
        self._details_task: BackgroundTask | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        head = QHBoxLayout()
        self.heading = QLabel("Start from a pretrained network", self)
        font = self.heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        font.setBold(True)
        self.heading.setFont(font)
        head.addWidget(self.heading)
        self.details_button = QPushButton("Show sizes and accuracies", self)
        self.details_button.setObjectName("pretrainedDetails")
        self.details_button.setFlat(True)
        self.details_button.setToolTip("Reads torchvision's weights metadata (loads PyTorch, a few seconds)")
        self.details_button.clicked.connect(self.fetch_details)
        head.addWidget(self.details_button)
        head.addStretch(1)
        layout.addLayout(head)
        grid = QGridLayout()
        grid.setSpacing(12)
        self.cards: dict[str, PretrainedCard] = {}
        for i, name in enumerate(FEATURED):
            card = PretrainedCard(name, self)
            card.clicked.connect(lambda _checked=False, n=name: self.start(n))
            grid.addWidget(card, i // COLUMNS, i % COLUMNS)
            self.cards[name] = card
        layout.addLayout(grid)
        layout.addLayout(self._build_progress())
        self.message = QLabel("", self)
        self.message.setObjectName("pretrainedMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        layout.addWidget(self.message)

    def _build_progress(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.progress = QProgressBar(self)
        self.progress.setObjectName("pretrainedProgress")
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("pretrainedCancel")
        self.cancel_button.clicked.connect(self.cancel)
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        self.progress.hide()
        self.cancel_button.hide()
        return row

    # -- figures --------------------------------------------------------------------------
    def load_details(self) -> None:
        """After the first paint: the figures at once when torchvision is already loaded
        (reading its enums then takes milliseconds), else on request."""
        if torch_loaded() and "torchvision" in sys.modules:
            self._show_details(catalogue(None, tuple(self.cards)))

    def fetch_details(self) -> None:
        if self._details_task is not None:
            return
        self.details_button.setEnabled(False)
        self.details_button.setText("Reading the weights' metadata…")
        self._details_task = run_task(catalogue, tuple(self.cards), name="visionstudio-pretrained-catalogue",
                                      parent=self, report_errors=False, on_finished=self._show_details,
                                      on_failed=self._details_failed)

    def _show_details(self, entries: dict[str, Any]) -> None:
        for name, entry in entries.items():
            self.cards[name].show_facts(entry)
        self.details_button.hide()

    def _details_failed(self, exc: BaseException) -> None:
        self._details_task = None
        self.details_button.setEnabled(True)
        self.details_button.setText("Show sizes and accuracies")
        self._say(f"The weights' metadata cannot be read ({one_line(exc)}).")

    # -- download and import ----------------------------------------------------------------
    def busy(self) -> bool:
        return self.task is not None and self.task.is_running()

    def start(self, name: str) -> bool:
        if self.busy() or not self.may_start(name):
            return False
        self.started.emit(name)
        self.message.hide()
        for card in self.cards.values():
            card.setEnabled(False)
        self.progress.setValue(0)
        self.progress.setFormat(f"Preparing {name}…")
        self.progress.show()
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self.task = run_task(fetch_and_import, name, self.download, self.import_fn,
                             name="visionstudio-pretrained-import", parent=self, report_errors=False,
                             on_progress=self._on_progress, on_finished=self._on_finished,
                             on_failed=self._on_failed)
        return True

    def cancel(self) -> None:
        if self.busy():
            self.task.cancel()
            self.cancel_button.setEnabled(False)
            self.progress.setFormat("Cancelling…")

    def _on_progress(self, fraction: float, text: str) -> None:
        self.progress.setFormat(text)
        self.progress.setValue(int(fraction * 1000))

    def _finish(self) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        for card in self.cards.values():
            card.setEnabled(True)
            if card.entry is not None:
                card.show_facts(card.entry)       # the downloaded mark

    def _on_finished(self, result: Any) -> None:
        self._finish()
        if result is None:
            self._say("The download was cancelled; nothing was kept.")
            return
        self.imported.emit(result)

    def _on_failed(self, exc: BaseException) -> None:
        self._finish()
        if isinstance(exc, ImportError):          # torch itself did not load
            self._say(f"PyTorch could not be loaded ({one_line(exc)}).")
            return
        # torch is loaded by now (the task imported it first)
        from visionstudio.core.importers.hub_download import DownloadCancelled, DownloadProblem
        from visionstudio.core.importers.result import ImportProblem

        if isinstance(exc, DownloadCancelled) or (self.task is not None and self.task.cancel_requested):
            self._say("The download was cancelled; nothing was kept.")
        elif isinstance(exc, (DownloadProblem, ImportProblem)):
            self._say(str(exc))
        else:
            self._say(f"The network could not be imported ({one_line(exc)}).")

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.show()
