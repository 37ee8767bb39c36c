"""Composition root of the GUI: QApplication, crash logging, excepthooks, the main window.

``main([])`` opens the classic CNN template behind the welcome page (unless the user
turned the page off); ``main([PROJECT])`` opens that file and skips the welcome page
(a malformed one shows its problem and the template opens instead). Torch is not
imported on this path: the window paints first, models are built when needed.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSettings, QTimer
from PySide6.QtWidgets import QApplication

from visionstudio import __version__
from visionstudio.core.resources import APP_ID
from visionstudio.ui.shell import torch_loader, warm
from visionstudio.ui.shell.docks import PANEL_MODULES
from visionstudio.ui.shell.tasks import BackgroundTask, live_tasks, run_task, set_error_reporter

ORG = "VisionStudio"
APP = "VisionStudio"
STARTUP_T0_ENV = "VISIONSTUDIO_STARTUP_T0"      # benchmark: epoch seconds at process spawn
STARTUP_EXIT_ENV = "VISIONSTUDIO_STARTUP_EXIT"  # benchmark: quit after the first paint

log = logging.getLogger("visionstudio")
_keep: list = []  # objects that must live as long as the process (crash log pipe)


def setup_logging(state_dir: Path) -> Path | None:
    """Log to stderr and to ``<state>/visionstudio.log``; returns the log file."""
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    log_file = None
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        log_file = state_dir / "visionstudio.log"
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    except OSError as exc:
        print(f"visionstudio: cannot write logs to {state_dir}: {exc}", file=sys.stderr)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for h in handlers:
        h.setFormatter(fmt)
        log.addHandler(h)
    log.setLevel(logging.INFO)
    return log_file


def enable_crash_log(state_dir: Path) -> Path | None:
    """faulthandler to ``<state>/crash.log`` *and* stderr.

    faulthandler writes to one file descriptor, so on POSIX it writes into a pipe read
    by ``tee`` (a separate process, alive after a hard crash of this one); elsewhere,
    or when tee is missing, the log file alone.
    """
    crash_log = state_dir / "crash.log"
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        if os.name == "posix":
            try:
                tee = subprocess.Popen(["tee", "-a", str(crash_log)], stdin=subprocess.PIPE,
                                       stdout=sys.stderr.fileno(), close_fds=True,
                                       start_new_session=True)
            except (OSError, ValueError):
                tee = None
            if tee is not None and tee.stdin is not None:
                _keep.append(tee)
                faulthandler.enable(file=tee.stdin, all_threads=True)
                return crash_log
        fh = open(crash_log, "a", encoding="utf-8")
        _keep.append(fh)
        faulthandler.enable(file=fh, all_threads=True)
        return crash_log
    except OSError:
        faulthandler.enable(all_threads=True)
        return None


class _FirstPaintProbe(QObject):
    """Benchmark hook: prints ms from process spawn to the window's first paint."""

    def __init__(self, t0: float, quit_after: bool) -> None:
        super().__init__()
        self.t0, self.quit_after, self.done = t0, quit_after, False
        self.painted = self.ready = False

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if not self.done and event.type() == QEvent.Type.Paint:
            self.done = True
            QTimer.singleShot(0, self._report)  # after this paint has finished
        return False

    def _report(self) -> None:
        ms = (time.time() - self.t0) * 1000
        print(f"first-paint-ms {ms:.1f} torch-imported {'torch' in sys.modules}", flush=True)
        self.painted = True
        self._maybe_quit()

    def on_document_ready(self) -> None:
        ms = (time.time() - self.t0) * 1000
        print(f"document-ready-ms {ms:.1f}", flush=True)
        self.ready = True
        self._maybe_quit()

    def _maybe_quit(self) -> None:
        if self.quit_after and self.painted and self.ready:
            QApplication.instance().quit()


def load_initial(argv: list[str]):
    """(document, path, problem) for the start: ``argv[0]`` or the classic CNN template.

    Plain core work, safe on any thread. ``problem`` is (title, text) to show the user.
    """
    from visionstudio.core.project import ProjectDocument, ProjectFormatError, load_project
    from visionstudio.core.templates import DEFAULT_TEMPLATE
    from visionstudio.ui.shell.templates import TemplatesUnavailable, template_document

    doc, path, problem = None, None, None
    if argv:
        try:
            doc, path = load_project(argv[0]), Path(argv[0]).resolve()
        except ProjectFormatError as exc:
            problem = ("Cannot open project", f"{exc}\n\nThe Classic CNN template opened instead.")
    if doc is None:
        try:
            doc = template_document(DEFAULT_TEMPLATE)
        except TemplatesUnavailable as exc:
            log.error("%s", exc)
            doc = ProjectDocument()
            problem = problem or ("Template unavailable", f"{exc}; a blank project opened instead.")
    return doc, path, problem


WARM_TASK = "visionstudio-warm-imports"
# What the later docks import (pyqtgraph, never torch: see ui/shell/torch_loader.py),
# loaded on a worker thread before they are added.
WARM_MODULES = ("pyqtgraph", *PANEL_MODULES)


def warm_imports(_state=None) -> None:
    """Import what the later docks need, on a worker thread (see ``warm_then_add_docks``)."""
    warm.import_without_cuda_interop(WARM_MODULES)


class _InitialLoader(QObject):
    """Loads the first document as a background task; the result arrives on the GUI thread.

    Reading a project validates its training section against the loss/optimizer
    registries, which import torch (seconds); this keeps that off the first paint.
    """

    def __init__(self, argv: list[str], window) -> None:
        super().__init__(window)
        self.window = window
        self.argv = list(argv)
        self.task: BackgroundTask | None = None

    def start(self) -> None:
        if self.task is None:
            self.task = run_task(lambda _state, argv: load_initial(argv), self.argv,
                                 name="visionstudio-initial-load", parent=self, report_errors=False,
                                 on_finished=self._apply, on_failed=self._on_failed)

    def start_after_first_paint(self) -> None:
        QApplication.instance().installEventFilter(self)
        QTimer.singleShot(3000, self.start)  # a safety net if no paint ever comes (hidden)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Paint and self.task is None:
            QApplication.instance().removeEventFilter(self)
            QTimer.singleShot(0, self.start)
        return False

    def _on_failed(self, exc: BaseException) -> None:
        log.error("loading the first project failed", exc_info=exc)
        self._apply((None, None, ("Cannot open project", f"{type(exc).__name__}: {exc}")))

    def _apply(self, result) -> None:
        doc, path, problem = result
        w = self.window
        chosen = getattr(getattr(w, "welcome", None), "chosen", False)  # picked on the welcome page
        if doc is not None and not chosen and not w.controller.is_dirty and not w.controller.graph.nodes:
            w.controller.replace_document(doc, path)
            if path is not None:
                w.files.add_recent(path)
        w.statusBar().clearMessage()
        w.initial_load_done.emit()
        warm_then_add_docks(w)
        if problem is not None:
            w.files.prompts.error(w, *problem)


def warm_then_add_docks(window) -> None:
    """Builds PySide6's classes on the GUI thread a slice at a time, then imports the later
    docks' modules (pyqtgraph) off it (ui/shell/warm.py says why both), then adds the
    training, metrics and feature-map docks. PyTorch is not loaded here but when first
    needed (ui/shell/torch_loader.py; measured: loading it even on a worker thread froze
    the window 150-350 ms at a time for seconds after it showed)."""
    from visionstudio.ui.training.devices import start_probe

    start_probe()  # a child process: the device list is ready when asked
    steps = warm.touch_qt_steps()

    def step() -> None:
        if next(steps, StopIteration) is StopIteration:
            _import_then_add_docks(window)
        else:
            QTimer.singleShot(0, window, step)   # dropped with the window

    step()


def _import_then_add_docks(window) -> BackgroundTask:

    def add(_result=None) -> None:
        window.add_later_docks()

    def failed(exc: BaseException) -> None:
        log.error("loading the later panels failed: %s", exc)
        add()  # the docks' own imports raise it again, where the error reporter shows it

    return run_task(warm_imports, name=WARM_TASK, parent=window, report_errors=False,
                    on_finished=add, on_failed=failed)


def create_main_window(argv: list[str], *, settings: QSettings | None = None,
                       recovery_dir: Path | None = None, background: bool = False,
                       optional_panels: bool = True, welcome: bool = False):
    """The window with ``argv[0]`` opened, or the classic CNN template.

    A malformed file is reported (after the window shows) and the template opens.
    With ``background`` the document loads on a thread while the window paints;
    ``window.initial_load_done`` fires when it is in place. ``optional_panels=False``
    leaves out the later-feature docks (training, plots, feature maps): lean tests.
    ``welcome`` opens on the welcome page (the app does when no project is given and
    View › Show Welcome Page at Start is on).
    """
    from visionstudio.ui.shell.controller import DocumentController
    from visionstudio.ui.shell.main_window import MainWindow

    if background:
        window = MainWindow(DocumentController(), settings=settings, recovery_dir=recovery_dir,
                            defer_panels=True, build_when_shown=True)
        window.statusBar().showMessage("Opening project…")
        loader = _InitialLoader(argv, window)
        window.initial_loader = loader
        # After the first paint: measured here, starting at once made the paint ~10-20%
        # later (GIL contention) and the document no sooner.
        loader.start_after_first_paint()
        if welcome:
            window.show_welcome()
        return window
    doc, path, problem = load_initial(argv)
    controller = DocumentController(doc)
    controller.path = path
    window = MainWindow(controller, settings=settings, recovery_dir=recovery_dir,
                        defer_panels=not optional_panels)
    if path is not None:
        window.files.add_recent(path)
        window._update_title()
    if problem is not None:
        QTimer.singleShot(0, lambda: window.files.prompts.error(window, *problem))
    if welcome:
        window.show_welcome()
    return window


def _end_tasks(timeout_ms: int, *, leave_warmup: bool) -> bool:
    """Cancel and wait for the background tasks; an import cannot be cancelled and holds
    nothing, so a process that ends now need not wait for it."""
    imports = (WARM_TASK, torch_loader.TASK_NAME)
    tasks = [t for t in live_tasks() if not (leave_warmup and t.name in imports)]
    for task in tasks:
        task.cancel()
    deadline = time.monotonic() + timeout_ms / 1000
    return all([task.wait(max(0, int((deadline - time.monotonic()) * 1000))) for task in tasks])


def end_process(code: int, settings: list[QSettings]) -> None:
    """Leave now: settings written, logs and streams flushed, then ``os._exit``.

    What this skips is the interpreter's teardown: unloading torch and its CUDA
    libraries took 1-1.6 s after the window had gone (measured), time in which the user
    sees no window and a process that has not ended. The atexit handlers are skipped
    too: the app registers none, PySide6's would destroy a QThread still importing
    torch (a fatal error in Qt), and the OS frees the rest.
    """
    for s in settings:
        s.sync()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(code)


def main(argv: list[str] | None = None, *, exit_process: bool | None = None) -> int:
    """Run the app. Called as the program (``argv`` None, or ``exit_process=True``) it ends
    the process itself once the window has closed (see ``end_process``); called with a
    list (tests, embedding) it returns the exit status."""
    exit_process = argv is None if exit_process is None else exit_process
    argv = list(sys.argv[1:] if argv is None else argv)
    from visionstudio.ui.shell.recovery import user_state_dir

    state = user_state_dir()
    enable_crash_log(state)
    setup_logging(state)
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "visionstudio"])
    app.setOrganizationName(ORG)
    app.setApplicationName(APP)
    app.setApplicationDisplayName(APP)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APP_ID)  # matches the .desktop entry (Wayland icons)
    from visionstudio.ui.shell import collector
    from visionstudio.ui.shell.icons import app_icon

    collector.install(app)   # cyclic garbage is collected on this thread only (collector.py)

    if not app_icon().isNull():
        app.setWindowIcon(app_icon())

    from visionstudio.ui.shell.errors import ErrorReporter, install_excepthooks

    window = None
    reporter = ErrorReporter(lambda: window)
    uninstall = install_excepthooks(reporter)
    set_error_reporter(reporter.report)
    probe = None
    t0 = os.environ.get(STARTUP_T0_ENV)
    from visionstudio.ui.shell.settings import open_settings
    from visionstudio.ui.welcome.controller import show_at_start

    settings = open_settings()  # before anything parses it: an unsafe file is moved aside
    window = create_main_window(argv, settings=settings, background=True,
                                welcome=not argv and show_at_start(settings))
    if t0:
        probe = _FirstPaintProbe(float(t0), os.environ.get(STARTUP_EXIT_ENV) == "1")
        app.installEventFilter(probe)
        window.initial_load_done.connect(probe.on_document_ready)
    window.show()
    if not (t0 and os.environ.get(STARTUP_EXIT_ENV) == "1"):
        QTimer.singleShot(0, window.offer_recovery)
    log.info("VisionStudio %s started", __version__)
    code = 1
    try:
        code = app.exec()
        return code
    finally:
        # No background thread may outlive the app (except the import, when the process ends).
        if not _end_tasks(10_000, leave_warmup=exit_process):
            log.warning("a background task was still running at exit")
        set_error_reporter(None)
        uninstall()
        if not exit_process:
            collector.uninstall()
        faulthandler.disable()
        if exit_process:
            end_process(code, [settings] + ([window.settings] if window is not None else []))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
