"""Regenerate the screenshots in docs/screenshots/ (``make screenshots``).

The app draws its own window (``QWidget.grab``), so no screen is needed: this runs on
Qt's offscreen platform by default (``QT_QPA_PLATFORM=xcb`` under ``xvfb-run`` works
too). Settings and recovery files go to a temporary folder, never the user's.

    python docs/make_screenshots.py                      # every scene, light and dark
    python docs/make_screenshots.py welcome --theme dark # some of them
    QT_SCALE_FACTOR=2 python docs/make_screenshots.py --out /tmp/shots   # 200 % check

Scenes: welcome, editor-classic, editor-resnet, training (a short run of the classic
CNN on a small Shapes set, the Metrics panel showing its curves) and features (the
feature-map viewer on a classic CNN trained for 4 short epochs, all conv layers).
These two train for a few seconds on the CPU; their runs go to the temporary folder.
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

SCENES = ("welcome", "editor-classic", "editor-resnet", "training", "features")
SIZE = (1440, 900)


def wait(app, seconds: float, until=None) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        if until is not None and until():
            break
        time.sleep(0.02)


def train_in_window(window, app) -> None:
    """A short run of the window's project (Shapes, 5 epochs), the Metrics panel in front."""
    from PySide6.QtCore import Qt

    from visionstudio.core.project.commands import SetDatasetSettings, SetTrainingSettings
    from visionstudio.ui.training.run_controller import runs_for

    controller = window.controller
    controller.push(SetDatasetSettings("shapes", {"samples": 1500, "val_samples": 200}))
    controller.push(SetTrainingSettings({"epochs": 5, "batch_size": 32, "device": "cpu",
                                         "optimizer": {"key": "adam", "params": {"lr": 3e-3}}}))
    metrics, summary = window.docks.get("metricsPlots"), window.docks.get("summary")
    if metrics is not None:
        if summary is not None:
            window.tabifyDockWidget(summary, metrics)
        metrics.show()
        metrics.raise_()
        window.resizeDocks([metrics], [420], Qt.Orientation.Vertical)
    training = window.docks.get("trainingPanel")
    if training is not None:
        if window.docks.get("history") is not None:
            window.docks["history"].hide()
        training.show()
        training.raise_()
        window.resizeDocks([window.docks["inspector"], training], [110, 600], Qt.Orientation.Vertical)
    session = runs_for(controller)
    done = []
    session.finished.connect(done.append)
    session.failed.connect(done.append)
    if not session.train():
        raise RuntimeError("training did not start")
    wait(app, 300, lambda: bool(done) and not session.busy)
    if not done:
        session.shutdown()
        raise RuntimeError("training did not finish in 300 s")
    wait(app, 1.0)


def shoot_features(theme: str, out: Path, tmp: Path, app) -> Path:
    """The feature-map viewer alone, on the classic CNN trained for 4 short epochs."""
    from PySide6.QtCore import QSettings

    from visionstudio.ui.features.demo import open_viewer, train_demo
    from visionstudio.ui.features.feature_map_view import ALL_CONV
    from visionstudio.ui.shell.theme import ThemeManager

    global _FEATURES_DEMO
    if _FEATURES_DEMO is None:   # trained once, shown in both themes
        _FEATURES_DEMO = train_demo("classic_cnn", epochs=4, samples=2000, val_samples=300,
                                    sample_index=SAMPLE)
    controller, view = open_viewer(_FEATURES_DEMO, SAMPLE)
    settings = QSettings(str(tmp / f"features-{theme}.ini"), QSettings.Format.IniFormat)
    view.setWindowTitle("VisionStudio — feature maps")
    view.resize(*SIZE)
    manager = ThemeManager(settings, window=view)
    manager.set_mode(theme)
    view.set_layer(ALL_CONV)
    view.tabs.setCurrentIndex(0)
    view.show()
    wait(app, 1.5)
    layer = view.shown_layers()[0]
    view.grid.select(layer, 4)
    view._on_grid_channel_clicked(layer, 4)
    wait(app, 1.0)
    path = out / f"features{'-dark' if theme == 'dark' else ''}.png"
    view.grab().save(str(path))
    view.close()
    view.deleteLater()
    controller.deleteLater()
    wait(app, 0.2)
    return path


_FEATURES_DEMO = None
SAMPLE = 9   # a validation sample the short training gets right (a crescent)


def shoot(scene: str, theme: str, out: Path, tmp: Path, app) -> Path:
    from PySide6.QtCore import QSettings

    if scene == "features":
        return shoot_features(theme, out, tmp, app)

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
    wait(app, 30, lambda: window.later_docks_added)
    wait(app, 1.5)
    if scene == "training":
        train_in_window(window, app)
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
        os.environ["XDG_STATE_HOME"] = str(Path(tmp) / "state")   # training runs' scratch files
        for theme in themes:
            for scene in args.scenes or SCENES:
                print(shoot(scene, theme, args.out, Path(tmp), app), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
