"""Open the main window with the classic CNN, start training automatically (demo,
screenshots). Usage: python benchmarks/training_demo.py [--samples N] [--epochs N]
[--quit-after S] [--screenshot-at S OUT.png]... (screenshots via QWidget.grab)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
os.environ.setdefault("VISIONSTUDIO_NO_RECOVERY_PROMPT", "1")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=3000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--start-after", type=float, default=1.5)
    ap.add_argument("--quit-after", type=float, default=0)
    ap.add_argument("--quit-when-done", type=float, default=-1,
                    help="quit this many seconds after the run ends (-1: stay)")
    args = ap.parse_args()

    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    app.setApplicationName("VisionStudio-demo")
    from visionstudio.core.project.commands import SetDatasetSettings, SetTrainingSettings
    from visionstudio.core.templates import load_template
    from visionstudio.ui.shell.controller import DocumentController
    from visionstudio.ui.shell.main_window import MainWindow
    from visionstudio.ui.training.integration import install

    settings = QSettings(os.path.join(tempfile.mkdtemp(), "demo.ini"), QSettings.Format.IniFormat)
    controller = DocumentController(load_template("classic_cnn"))
    window = MainWindow(controller, settings=settings)
    integration = install(window)
    controller.push(SetDatasetSettings("shapes", {"samples": args.samples}))
    controller.push(SetTrainingSettings({"epochs": args.epochs, "batch_size": args.batch_size}))
    window.show()

    def start() -> None:
        from PySide6.QtCore import Qt

        metrics, summary = window.docks.get("metricsPlots"), window.docks.get("summary")
        if metrics is not None and summary is not None:
            window.tabifyDockWidget(summary, metrics)
            metrics.show()
            metrics.raise_()
            window.resizeDocks([metrics], [430], Qt.Orientation.Vertical)
        training = window.docks.get("trainingPanel")
        if training is not None:
            if window.docks.get("history") is not None:
                window.docks["history"].hide()
            training.show()
            window.resizeDocks([window.docks["inspector"], training], [120, 700], Qt.Orientation.Vertical)
            window.resizeDocks([training], [360], Qt.Orientation.Horizontal)
        integration.actions["train"].trigger()

    QTimer.singleShot(int(args.start_after * 1000), start)
    if args.quit_after:
        QTimer.singleShot(int(args.quit_after * 1000), lambda: (integration.session.shutdown(), app.quit()))
    if args.quit_when_done >= 0:
        integration.session.finished.connect(
            lambda _e: QTimer.singleShot(int(args.quit_when_done * 1000), app.quit))
    code = app.exec()
    integration.session.shutdown()
    return code


if __name__ == "__main__":
    sys.exit(main())
