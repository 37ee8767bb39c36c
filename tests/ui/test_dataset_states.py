"""Issue #13, true states of the dataset preview: always the chosen set; "not downloaded
yet" with Download (progress, Cancel); failures in words; the status bar and the red
box follow. Real clicks on the combo and the buttons; no test touches the network
(torchvision's own MNIST download runs, only the transfer writes tiny IDX files)."""

from __future__ import annotations

import socket
import threading

import pytest

pytest.importorskip("torch")

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMainWindow

from tests.core.test_data_torchvision import IDX_FILES, write_fake_mnist
from tests.core.test_data_torchvision import fake_mnist_fetch as fake_fetch
from visionstudio.ui.shell.tasks import live_tasks

from .test_training_run import RUN_TIMEOUT_MS, make_controller, wait_done


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to use the network")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("VISIONSTUDIO_DATA_DIR", str(folder))   # what the app reads
    return folder


@pytest.fixture
def panel(qtbot, tmp_path, monkeypatch, data_dir):
    from visionstudio.ui.training.panel import TrainingPanel

    widget = TrainingPanel(make_controller(tmp_path, monkeypatch))
    qtbot.addWidget(widget)
    widget.resize(420, 900)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.training.shutdown()
    widget.preview.shutdown_all()
    qtbot.waitUntil(lambda: not live_tasks(), timeout=60_000)   # the device probe, too


def choose(qtbot, combo, key: str) -> None:
    """Open the combo's list with a click and click the item of ``key``."""
    qtbot.mouseClick(combo, Qt.MouseButton.LeftButton)
    view = combo.view()
    qtbot.waitUntil(view.isVisible, timeout=5_000)
    index = view.model().index(combo.findData(key), 0)
    view.scrollTo(index)
    qtbot.wait(QApplication.doubleClickInterval() + 50)   # a release sooner is the opening click's
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center())
    qtbot.waitUntil(lambda: not view.isVisible(), timeout=5_000)
    assert combo.currentData() == key


def thumbnails(preview) -> int:
    return preview.grid.count()


def test_mnist_not_downloaded_shows_a_download_button_not_the_old_thumbnails(qtbot, panel):
    preview = panel.preview
    qtbot.waitUntil(lambda: preview.state == "ready", timeout=60_000)
    assert thumbnails(preview) == 24 and "circle" in preview.info.text()
    choose(qtbot, panel.dataset_combo, "mnist")
    assert panel.controller.document.dataset.key == "mnist"
    assert preview.state == "missing" and thumbnails(preview) == 0 and preview.data is None
    assert preview.info.text() == "MNIST is not downloaded yet (about 12 MB)."
    assert preview.download_button.isVisible() and not preview.cancel_button.isVisible()
    assert not preview.problem.isVisible()


def test_a_late_result_of_the_previous_choice_is_dropped(qtbot, panel):
    preview = panel.preview
    assert preview.state == "loading"              # Shapes is on its way
    choose(qtbot, panel.dataset_combo, "mnist")     # before it arrives
    qtbot.waitUntil(lambda: preview.loader is None, timeout=60_000)
    qtbot.wait(50)
    assert preview.state == "missing" and thumbnails(preview) == 0 and preview.data is None


def test_download_shows_progress_then_the_mnist_preview(qtbot, panel, data_dir, monkeypatch):
    gates = {f + ".gz": threading.Event() for f in IDX_FILES}
    fake_fetch(monkeypatch, [], before=lambda name: gates[name].wait(30))
    preview = panel.preview
    choose(qtbot, panel.dataset_combo, "mnist")
    qtbot.mouseClick(preview.download_button, Qt.MouseButton.LeftButton)
    assert preview.state == "downloading"
    assert preview.progress.isVisible() and preview.cancel_button.isEnabled()
    assert not preview.download_button.isVisible()
    for i, name in enumerate(IDX_FILES):
        qtbot.waitUntil(lambda n=name: n in preview.info.text(), timeout=10_000)
        if i:
            assert preview.progress.value() == 25 * i
        else:
            assert preview.progress.maximum() == 0            # busy until the first file is in
        gates[name + ".gz"].set()
    qtbot.waitUntil(lambda: preview.state == "ready", timeout=60_000)
    assert thumbnails(preview) == 24 and preview.data["train"] == 12 and preview.data["val"] == 5
    assert "0 - zero" in preview.info.text()
    assert not preview.progress.isVisible() and not preview.cancel_button.isVisible()
    assert (data_dir / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").is_file()
    qtbot.waitUntil(lambda: not live_tasks(), timeout=10_000)


def test_cancel_stops_the_download_and_offers_it_again(qtbot, panel, data_dir, monkeypatch):
    gate = threading.Event()
    fetched = []
    fake_fetch(monkeypatch, fetched, before=lambda name: gate.wait(30))
    preview = panel.preview
    choose(qtbot, panel.dataset_combo, "mnist")
    qtbot.mouseClick(preview.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "train-images" in preview.info.text(), timeout=10_000)
    qtbot.mouseClick(preview.cancel_button, Qt.MouseButton.LeftButton)
    assert not preview.cancel_button.isEnabled() and "Cancelling" in preview.info.text()
    gate.set()                                      # the file being fetched ends; no next one
    qtbot.waitUntil(lambda: preview.state == "missing", timeout=10_000)
    assert preview.info.text() == "The download was cancelled. MNIST is not downloaded yet (about 12 MB)."
    assert preview.download_button.isVisible() and not preview.cancel_button.isVisible()
    assert fetched == ["train-images-idx3-ubyte.gz"] and not preview.downloads
    qtbot.waitUntil(lambda: not live_tasks(), timeout=10_000)


def test_a_download_goes_on_while_another_set_is_shown(qtbot, panel, monkeypatch):
    gate = threading.Event()
    fake_fetch(monkeypatch, [], before=lambda name: gate.wait(30))
    preview = panel.preview
    choose(qtbot, panel.dataset_combo, "mnist")
    qtbot.mouseClick(preview.download_button, Qt.MouseButton.LeftButton)
    choose(qtbot, panel.dataset_combo, "shapes")
    assert preview.state == "loading" and not preview.progress.isVisible()
    qtbot.waitUntil(lambda: preview.state == "ready", timeout=60_000)
    choose(qtbot, panel.dataset_combo, "mnist")
    assert preview.state == "downloading" and preview.cancel_button.isVisible()
    gate.set()
    qtbot.waitUntil(lambda: preview.state == "ready", timeout=60_000)
    assert "0 - zero" in preview.info.text()


def _window_with(panel):
    """A bare main window with the training integration (status bar, actions)."""
    from visionstudio.ui.training.integration import install

    window = QMainWindow()
    window.controller = panel.controller
    window.menus = {}
    window.setCentralWidget(panel)
    integration = install(window)
    failures = []
    integration.show_failure = lambda parent, failure: failures.append(failure)
    return window, integration, failures


def test_a_corrupt_set_is_a_problem_in_words_and_switching_back_clears_it(qtbot, panel, data_dir):
    raw = write_fake_mnist(data_dir, "MNIST")
    for name in IDX_FILES:
        (raw / name).write_bytes(b"not an IDX file")
    window, integration, failures = _window_with(panel)
    qtbot.addWidget(window)
    window.show()
    preview = panel.preview
    choose(qtbot, panel.dataset_combo, "mnist")
    assert preview.state == "loading" and preview.info.text() == "Loading MNIST…"
    qtbot.waitUntil(lambda: preview.state == "problem", timeout=60_000)
    assert preview.problem.isVisible() and "could not be read" in preview.problem.text()
    assert preview.info.text() == "MNIST cannot be shown." and thumbnails(preview) == 0
    # training on it fails with the dataset's words; the status bar says so, not "Loading dataset…"
    qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    assert integration.step_label.text() == "Loading dataset…"
    wait_done(qtbot, panel.training)
    assert failures and failures[-1].kind == "dataset"
    assert integration.step_label.text() == "Dataset problem"
    assert panel.message.isVisible() and "could not be read" in panel.message.text()
    # back to Shapes: the red box and the problem go, its own thumbnails come
    choose(qtbot, panel.dataset_combo, "shapes")
    assert not panel.message.isVisible() and not preview.problem.isVisible()
    qtbot.waitUntil(lambda: preview.state == "ready", timeout=RUN_TIMEOUT_MS)
    assert thumbnails(preview) == 24 and "circle" in preview.info.text()


def test_a_missing_folder_for_an_image_folder_set_is_shown_in_words(qtbot, panel, tmp_path):
    from visionstudio.core.project.commands import SetDatasetSettings

    preview = panel.preview
    panel.controller.push(SetDatasetSettings("image_folder", {"folder": str(tmp_path / "nowhere")}))
    qtbot.waitUntil(lambda: preview.state == "problem", timeout=60_000)
    assert preview.problem.isVisible() and "nowhere" in preview.problem.text()
    choose(qtbot, panel.dataset_combo, "shapes")
    assert not preview.problem.isVisible() and preview.state == "loading"


def test_a_choice_made_while_the_panel_is_hidden_shows_when_it_is_shown(qtbot, panel):
    from visionstudio.core.project.commands import SetDatasetSettings

    preview = panel.preview
    qtbot.waitUntil(lambda: preview.state == "ready", timeout=60_000)
    panel.hide()
    panel.controller.push(SetDatasetSettings("mnist", {}))
    assert preview.state == "idle" and thumbnails(preview) == 0      # no stale Shapes
    panel.show()
    assert preview.state == "missing" and preview.download_button.isVisible()
