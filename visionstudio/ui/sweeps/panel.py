"""SweepPanel: set up a sweep, run it, read what it found, apply the best trial.

Left: the project's stored studies (reopen one), the swept settings and how to search,
Start / Stop / Continue, *Apply best to the project* and *Run on many machines* (the
core's sweep bundle, written off the GUI thread). Right: the trial table above the
parallel-coordinates plot and the importance chart (results.py). The work happens in the
controller's SweepSession (session.py, on the one background-task helper); this panel
only turns clicks into its calls and its news into rows.

Start begins a new study: a name already stored gets the next free one ("sweep-2"), so
an old study is never extended by accident; Continue extends the study named in the
form (a stopped one, or one reopened from the list) with the same search space. Reading
stored studies and the importance (optuna, fANOVA) runs as background tasks too, so
the GUI thread never imports optuna or torch.
"""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from visionstudio.core.params import ConfigError
from visionstudio.core.sweeps.config import SweepConfig
from visionstudio.core.sweeps.parameters import sweepable_parameters, target_spec
from visionstudio.ui.plots.selection import selection_for
from visionstudio.ui.sweeps import studies
from visionstudio.ui.sweeps.parameters import ParameterList
from visionstudio.ui.sweeps.results import SweepResults
from visionstudio.ui.sweeps.session import sweeps_for
from visionstudio.ui.sweeps.settings import SweepSettings


def _button(text: str, name: str, accessible: str, tip: str) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    button.setAccessibleName(accessible)
    button.setToolTip(tip)
    return button


def next_free_name(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    stem = re.sub(r"-\d+$", "", name) or "sweep"
    n = 2
    while f"{stem}-{n}" in taken:
        n += 1
    return f"{stem}-{n}"


class SweepPanel(QWidget):
    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sweepPanel")
        self.setAccessibleName("Sweeps")
        self.controller = controller
        self.session = sweeps_for(controller)
        self.selection = selection_for(controller)
        self.study_names: list[str] = []
        self.ask_folder = lambda parent: QFileDialog.getExistingDirectory(   # tests replace it
            parent, "Folder for the sweep bundle (new or empty)")
        self.config: SweepConfig | None = None   # the sweep the table shows
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        setup = self._setup_column()
        splitter.addWidget(setup)
        self.results = SweepResults()
        splitter.addWidget(self.results)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([setup.widget().sizeHint().width() + 20, 900])   # the form unscrolled
        layout.addWidget(splitter)
        self.results.trial_selected.connect(self._on_results_trial_selected)
        s = self.session
        s.row.connect(self._on_session_row)
        s.state_changed.connect(self._on_session_state_changed)
        s.finished.connect(self._on_session_finished)
        s.message.connect(self.say)
        controller.document_replaced.connect(self._on_controller_document_replaced)
        controller.path_changed.connect(lambda _path: self.refresh_studies())   # after the session's
        controller.analysis_changed.connect(lambda _a: self._refresh_available())
        controller.document.settings_changed.connect(self._on_document_settings_changed)
        self._refresh_available()
        self._update_buttons()
        self.refresh_studies()

    # -- building ------------------------------------------------------------------------------
    def _setup_column(self) -> QWidget:
        column = QWidget()
        column.setObjectName("sweepSetup")
        box = QVBoxLayout(column)
        box.setContentsMargins(0, 0, 4, 0)
        studies_row = QHBoxLayout()
        self.studies = QComboBox()
        self.studies.setObjectName("sweepStudies")
        self.studies.setAccessibleName("Stored sweeps")
        self.studies.setToolTip("The sweeps stored in this project's runs folder (sweeps.db)")
        self.open_button = _button("Open", "sweepOpen", "Open the stored sweep",
                                   "Show the chosen sweep's settings and trials; Continue then "
                                   "runs more of its trials")
        self.open_button.clicked.connect(lambda: self.open_study(self.studies.currentText()))
        studies_row.addWidget(self.studies, 1)
        studies_row.addWidget(self.open_button)
        box.addLayout(studies_row)
        group = QGroupBox("Swept settings")
        inner = QVBoxLayout(group)
        self.parameters = ParameterList()
        self.parameters.spec_for = lambda path: target_spec(self.controller.document, path)
        inner.addWidget(self.parameters)
        box.addWidget(group)
        group = QGroupBox("Search")
        inner = QVBoxLayout(group)
        self.settings = SweepSettings()
        inner.addWidget(self.settings)
        box.addWidget(group)
        buttons = QHBoxLayout()
        self.start_button = _button("Start", "sweepStart", "Start the sweep",
                                    "Run a new sweep with these settings (each trial is a run)")
        self.stop_button = _button("Stop", "sweepStop", "Stop the sweep",
                                   "End the sweep after the current batch; Continue goes on later")
        self.continue_button = _button("Continue", "sweepContinue", "Continue the sweep",
                                       "Run more trials of the sweep named above, learning from "
                                       "the ones it has")
        for button, slot in ((self.start_button, self.start), (self.stop_button, self.session.stop),
                             (self.continue_button, self.continue_sweep)):
            button.clicked.connect(lambda _c=False, slot=slot: slot())
            buttons.addWidget(button)
        box.addLayout(buttons)
        self.apply_button = _button("Apply best to the project", "sweepApplyBest",
                                    "Apply the best trial's settings to the project",
                                    "Set the swept settings to the best trial's values (one "
                                    "undo step)")
        self.apply_button.clicked.connect(self.apply_best)
        box.addWidget(self.apply_button)
        self.bundle_button = _button("Run on many machines…", "sweepBundle",
                                     "Write a sweep bundle for many machines",
                                     "Write a folder (the project, the sweep, train.py, a README) "
                                     "that any number of machines run with visionstudio "
                                     "sweep-worker against one shared Optuna storage")
        self.bundle_button.clicked.connect(lambda: self.write_bundle())
        box.addWidget(self.bundle_button)
        self.status = QLabel("")
        self.status.setObjectName("sweepStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.addWidget(self.status)
        box.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("sweepSetupScroll")
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidgetResizable(True)
        scroll.setWidget(column)
        scroll.setMinimumWidth(270)   # the dock stays under docks.MAX_MIN_SIZE: no outer scroll
        return scroll

    def say(self, text: str) -> None:
        self.status.setText(text)

    # -- the project -----------------------------------------------------------------------------
    def _refresh_available(self) -> None:
        gone = self.parameters.set_available(sweepable_parameters(self.controller.document))
        if gone:
            self.say(f"{', '.join(gone)} left the sweep: the project no longer has "
                     f"{'it' if len(gone) == 1 else 'them'}.")

    def titles(self) -> dict[str, str]:
        return {path: c.title for path, c in self.parameters.available.items()}

    def _on_document_settings_changed(self, section: str) -> None:
        if section in ("training", "dataset"):
            self._refresh_available()

    def _on_controller_document_replaced(self, document) -> None:
        document.settings_changed.connect(self._on_document_settings_changed)
        self.parameters.clear()
        self._refresh_available()
        self.config = None
        self.results.configure(SweepConfig(), {})
        self.refresh_studies()

    # -- actions -------------------------------------------------------------------------------
    def current_config(self) -> dict[str, Any]:
        """The sweep file's dict for the form; ValueError with the sentence to show."""
        ranges = self.parameters.ranges()
        data = self.settings.values()
        data["parameters"] = {r.path: r.to_dict() for r in ranges}
        SweepConfig.from_dict(data)   # the command line's checks, the same words
        return data

    def _checked(self) -> dict[str, Any] | None:
        try:
            return self.current_config()
        except (ValueError, ConfigError) as exc:
            self.say(f"The sweep cannot start: {exc}")
            return None

    def start(self) -> bool:
        data = self._checked()
        if data is None:
            return False
        name = next_free_name(data["name"], set(self.study_names))
        if name != data["name"]:
            self.settings.name.setText(name)
            data["name"] = name
        return self._run(data)

    def continue_sweep(self) -> bool:
        data = self._checked()
        if data is None:
            return False
        if data["name"] not in self.study_names:
            self.say(f"There is no stored sweep named {data['name']} to continue; Start begins it.")
            return False
        if self.config is not None and self.config.name == data["name"] and "trials" in data:
            done = sum(1 for r in self.results.rows() if r.state in studies.COUNTED)
            data["trials"] += done   # the budget counts the whole study: this many more
        return self._run(data, keep_rows=True)

    def _run(self, data: dict[str, Any], keep_rows: bool = False) -> bool:
        config = SweepConfig.from_dict(data)
        rows = self.results.rows() if keep_rows and self.config is not None \
            and self.config.name == config.name else []
        if not self.session.start(data):
            return False
        self.config = config
        self.results.configure(config, self.titles())
        self.results.set_rows(rows)
        return True

    def apply_best(self) -> bool:
        from visionstudio.core.sweeps.parameters import apply_best_command

        best = self.results.best()
        if best is None:
            self.say("No finished trial yet: nothing to apply.")
            return False
        if not self.controller.push(apply_best_command(self.controller.document, best.params)):
            return False
        self.say(f"Applied trial {best.number}'s settings to the project (Undo takes them back).")
        return True

    def write_bundle(self, folder: str | None = None) -> bool:
        """*Run on many machines*: the bundle in ``folder`` (asked for when None)."""
        data = self._checked()
        if data is None:
            return False
        folder = folder or self.ask_folder(self)
        if not folder:
            return False
        self.bundle_button.setEnabled(False)
        self.say("Writing the sweep bundle…")
        studies.write_bundle_later(self, self.controller.document, data, folder,
                                   self._on_bundle_written, self._on_bundle_failed)
        return True

    def _on_bundle_written(self, folder: str) -> None:
        self.bundle_button.setEnabled(True)
        self.say(f"Sweep bundle written to {folder}. On each machine (once per GPU) run: "
                 f"visionstudio sweep-worker {folder} --storage <one shared Optuna storage URL> "
                 "(its README.md has the details).")

    def _on_bundle_failed(self, why: str) -> None:
        self.bundle_button.setEnabled(True)
        self.say(f"The sweep bundle could not be written: {why}")

    # -- stored studies ------------------------------------------------------------------------
    def refresh_studies(self) -> None:
        studies.list_studies(self, str(self.session.runs_root()), self._on_studies_listed)

    def _on_studies_listed(self, names: list[str]) -> None:
        current = self.studies.currentText()
        self.study_names = list(names)
        self.studies.clear()
        self.studies.addItems(self.study_names)
        if current in self.study_names:
            self.studies.setCurrentText(current)
        self._update_buttons()

    def open_study(self, name: str) -> None:
        if not name or self.session.busy:
            return
        self.say(f"Opening sweep {name}…")
        studies.load_study(self, str(self.session.runs_root()), name, self._on_study_loaded)

    def _on_study_loaded(self, loaded: studies.LoadedStudy) -> None:
        if loaded.config is not None:
            missing = self.parameters.show_ranges(loaded.config.parameters)
            self.settings.show_config(loaded.config)
            self.config = loaded.config
            self.results.configure(loaded.config, self.titles())
        self.results.set_rows(loaded.rows)
        self.results.show_importance(loaded.importance, loaded.importance_note)
        gone = f" This network no longer has {', '.join(missing)}." if loaded.config and missing else ""
        self.say(f"Sweep {loaded.name}: {len(loaded.rows)} trials.{gone}" + loaded.problem)

    # -- the session's news ----------------------------------------------------------------------
    def _on_session_row(self, row) -> None:
        self.results.upsert(row)
        if row.state == "running" and self.session.state == "running":
            self.say(f"Trial {row.number} is training ({len(self.results.rows())} so far)…")

    def _on_session_state_changed(self, _state: str) -> None:
        self._update_buttons()

    def _on_session_finished(self, _summary) -> None:
        self.refresh_studies()
        if self.config is not None:
            studies.load_importance(self, str(self.session.runs_root()), self.config.name,
                                    self.results.show_importance)

    def _update_buttons(self) -> None:
        busy = self.session.busy
        self.start_button.setEnabled(not busy)
        self.continue_button.setEnabled(not busy and bool(self.study_names))
        self.stop_button.setEnabled(self.session.state == "running")
        self.apply_button.setEnabled(not busy)
        self.open_button.setEnabled(not busy and bool(self.study_names))
        self.parameters.setEnabled(not busy)
        self.settings.setEnabled(not busy)

    def _on_results_trial_selected(self, row) -> None:
        """The trial's run becomes the run the dashboard and the Runs list show."""
        run_id = next((r for r in row.run_ids if self.selection.store.entry(r) is not None), None)
        if run_id is not None and not self.selection.runs.busy:
            self.selection.show_run(run_id)
