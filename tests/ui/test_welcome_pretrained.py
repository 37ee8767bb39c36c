"""The welcome page's *Start from a pretrained network*: cards with torchvision's figures,
a click that downloads (a fake downloader writing a real weights file into a temporary
hub cache) and imports, Cancel, and the offline message. Nothing touches the network."""

from __future__ import annotations

import threading

import pytest
import torch
import torchvision
from PySide6.QtCore import Qt

from visionstudio.core.importers import pretrained as core_pretrained
from visionstudio.core.importers.hub_download import DownloadCancelled, DownloadProblem, manual_message
from visionstudio.ui.welcome import pretrained as ui_pretrained

from .shell_helpers import ini_settings

ARCH = "squeezenet1_1"


@pytest.fixture(autouse=True)
def hub(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    return tmp_path / "hub" / "checkpoints"


def welcome_window(qtbot, tmp_path):
    from visionstudio.app import create_main_window

    from .shell_helpers import Answers

    w = create_main_window([], settings=ini_settings(tmp_path), recovery_dir=tmp_path / "recovery",
                           optional_panels=False, welcome=True)
    w.answers = Answers()
    w.answers.install(w)
    w.answers.save_path = str(tmp_path / "pretrained.vsproj")   # where an import is saved
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def weights_file_writer(calls: list):
    """A downloader that writes a real state dict where torch.hub would, in three chunks."""
    def download(url, progress=None, cancel=None):
        path = core_pretrained.find_weights(ARCH).path
        assert url.endswith(path.name)
        for done in (0, 50, 100):
            progress(done, 100)
            calls.append(done)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(3)
        torch.save(torchvision.models.get_model(ARCH, weights=None).state_dict(), path)
        return path
    return download


def test_the_page_offers_the_cores_featured_architectures():
    assert ui_pretrained.FEATURED == core_pretrained.FEATURED


def test_cards_show_torchvisions_figures_and_the_downloaded_mark(qtbot, tmp_path, hub):
    w = welcome_window(qtbot, tmp_path)
    section = w.welcome.page.pretrained
    assert section.isVisible() and section.heading.text() == "Start from a pretrained network"
    (hub).mkdir(parents=True)
    (hub / "resnet18-f37072fd.pth").write_bytes(b"placed by hand")
    section.fetch_details()
    qtbot.waitUntil(lambda: section.cards["resnet50"].entry is not None, timeout=20_000)
    assert section.cards["resnet50"].text() == ("resnet50\n25.6 M parameters · 97.8 MB download\n"
                                               "80.9 % top-1 on ImageNet-1K")
    assert "✓ downloaded" in section.cards["resnet18"].text()
    assert "resize 256, centre crop 224" in section.cards["resnet18"].toolTip()
    assert not section.details_button.isVisible()


def test_a_click_downloads_imports_saves_and_opens_the_project(qtbot, tmp_path, hub):
    w = welcome_window(qtbot, tmp_path)
    section = w.welcome.page.pretrained
    calls: list[int] = []
    section.download = weights_file_writer(calls)
    seen: list[str] = []
    shown = section._on_progress
    section._on_progress = lambda fraction, text: (seen.append(text), shown(fraction, text))
    with qtbot.waitSignal(section.imported, timeout=60_000):
        qtbot.mouseClick(section.cards[ARCH], Qt.MouseButton.LeftButton)
    assert calls == [0, 50, 100] and (hub / "squeezenet1_1-b8a52dc0.pth").is_file()
    assert seen and seen[-1] == "Importing squeezenet1_1 with SqueezeNet1_1_Weights.IMAGENET1K_V1…"
    doc = w.controller.document
    assert doc.name == "squeezenet1_1 (IMAGENET1K_V1)" and w.controller.path == tmp_path / "pretrained.vsproj"
    assert (tmp_path / doc.initial_weights).is_file()   # fine-tuning starts from the weights
    assert doc.dataset.preprocessing.source == "SqueezeNet1_1_Weights.IMAGENET1K_V1"
    assert not w.welcome.page.isVisible() and not section.progress.isVisible()
    assert w.controller.analysis.total_params == 1_235_496
    # the downloaded file is used the next time: the fake is not called again
    section.download = lambda *a, **k: pytest.fail("downloaded twice")
    with qtbot.waitSignal(section.imported, timeout=60_000):
        section.start(ARCH)


def test_cancel_keeps_nothing_and_offline_names_the_folder(qtbot, tmp_path, hub):
    w = welcome_window(qtbot, tmp_path)
    section = w.welcome.page.pretrained
    name_before = w.controller.document.name
    begun = threading.Event()

    def waits_for_cancel(url, progress=None, cancel=None):
        progress(10, 100)
        begun.set()
        while not cancel():
            threading.Event().wait(0.01)
        raise DownloadCancelled()

    section.download = waits_for_cancel
    assert section.start(ARCH)
    assert not section.start("resnet18")                 # one at a time
    qtbot.waitUntil(begun.is_set, timeout=20_000)
    qtbot.mouseClick(section.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not section.busy(), timeout=20_000)
    assert section.message.text() == "The download was cancelled; nothing was kept."
    assert w.controller.document.name == name_before and not hub.exists()

    def offline(url, progress=None, cancel=None):
        raise DownloadProblem(manual_message(url, "squeezenet1_1-b8a52dc0.pth could not be downloaded."))

    section.download = offline
    section.start(ARCH)
    qtbot.waitUntil(lambda: not section.busy(), timeout=20_000)
    assert str(hub) in section.message.text() and "squeezenet1_1-b8a52dc0.pth" in section.message.text()
    assert all(card.isEnabled() for card in section.cards.values())


def test_the_training_panel_shows_the_weights_preprocessing(qtbot, tmp_path, monkeypatch):
    import dataclasses

    from visionstudio.ui.training.panel import TrainingPanel

    from .test_training_run import make_controller

    controller = make_controller(tmp_path, monkeypatch)
    panel = TrainingPanel(controller)
    qtbot.addWidget(panel)
    label = panel.dataset_box.preprocessing
    assert label.isHidden()
    pre = core_pretrained.find_weights("resnet18").preprocessing
    doc = controller.document
    doc.set_dataset(dataclasses.replace(doc.dataset, preprocessing=pre))
    assert not label.isHidden()
    assert label.text().startswith("Preprocessing from ResNet18_Weights.IMAGENET1K_V1: resize 256, "
                                   "centre crop 224")
