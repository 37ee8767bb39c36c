"""The dataset choices the training UI offers, from the core registry (DATASETS), and
the panel's Dataset section that shows them.

The registry is the source of truth for every dataset's parameters; the panel lists
its specs and cleans a project's stored params against them before showing or
changing them (a value out of range, or one of another dataset, is not shown).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QGroupBox, QLabel, QVBoxLayout, QWidget

from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.data.registry import DATASETS, DatasetSpec
from visionstudio.core.params import validate_all
from visionstudio.core.project.commands import SetDatasetSettings
from visionstudio.core.tasks import TASK_KINDS
from visionstudio.ui.forms import ignore_wheel_unless_focused
from visionstudio.ui.training.forms import ParamForm
from visionstudio.ui.training.preview import PreviewStrip


def registry() -> dict[str, DatasetSpec]:
    """key -> spec, in the registry's order (the dataset combo box)."""
    return {key: DATASETS.get(key) for key in DATASETS}


def datasets_for(task: str) -> dict[str, DatasetSpec]:
    """The datasets whose labels serve ``task`` (DatasetSpec.tasks), in the registry's order."""
    return {key: spec for key, spec in registry().items() if task in spec.tasks}


def clean_params(key: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` validated against the dataset's specs (defaults filled in); unchanged
    for a key the registry does not know (the panel shows it as it is)."""
    if key not in DATASETS:
        return dict(params)
    clean, _ = validate_all(DATASETS.get(key).params, dict(params or {}))
    return clean


class DatasetBox(QGroupBox):
    """The panel's Dataset section: the choice, its parameters and the preview of the
    chosen set. Every edit is a command pushed through the controller; ``changed``
    fires when the project's dataset settings changed (the panel drops a failure
    message that was about the previous dataset)."""

    changed = Signal()

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__("Dataset", parent)
        self.controller = controller
        layout = QVBoxLayout(self)
        self.combo = ignore_wheel_unless_focused(QComboBox())
        self.combo.setObjectName("datasetCombo")
        self.combo.setToolTip("The dataset to train and validate on")
        self.combo.setAccessibleName("Dataset")
        self._listed: str | None = None       # the task the combo lists datasets for
        self.combo.activated.connect(self._on_combo_activated)
        layout.addWidget(self.combo)
        self.form = ParamForm(object_prefix="dataset")
        self.form.edited.connect(self._on_form_edited)
        layout.addWidget(self.form)
        self.preprocessing = QLabel(self)      # pretrained weights' preprocessing, when the project has one
        self.preprocessing.setObjectName("datasetPreprocessing")
        self.preprocessing.setWordWrap(True)
        self.preprocessing.setToolTip("The images are normalised the way the pretrained weights were "
                                      "trained, not with this dataset's own mean and std")
        layout.addWidget(self.preprocessing)
        self.preview = PreviewStrip()
        layout.addWidget(self.preview)
        self._bind(controller.document)
        controller.document_replaced.connect(self._bind)

    def _bind(self, doc) -> None:
        doc.settings_changed.connect(self._on_document_settings_changed)
        self.refresh()

    def _on_document_settings_changed(self, section: str) -> None:
        if section in ("dataset", "task"):
            self.refresh()
            self.changed.emit()

    def refresh(self) -> None:
        """Show the project's dataset; the preview follows it (loaded while visible)."""
        ds = self.controller.document.dataset
        self._list_for(self.controller.document.task)
        i = self.combo.findData(ds.key)
        if i < 0:   # a dataset of another task (or an unknown key): shown as it is
            task = TASK_KINDS[self.controller.document.task].title.lower()
            self.combo.addItem(ds.key if ds.key not in DATASETS else
                               f"{DATASETS.get(ds.key).title} (not for {task})", ds.key)
            i = self.combo.count() - 1
        self.combo.setCurrentIndex(i)
        spec = registry().get(ds.key)
        params = clean_params(ds.key, ds.params)
        self.preprocessing.setText(ds.preprocessing.describe() if ds.preprocessing is not None else "")
        self.preprocessing.setVisible(ds.preprocessing is not None)
        if spec is not None and tuple(self.form.specs) != tuple(p.name for p in spec.params):
            self.form.set_specs(spec.params, params)
        else:
            self.form.set_values(params)
        if self.isVisible():
            self.request_preview()
        else:
            self.preview.clear()   # shown again, it loads the new choice

    def _list_for(self, task: str) -> None:
        """Offer the datasets of ``task`` (the Task choice above: task_picker.py)."""
        if task == self._listed:
            return
        self._listed = task
        self.combo.clear()
        for key, spec in datasets_for(task).items():
            self.combo.addItem(spec.title, key)

    def request_preview(self) -> None:
        doc = self.controller.document
        cfg = DatasetConfig(doc.dataset.key, clean_params(doc.dataset.key, doc.dataset.params),
                            doc.dataset.preprocessing)
        self.preview.request(cfg, doc.training.seed, doc.training.val_split)

    def set_editable(self, editable: bool) -> None:
        self.combo.setEnabled(editable)
        self.form.set_editable(None if editable else set())

    def _push(self, command) -> None:
        if not self.controller.push(command):
            self.refresh()

    def _on_combo_activated(self, _index: int) -> None:
        key = self.combo.currentData()
        if key != self.controller.document.dataset.key:
            self._push(SetDatasetSettings(key, clean_params(key, {})))

    def _on_form_edited(self, name: str, value: Any) -> None:
        ds = self.controller.document.dataset
        self._push(SetDatasetSettings(ds.key, {**clean_params(ds.key, ds.params), name: value}))
