"""The training panel's status line: four updates a second while a run trains, and none
of them may re-lay out the panel (a QLabel's setText did, ~1 ms of the GUI thread each)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QVBoxLayout, QWidget

from visionstudio.ui.training.status_line import StatusLine


class _LayoutRequests(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, _obj, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def _in_a_panel(qtbot, text="Ready"):
    panel = QWidget()
    qtbot.addWidget(panel)
    layout = QVBoxLayout(panel)
    line = StatusLine(text)
    layout.addWidget(line)
    layout.addStretch(1)
    panel.resize(700, 200)
    panel.show()
    qtbot.waitExposed(panel)
    return panel, line


def test_a_new_text_repaints_the_line_and_lays_out_nothing(qtbot, qapp):
    panel, line = _in_a_panel(qtbot)
    qapp.processEvents()
    requests = _LayoutRequests()
    panel.installEventFilter(requests)
    height = line.height()
    for i in range(20):
        line.setText(f"Epoch 1/3 · batch {i}/150 · loss {1 / (i + 1):.4f} · 2,000 img/s")
        qapp.processEvents()
    assert requests.count == 0
    assert line.height() == height
    assert line.text().startswith("Epoch 1/3 · batch 19/150")
    assert line.lines() == [line.text()]
    assert line.accessibleDescription() == line.text()


def test_a_long_text_wraps_to_two_lines_and_the_rest_is_elided(qtbot):
    _panel, line = _in_a_panel(qtbot)
    words = " ".join(f"word{i}" for i in range(80))
    line.setText(words)
    shown = line.lines()
    assert len(shown) == 2
    assert shown[0].startswith("word0 word1")
    assert shown[1].endswith("…") and "word79" not in shown[1]
    assert line.toolTip() == words                  # the whole text is still there
    line.setText("short")
    assert line.lines() == ["short"] and line.toolTip() == ""


def test_the_height_follows_the_font(qtbot, qapp):
    _panel, line = _in_a_panel(qtbot)
    before = line.height()
    font = QFont(line.font())
    font.setPointSizeF(font.pointSizeF() * 2)
    line.setFont(font)
    qapp.processEvents()
    assert line.height() > before
    assert line.height() == line.fontMetrics().lineSpacing() * 2 + 2


def test_the_training_panel_status_is_a_status_line(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    from visionstudio.ui.shell.controller import DocumentController
    from visionstudio.ui.training.panel import TrainingPanel

    panel = TrainingPanel(DocumentController())
    qtbot.addWidget(panel)
    assert isinstance(panel.status_label, StatusLine)
    assert panel.status_label.text() == "Ready: press Train (F5)."
    panel._on_training_progress("Loading the dataset", 0.5)
    assert panel.status_label.text() == "Loading the dataset 50%"
