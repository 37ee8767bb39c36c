"""Helpers for the application-shell tests: a main window whose dialogs answer themselves."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings


class Answers:
    """Scripted answers to every question the window may ask, and a record of errors."""

    def __init__(self) -> None:
        self.unsaved = "discard"
        self.save_path = ""
        self.open_path = ""
        self.template: str | None = ""
        self.recover = "recover"
        self.errors: list[tuple[str, str]] = []
        self.asked: list[str] = []

    def install(self, window) -> None:
        p = window.files.prompts
        p.unsaved = lambda parent, name: self._ask("unsaved", self.unsaved)
        p.save_path = lambda parent, suggested: self._ask("save_path", self.save_path)
        p.open_path = lambda parent, directory: self._ask("open_path", self.open_path)
        p.choose_template = lambda parent: self._ask("template", self.template)
        p.error = lambda parent, title, text: self.errors.append((title, text))
        window.ask_recover = lambda title, saved_at, parent: self._ask("recover", self.recover)

    def _ask(self, what: str, answer):
        self.asked.append(what)
        return answer


def ini_settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def make_window(qtbot, tmp_path: Path, argv: list[str] | None = None, *, answers: Answers | None = None,
                settings: QSettings | None = None, show: bool = False, panels: bool = False):
    """create_main_window with isolated settings and recovery dir; dialogs answered.
    ``panels`` adds the later-feature docks (training, plots, feature maps: slow)."""
    from visionstudio.app import create_main_window

    window = create_main_window(list(argv or []), settings=settings or ini_settings(tmp_path),
                                recovery_dir=tmp_path / "recovery", optional_panels=panels)
    answers = answers or Answers()
    answers.install(window)
    window.answers = answers
    qtbot.addWidget(window)
    if show:
        window.show()
        qtbot.waitExposed(window)
    return window
