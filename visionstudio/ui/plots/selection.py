"""RunSelection: which run the dashboard shows and which runs it overlays.

A view's choice, not the project's and not the training's: the dashboard, its runs
list, the feature maps (they show the shown run's weights) and Continue (it continues
the shown run) read it; the RunController trains and the RunStore keeps the runs. A
run that starts is shown; while one trains, picking another is refused (the dashboard
follows the live run). A run that leaves the list leaves the selection too.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from visionstudio.core.runs import RunHistory
from visionstudio.ui.training.run_controller import RunController, runs_for


def selection_for(controller) -> RunSelection:
    """The document controller's one RunSelection (every dashboard of it agrees)."""
    runs = runs_for(controller)
    selection = getattr(runs, "selection", None)
    if selection is None:
        selection = RunSelection(runs)
        runs.selection = selection
    return selection


class RunSelection(QObject):
    display_changed = Signal()          # the shown run or the overlay set changed
    message = Signal(str)               # a run's files could not be read

    def __init__(self, runs: RunController) -> None:
        super().__init__(runs)
        self.runs = runs
        self.display_id: str | None = None
        self.overlay_ids: list[str] = []
        self.history = RunHistory()     # the shown run's (empty when none)
        runs.started.connect(self._on_runs_started)
        runs.runs_changed.connect(self._on_runs_changed)
        runs.store_reset.connect(self._on_runs_store_reset)
        self.show_latest()

    @property
    def store(self):
        return self.runs.store

    def history_for(self, run_id: str | None) -> RunHistory | None:
        return self.store.history(run_id, self.message.emit)

    def entry(self, run_id: str | None) -> dict | None:
        return self.store.entry(run_id)

    def show_run(self, run_id: str | None) -> None:
        """Make ``run_id`` the run the dashboard shows (not while one trains)."""
        if self.runs.busy:
            return
        hist = self.history_for(run_id) if run_id else None
        self.display_id = run_id if hist is not None else None
        self.history = hist or RunHistory()
        self.display_changed.emit()

    def show_latest(self) -> None:
        self.show_run(self.store.latest_id())

    def set_overlay(self, run_ids: list[str]) -> None:
        self.overlay_ids = [r for r in run_ids if self.store.entry(r) is not None]
        self.display_changed.emit()

    def _on_runs_started(self, run_id: str) -> None:
        self.display_id = run_id
        self.history = self.history_for(run_id) or self.runs.history
        self.display_changed.emit()

    def _on_runs_changed(self) -> None:
        if self.display_id is not None and self.store.entry(self.display_id) is None:
            self.show_latest()
        if any(self.store.entry(r) is None for r in self.overlay_ids):
            self.set_overlay(self.overlay_ids)

    def _on_runs_store_reset(self) -> None:
        self.overlay_ids = []
        self.show_latest()
