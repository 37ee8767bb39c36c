"""File › New offers the welcome page's template cards; one click opens the template."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from .shell_helpers import make_window


def test_new_project_dialog_shows_the_welcome_cards(qtbot):
    from visionstudio.core.templates import TEMPLATES
    from visionstudio.ui.dialogs.new_project import NewProjectDialog
    from visionstudio.ui.welcome.cards import TemplateCard

    dialog = NewProjectDialog()
    qtbot.addWidget(dialog)
    assert dialog.keys() == [t.key for t in TEMPLATES] + [""]
    assert all(isinstance(card, TemplateCard) for card in dialog.cards.values())
    assert dialog.chosen_key() is None
    dialog.load_details()
    classic = dialog.cards["classic_cnn"]
    assert classic.params.text().endswith("parameters") and not classic.preview.pixmap().isNull()
    assert not dialog.cards[""].preview.pixmap().isNull()
    dialog.show()
    qtbot.waitExposed(dialog)
    qtbot.mouseClick(dialog.cards["small_resnet"], Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted and dialog.chosen_key() == "small_resnet"


def test_file_new_opens_the_clicked_card(qtbot, tmp_path, monkeypatch):
    from visionstudio.ui.dialogs.new_project import NewProjectDialog

    w = make_window(qtbot, tmp_path)
    del w.files.prompts.choose_template   # the real dialog, not the scripted answer
    seen = []

    def click_lenet(dialog):
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        seen.append(dialog.keys())
        qtbot.mouseClick(dialog.cards["lenet5"], Qt.MouseButton.LeftButton)
        return dialog.result()

    monkeypatch.setattr(NewProjectDialog, "exec", click_lenet)
    w.actions_by_name["new"].trigger()
    assert seen and "lenet5" in seen[0] and "" in seen[0]
    assert w.controller.document.name.lower().startswith("lenet")

    monkeypatch.setattr(NewProjectDialog, "exec", lambda dialog: QDialog.DialogCode.Rejected)
    w.actions_by_name["new"].trigger()   # cancelled: the document stays
    assert w.controller.document.name.lower().startswith("lenet")


def test_a_missing_template_file_is_reported_and_changes_nothing(qtbot, tmp_path, monkeypatch):
    from visionstudio.core import templates
    from visionstudio.ui.dialogs.new_project import NewProjectDialog

    w = make_window(qtbot, tmp_path)
    before = w.controller.document
    monkeypatch.setattr(templates, "templates_dir", lambda: tmp_path / "no-templates")
    w.answers.template = "lenet5"
    assert w.files.new() is False
    assert w.controller.document is before
    title, text = w.answers.errors[-1]
    assert title == "Template unavailable"
    assert "lenet5" in text and "no-templates" in text and templates.ENV_VAR in text
    # The New dialog still offers every card; a card whose file is missing shows no count.
    dialog = NewProjectDialog()
    qtbot.addWidget(dialog)
    dialog.load_details()
    assert dialog.cards["lenet5"].params.text() == ""
    assert not dialog.cards[""].preview.pixmap().isNull()
