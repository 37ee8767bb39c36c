"""Regenerate the screenshots in docs/screenshots/ (``make screenshots``).

The app draws its own window (``QWidget.grab``), so no screen is needed: this runs on
Qt's offscreen platform by default (``QT_QPA_PLATFORM=xcb`` under ``xvfb-run`` works
too). Settings and recovery files go to a temporary folder, never the user's.

    python docs/make_screenshots.py                      # every scene, light and dark
    python docs/make_screenshots.py welcome --theme dark # some of them
    QT_SCALE_FACTOR=2 python docs/make_screenshots.py --out /tmp/shots   # 200 % check

Scenes: welcome, editor-classic, editor-resnet. Screenshots of training and of the
feature maps come from the scripts of those features when they provide them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
os.environ.setdefault("VISIONSTUDIO_NO_RECOVERY_PROMPT", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SCENES = ("welcome", "editor-classic", "editor-resnet")
SIZE = (1440, 900)


def wait(app, seconds: float, until=None) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        if until is not None and until():
            break
        time.sleep(0.02)


def shoot(scene: str, theme: str, out: Path, tmp: Path, app) -> Path:
    from PySide6.QtCore import QSettings

    from visionstudio.app import create_main_window

    settings = QSettings(str(tmp / f"{scene}-{theme}.ini"), QSettings.Format.IniFormat)
    settings.setValue("view/theme", theme)
    settings.setValue("files/recent", [f"/home/you/projects/{n}" for n in
                                       ("digits.vsproj", "shapes-resnet.vsproj", "my_vgg.vsproj")])
    argv = []
    if scene == "editor-resnet":  # opened as a file: replacing the document is not shown here
        from visionstudio.core.templates import TEMPLATES

        argv = [str(next(t for t in TEMPLATES if t.key == "small_resnet").path)]
    window = create_main_window(argv, settings=settings, recovery_dir=tmp / "recovery",
                                optional_panels=True, welcome=(scene == "welcome"))
    window.resize(*SIZE)
    window.show()
    wait(app, 30, lambda: window._optional_added)
    wait(app, 1.5)
    window.frame_document()
    wait(app, 0.5)
    path = out / f"{scene}{'-dark' if theme == 'dark' else ''}.png"
    window.grab().save(str(path))
    window.controller.undo_stack.setClean()
    window.close()
    window.deleteLater()
    wait(app, 0.2)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenes", nargs="*", metavar="SCENE", help=f"some of: {', '.join(SCENES)}")
    parser.add_argument("--theme", choices=("light", "dark", "both"), default="both")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "screenshots")
    args = parser.parse_args(argv)
    unknown = [s for s in args.scenes if s not in SCENES]
    if unknown:
        parser.error(f"unknown scene(s) {', '.join(unknown)}; choose from {', '.join(SCENES)}")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["visionstudio"])
    app.setApplicationName("VisionStudio")
    app.setOrganizationName("VisionStudio")
    args.out.mkdir(parents=True, exist_ok=True)
    themes = ("light", "dark") if args.theme == "both" else (args.theme,)
    with tempfile.TemporaryDirectory() as tmp:
        for theme in themes:
            for scene in args.scenes or SCENES:
                print(shoot(scene, theme, args.out, Path(tmp), app), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
