"""First-run experience and look: welcome page, one-click training, About, shortcut
sheet, themes, icons and tooltips."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt, qVersion
from PySide6.QtGui import QAction, QKeySequence, QPalette
from PySide6.QtWidgets import QApplication

from .shell_helpers import ini_settings, make_window

NATIVE = QKeySequence.SequenceFormat.NativeText


def welcome_window(qtbot, tmp_path, **kw):
    from visionstudio.app import create_main_window

    from .shell_helpers import Answers

    w = create_main_window([], settings=kw.pop("settings", None) or ini_settings(tmp_path),
                           recovery_dir=tmp_path / "recovery", optional_panels=False, welcome=True,
                           **kw)
    answers = Answers()
    answers.install(w)
    w.answers = answers
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_welcome_card_opens_the_template_in_the_editor(qtbot, tmp_path):
    w = welcome_window(qtbot, tmp_path)
    page = w.welcome.page
    assert page.isVisible() and w.actions_by_name["welcome"].isChecked()
    assert set(page.cards) >= {"classic_cnn", "lenet5", "small_resnet", ""}
    qtbot.waitUntil(lambda: page.cards["lenet5"].params.text() != "", timeout=5000)
    assert page.cards["lenet5"].params.text() == "61,706 parameters"
    assert not page.cards["lenet5"].preview.pixmap().isNull()
    # The page covers the panels, below the toolbar and above the status bar.
    assert page.geometry().top() >= w.toolbar.geometry().bottom()
    qtbot.mouseClick(page.cards["lenet5"], Qt.MouseButton.LeftButton)
    assert not page.isVisible() and not w.actions_by_name["welcome"].isChecked()
    assert w.controller.document.name == "LeNet-5"
    assert w.controller.analysis.total_params == 61_706
    assert "61,706 parameters" in w.summary.totals.text()
    assert len(w.canvas.graph_scene.node_items()) == len(w.controller.graph.nodes)
    # View > Welcome Page brings it back; "Go to the editor" hides it again.
    w.actions_by_name["welcome"].trigger()
    assert page.isVisible()
    qtbot.mouseClick(page.editor_button, Qt.MouseButton.LeftButton)
    assert not page.isVisible()
    w.show_welcome()
    qtbot.keyClick(page.train_button, Qt.Key.Key_Escape)
    assert not page.isVisible()


def test_one_click_training_triggers_the_train_action(qtbot, tmp_path):
    w = welcome_window(qtbot, tmp_path)
    w.files.new_from_template("small_resnet", ask=False)
    train = QAction("&Train", w)
    train.setObjectName("action_train")
    train.setShortcut(QKeySequence("F5"))
    fired = []
    train.triggered.connect(lambda: fired.append(w.controller.document.name))
    w.extras.refresh()  # what the window does once the training integration installed
    assert "start training" in w.welcome.page.train_button.toolTip()
    qtbot.mouseClick(w.welcome.page.train_button, Qt.MouseButton.LeftButton)
    assert fired == ["Classic CNN"]
    assert w.controller.analysis.total_params == 121_930
    assert w.controller.document.dataset.key == "shapes"
    assert not w.welcome.page.isVisible()


def test_one_click_training_before_the_training_panel_loaded(qtbot, tmp_path):
    w = welcome_window(qtbot, tmp_path)   # the later-feature panels are not added yet
    assert "start training" in w.welcome.page.train_button.toolTip()
    assert w.welcome.train_classic() is True
    assert w.controller.document.name == "Classic CNN" and not w.welcome.page.isVisible()
    train = QAction("&Train", w)
    train.setObjectName("action_train")
    fired = []
    train.triggered.connect(lambda: fired.append(True))
    w.extras.refresh()   # add_later_docks ends with this
    assert fired == [True]
    w.extras.refresh()
    assert fired == [True]   # once


def test_recent_project_opens_from_the_welcome_page(qtbot, tmp_path):
    from visionstudio.core.project import save_project
    from visionstudio.core.templates import load_template

    path = tmp_path / "mine.vsproj"
    save_project(load_template("small_vgg"), path)
    settings = ini_settings(tmp_path)
    settings.setValue("files/recent", [str(path)])
    w = welcome_window(qtbot, tmp_path, settings=settings)
    recent = w.welcome.page.recent
    assert recent.item(0).data(Qt.ItemDataRole.UserRole) == str(path)
    recent.itemActivated.emit(recent.item(0))
    assert w.controller.path == path.resolve() and not w.welcome.page.isVisible()


def test_show_at_start_setting_and_project_argument_skip(qtbot, tmp_path):
    from visionstudio.ui.welcome.controller import show_at_start

    settings = ini_settings(tmp_path)
    w = welcome_window(qtbot, tmp_path, settings=settings)
    assert show_at_start(settings) and w.welcome.page.show_check.isChecked()
    w.actions_by_name["welcome_at_start"].setChecked(False)
    assert not show_at_start(settings) and not w.welcome.page.show_check.isChecked()
    w.welcome.page.show_check.setChecked(True)
    assert show_at_start(settings) and w.actions_by_name["welcome_at_start"].isChecked()
    # The default path of create_main_window (a project given, or tests) shows no page.
    plain = make_window(qtbot, tmp_path)
    assert plain.welcome.page.isHidden()


def test_about_shows_versions_and_copies_them(qtbot, tmp_path):
    import torch

    import visionstudio
    from visionstudio.ui.dialogs.about import AboutDialog

    w = make_window(qtbot, tmp_path)
    dialog = AboutDialog(w)
    qtbot.addWidget(dialog)
    values = dict(dialog.rows)
    assert values["VisionStudio"] == visionstudio.__version__
    assert values["PyTorch"] == str(torch.__version__)
    assert values["Qt"] == qVersion()
    assert {"CUDA", "Apple MPS", "PySide6", "pyqtgraph", "Python"} <= set(values)
    assert dialog.table.topLevelItemCount() == len(dialog.rows)
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    text = QApplication.clipboard().text()
    assert visionstudio.__version__ in text and str(torch.__version__) in text and qVersion() in text
    # Help > About opens it
    w.actions_by_name["about"].trigger()
    qtbot.waitUntil(lambda: any(d.isVisible() for d in w.findChildren(AboutDialog)), timeout=5000)
    for d in w.findChildren(AboutDialog):
        d.close()


def test_shortcut_sheet_lists_every_shortcut_and_filters(qtbot, tmp_path):
    from visionstudio.ui.dialogs.shortcuts import ShortcutsDialog

    w = make_window(qtbot, tmp_path)
    dialog = ShortcutsDialog(w)
    qtbot.addWidget(dialog)
    rows = {name: keys for name, keys, _tip in dialog.rows()}
    save_key = QKeySequence(QKeySequence.StandardKey.Save).toString(NATIVE)
    assert save_key in rows["Save"]
    assert "Undo" in rows and "Keyboard Shortcuts" in rows
    dialog.search.setText("save")
    shown = {name for name, _k, _t in dialog.rows()}
    assert shown and all("save" in (n + rows[n]).lower() or n.startswith("Save") for n in shown)
    assert "Undo" not in shown
    dialog.search.setText("")
    assert len(dialog.rows()) == len(rows)


def test_every_action_has_a_tooltip_with_its_shortcut(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path)
    for action in w.findChildren(QAction):
        if not action.text() or action.isSeparator():
            continue
        assert action.statusTip(), action.objectName() or action.text()
        keys = [s.toString(NATIVE) for s in action.shortcuts()]
        if keys:
            assert action.toolTip().endswith(f"({keys[0]})"), (action.objectName(), action.toolTip())
    save_keys = QKeySequence(QKeySequence.StandardKey.Save).toString(NATIVE)
    assert w.actions_by_name["save"].toolTip() == f"Save the project ({save_keys})"
    for button_action in w.toolbar.actions():
        if not button_action.isSeparator():
            assert button_action.toolTip()
    from PySide6.QtWidgets import QAbstractButton, QDockWidget

    for dock in w.findChildren(QDockWidget):
        for button in dock.findChildren(QAbstractButton):
            if button.objectName() in ("qt_dockwidget_closebutton", "qt_dockwidget_floatbutton"):
                assert dock.windowTitle().lower() in button.toolTip()


def test_toolbar_actions_have_svg_icons(qtbot, tmp_path):
    from visionstudio.ui.shell.icons import icon_file

    w = make_window(qtbot, tmp_path)
    for name in ("new", "open", "save", "undo", "redo", "zoom_in", "zoom_out", "fit", "auto_layout",
                 "train", "pause", "stop", "export"):
        assert icon_file(name) is not None, name
    for name in ("new", "open", "save", "undo", "redo", "zoom_in", "zoom_out", "fit", "auto_layout"):
        icon = w.actions_by_name[name].icon()
        sizes = icon.availableSizes()
        assert sizes and max(s.width() for s in sizes) >= 48, name  # sharp at 200 %


@pytest.fixture
def restore_look():
    app = QApplication.instance()
    style, palette = app.style().name(), QPalette(app.palette())
    yield
    from PySide6.QtWidgets import QStyleFactory

    app.setStyle(QStyleFactory.create(style))
    app.setPalette(palette)


def test_dark_theme_changes_the_palette_and_the_plots(qtbot, tmp_path, restore_look):
    import pyqtgraph as pg

    from visionstudio.ui.shell.theme import PLOT_COLORS, THEME_KEY

    settings = ini_settings(tmp_path)
    w = make_window(qtbot, tmp_path, settings=settings)
    plot = pg.PlotWidget(w)
    plot.setObjectName("somePlot")
    w.actions_by_name["theme_dark"].trigger()
    assert settings.value(THEME_KEY) == "dark" and w.extras.theme.dark
    window_color = QApplication.palette().color(QPalette.ColorRole.Window)
    assert window_color.lightness() < 100
    assert QApplication.style().name().lower() == "fusion"
    dark_bg = PLOT_COLORS["dark"][0]
    assert plot.backgroundBrush().color().name() == dark_bg
    assert pg.getConfigOption("background") == dark_bg
    # icons are redrawn in the light text colour of the dark theme
    image = w.actions_by_name["save"].icon().pixmap(48, 48).toImage()
    lightest = max(image.pixelColor(x, y).lightness() for x in range(0, 48, 2) for y in range(0, 48, 2)
                   if image.pixelColor(x, y).alpha() > 200)
    assert lightest > 180
    w.actions_by_name["theme_light"].trigger()
    assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() > 200
    assert plot.backgroundBrush().color().name() == PLOT_COLORS["light"][0]
    # The choice is remembered: a new window starts dark.
    settings.setValue(THEME_KEY, "dark")
    again = make_window(qtbot, tmp_path, settings=QSettings(settings.fileName(), QSettings.Format.IniFormat))
    assert again.actions_by_name["theme_dark"].isChecked()
    assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 100


def test_choosing_the_start_up_template_keeps_the_open_document(qtbot, tmp_path):
    w = welcome_window(qtbot, tmp_path)
    doc = w.controller.document
    qtbot.mouseClick(w.welcome.page.cards["classic_cnn"], Qt.MouseButton.LeftButton)
    assert w.controller.document is doc and not w.welcome.page.isVisible()
    w.files.new_from_template("lenet5", ask=False)
    w.show_welcome()
    qtbot.mouseClick(w.welcome.page.cards["classic_cnn"], Qt.MouseButton.LeftButton)
    assert w.controller.document is not doc and w.controller.document.name == "Classic CNN"


def test_system_theme_follows_the_desktop_colour_scheme(qtbot, tmp_path, restore_look, monkeypatch):
    from visionstudio.ui.shell import theme

    w = make_window(qtbot, tmp_path)
    assert w.extras.theme.mode == "system" and w.actions_by_name["theme_system"].isChecked()
    monkeypatch.setattr(theme, "system_is_dark", lambda: True)
    w.extras.theme._on_system_changed(Qt.ColorScheme.Dark)   # what colorSchemeChanged calls
    assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 100
    monkeypatch.setattr(theme, "system_is_dark", lambda: False)
    w.extras.theme._on_system_changed(Qt.ColorScheme.Light)
    assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() > 200
    w.extras.theme.set_mode("light")
    monkeypatch.setattr(theme, "system_is_dark", lambda: True)
    w.extras.theme._on_system_changed(Qt.ColorScheme.Dark)   # a forced theme ignores it
    assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() > 200


def test_about_names_the_cuda_devices(monkeypatch):
    import torch

    from visionstudio.ui.dialogs.about import torch_info

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: f"Fake GPU {i}")
    rows = dict(torch_info())
    assert rows["CUDA"].startswith("available") and "Fake GPU 0, Fake GPU 1" in rows["CUDA"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert dict(torch_info())["CUDA"].startswith("not available")


def _best_contrast(image, background) -> float:
    """The highest WCAG contrast of any (nearly) opaque pixel of ``image`` composited
    on ``background``: the drawn strokes' core."""
    from PySide6.QtGui import QColor

    from visionstudio.ui.shell.theme import contrast

    best = 1.0
    for y in range(image.height()):
        for x in range(image.width()):
            pixel = image.pixelColor(x, y)
            a = pixel.alphaF()
            if a < 0.9:
                continue
            mixed = QColor.fromRgbF(pixel.redF() * a + background.redF() * (1 - a),
                                    pixel.greenF() * a + background.greenF() * (1 - a),
                                    pixel.blueF() * a + background.blueF() * (1 - a))
            best = max(best, contrast(mixed, background))
    return best


@pytest.mark.parametrize("mode", ["dark", "light"])
def test_disabled_icons_and_check_boxes_keep_3_to_1_contrast(qtbot, tmp_path, restore_look, mode):
    """Issue #13: on the dark theme disabled toolbar icons and the run list's check
    boxes were hard to see. Measured on rendered pixels against the palette."""
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QListWidget, QListWidgetItem

    w = make_window(qtbot, tmp_path)
    w.actions_by_name[f"theme_{mode}"].trigger()
    palette = QApplication.palette()
    window_bg = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Window)
    undo = w.actions_by_name["undo"]
    assert not undo.isEnabled()  # nothing to undo yet: drawn disabled in the toolbar
    for name in ("undo", "redo", "save", "fit"):
        icon = w.actions_by_name[name].icon()
        image = icon.pixmap(24, 24, QIcon.Mode.Disabled).toImage()
        assert _best_contrast(image, window_bg) >= 3.0, (mode, name)
        enabled = _best_contrast(icon.pixmap(24, 24).toImage(), window_bg)
        assert enabled > _best_contrast(image, window_bg)  # disabled still looks disabled
    listing = QListWidget()
    qtbot.addWidget(listing)
    for text, on, usable in (("run 1", True, True), ("run 2", False, True), ("run 3", False, False)):
        item = QListWidgetItem(text, listing)
        flags = item.flags() | Qt.ItemFlag.ItemIsUserCheckable
        item.setFlags(flags if usable else flags & ~Qt.ItemFlag.ItemIsEnabled)
        item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
    listing.resize(200, 90)
    listing.show()
    qtbot.waitExposed(listing)
    base = palette.color(QPalette.ColorRole.Base)
    for row in range(3):
        rect = listing.visualItemRect(listing.item(row))
        check = listing.viewport().grab(rect.adjusted(0, 0, -(rect.width() - rect.height() - 4), 0)).toImage()
        assert _best_contrast(check, base) >= 3.0, (mode, row)


def test_template_cards_fill_in_one_per_event_loop_turn(qtbot, tmp_path, monkeypatch):
    """Each card's file, analysis and preview run in a turn of their own, so a click on
    the page waits for one card at most, never for the whole set."""
    from visionstudio.ui.welcome import page as page_module

    w = welcome_window(qtbot, tmp_path)
    page = w.welcome.page
    qtbot.waitUntil(lambda: all(c.params.text() or not key for key, c in page.cards.items()), timeout=10000)
    filled: list[str] = []
    real = page_module.fill_card_detail
    monkeypatch.setattr(page_module, "fill_card_detail",
                        lambda key, card, palette: (filled.append(key), real(key, card, palette)))
    page.restyle()                      # a theme change fills every card again
    assert len(filled) == 1             # the first now, the rest on later turns
    qtbot.waitUntil(lambda: len(filled) >= len(page.cards), timeout=30000)
    qtbot.wait(50)                      # a round still going would add more
    assert filled == list(page.cards)


def test_a_restyle_in_the_middle_of_filling_starts_one_new_round(qtbot, tmp_path, monkeypatch):
    """A theme change while the cards are still filling: the old round stops, so every
    card is drawn once more in the new colours, not twice."""
    from visionstudio.ui.welcome import page as page_module

    w = welcome_window(qtbot, tmp_path)
    page = w.welcome.page
    qtbot.waitUntil(lambda: all(c.params.text() or not key for key, c in page.cards.items()), timeout=10000)
    qtbot.wait(50)                      # the first round's last turn (the pretrained list)
    filled: list[str] = []
    real = page_module.fill_card_detail
    monkeypatch.setattr(page_module, "fill_card_detail",
                        lambda key, card, palette: (filled.append(key), real(key, card, palette)))
    page.restyle()                      # the first card now, its next turn queued
    page.restyle()                      # before that turn comes: the old round stops
    qtbot.waitUntil(lambda: len(filled) >= 1 + len(page.cards), timeout=30000)
    qtbot.wait(50)                      # a round still going would add more
    first = next(iter(page.cards))
    assert filled == [first, *page.cards]
