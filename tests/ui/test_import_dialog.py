"""File › Import Model…: a torchvision architecture imported on a worker, saved as a project
with its weights beside it and opened; a .py file runs only after the user agreed, naming
the file."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from visionstudio.ui.dialogs.import_model import ImportModelDialog

from .shell_helpers import make_window


def test_file_menu_imports_a_torchvision_architecture_as_a_new_project(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    action = window.actions_by_name["import_model"]
    assert action in window.menus["file"].actions()
    dialog = window.extras.show_import_model()
    assert dialog is not None and window.answers.asked == []      # nothing unsaved to ask about
    dialog.names.setCurrentText("squeezenet1_1")
    window.answers.save_path = str(tmp_path / "squeeze.vsproj")   # the import is saved at once
    with qtbot.waitSignal(dialog.imported, timeout=120_000):
        dialog.import_button.click()
    doc = window.controller.document
    assert doc.name == "squeezenet1_1" and window.controller.path == tmp_path / "squeeze.vsproj"
    assert "fire" in doc.graph.blocks
    assert window.controller.analysis.ok
    assert "features_0.weight" in dialog.result_value.weights
    # its weights lie beside it, named by the project: a fresh run starts from them
    assert doc.initial_weights == "squeeze.weights.safetensors"
    assert (tmp_path / doc.initial_weights).is_file() and not window.isWindowModified()


def test_an_import_whose_save_is_cancelled_opens_nothing(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    before = window.controller.document
    dialog = window.extras.show_import_model()
    dialog.names.setCurrentText("squeezenet1_1")
    with qtbot.waitSignal(dialog.imported, timeout=120_000):
        dialog.import_button.click()                  # the save dialog answers "" (cancel)
    assert window.answers.asked[-1] == "save_path"
    assert window.controller.document is before and list(tmp_path.glob("*.safetensors")) == []
    assert "needs a project file for its weights" in window.statusBar().currentMessage()


def test_a_python_file_is_run_only_after_the_user_agrees(qtbot, tmp_path):
    marker = tmp_path / "ran.txt"
    module = tmp_path / "net.py"
    module.write_text(f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
                      "import torch\nfrom torch import nn\nINPUT_SHAPE = (1, 6, 6)\n\n\n"
                      "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                      "        self.conv = nn.Conv2d(1, 2, 3)\n\n"
                      "    def forward(self, x):\n        return torch.relu(self.conv(x))\n")
    asked: list[str] = []
    answer = {"value": False}

    def confirm(parent, path):
        asked.append(path)
        return answer["value"]

    dialog = ImportModelDialog(names=["alexnet"], confirm=confirm)
    qtbot.addWidget(dialog)
    dialog.by_file.setChecked(True)
    dialog.path.setText(str(module))
    dialog.class_name.setText("Net")
    dialog.import_button.click()
    QApplication.processEvents()
    assert asked == [str(module)] and not marker.exists()
    assert dialog.task is None and "Nothing was run" in dialog.message.text()
    answer["value"] = True
    with qtbot.waitSignal(dialog.imported, timeout=60_000):
        dialog.import_button.click()
    assert marker.exists()
    assert [n.kind for n in dialog.result_value.document.graph.nodes.values()] == ["input", "conv2d", "relu"]


def test_a_problem_is_shown_in_the_dialog(qtbot):
    dialog = ImportModelDialog(names=["nonet"], confirm=lambda parent, path: True)
    qtbot.addWidget(dialog)
    dialog.import_button.click()
    qtbot.waitUntil(lambda: dialog.import_button.isEnabled(), timeout=60_000)
    assert "no classification model named 'nonet'" in dialog.message.text()
