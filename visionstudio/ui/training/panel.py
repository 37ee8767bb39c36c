"""TrainingPanel: dataset, loss/optimizer/schedule and run settings, the preview
strip and the Train / Pause / Resume / Stop / Continue controls.

Every edit is a core command pushed through the controller (undoable, saved in the
project). While a run trains the settings are read-only; while it is paused the
optimizer's hyper-parameters (learning rate, momentum, …) can be changed and go to
the trainer (TrainerControl.set_hyperparameters) as well as into the project.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from visionstudio.core.project.commands import SetTrainingSettings
from visionstudio.core.training.config import TRAINING_FIELDS
from visionstudio.ui.forms import ignore_wheel_unless_focused
from visionstudio.ui.plots.selection import selection_for
from visionstudio.ui.shell.torch_loader import when_torch_loaded
from visionstudio.ui.training import datasets
from visionstudio.ui.training.devices import list_devices_async
from visionstudio.ui.training.forms import ParamForm
from visionstudio.ui.training.initial_label import InitialWeightsLabel
from visionstudio.ui.training.status_line import StatusLine
from visionstudio.ui.training.task_picker import TaskPicker
from visionstudio.ui.training.texts import (
    END_TEXTS,
    STATE_TEXTS,
    batch_score,
    epoch_text,
    failure_title,
    final_text,
    fmt_time,
)
from visionstudio.ui.training.transfer_label import TransferCountLabel

PLAIN_FIELDS = tuple(s for s in TRAINING_FIELDS if s.name != "device")
CHOICE_TITLES = {"loss": "Loss", "optimizer": "Optimizer", "scheduler": "Learning-rate schedule"}
CHOICE_TIPS = {"loss": "The loss function the network minimises",
               "optimizer": "How the weights are updated from the gradients; its learning rate "
                            "and momentum can be changed while training is paused",
               "scheduler": "How the learning rate changes over the epochs"}


class TrainingPanel(QWidget):
    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self.setAccessibleName("Training")
        self.controller = controller
        self.selection = selection_for(controller)   # Continue continues the shown run
        self.training = self.selection.runs          # the RunController
        from visionstudio.core.training import registry as regs
        self._regs = {"loss": regs.LOSSES, "optimizer": regs.OPTIMIZERS, "scheduler": regs.SCHEDULERS}
        self._build()
        self._doc = None
        self._bind(controller.document)
        controller.document_replaced.connect(self._bind)
        t = self.training
        t.state_changed.connect(self._on_training_state_changed)
        t.batch.connect(self._on_training_batch)
        t.epoch.connect(self._on_training_epoch)
        t.failed.connect(self._on_training_failed)
        t.finished.connect(self._on_training_finished)
        t.progress.connect(self._on_training_progress)
        t.fit_started.connect(self._on_training_fit_started)
        self.selection.display_changed.connect(self._update_buttons)
        self._on_training_state_changed(t.state)

    # -- building -------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        self._build_controls(outer)      # first: always visible above the scrolling settings
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        scroll.setWidget(body)
        outer.addWidget(scroll, 1)
        self.task_picker = TaskPicker(self.controller)    # task_picker.py
        layout.addWidget(self.task_picker)
        self.dataset_box = datasets.DatasetBox(self.controller)
        self.dataset_box.changed.connect(self._on_dataset_changed)
        self.dataset_combo, self.dataset_form = self.dataset_box.combo, self.dataset_box.form
        self.preview = self.dataset_box.preview
        layout.addWidget(self.dataset_box)
        self.choice_combos: dict[str, QComboBox] = {}
        self.choice_forms: dict[str, ParamForm] = {}
        for section in ("loss", "optimizer", "scheduler"):
            layout.addWidget(box := self._build_choice_box(section))
            if section == "loss":
                self.task_picker.follow_loss_box(box)   # hidden while the heads carry the losses
        layout.addWidget(self._build_run_box())
        layout.addStretch(1)

    def _build_controls(self, outer: QVBoxLayout) -> None:
        t = self.training
        row = QHBoxLayout()
        self.train_button = self._button("Train", "trainButton",   # torch first, off this thread
                                         lambda: when_torch_loaded(t.train, t.message.emit), "Train (F5)")
        self.pause_button = self._button("Pause", "pauseButton", t.pause, "Pause after this batch (F6)")
        self.resume_button = self._button("Resume", "resumeButton", t.resume, "Resume (F6)")
        self.stop_button = self._button("Stop", "stopButton", t.stop,
                                        "Stop after this batch and keep a checkpoint (Shift+F5)")
        for b in (self.train_button, self.pause_button, self.resume_button, self.stop_button):
            row.addWidget(b)
        outer.addLayout(row)
        row2 = QHBoxLayout()
        self.continue_button = self._button("Continue training", "continueButton", self._continue,
                                            "Continue the shown run from its last checkpoint (Ctrl+F5)")
        self.extra_epochs = QSpinBox()
        self.extra_epochs.setObjectName("continueEpochs")
        self.extra_epochs.setRange(1, 100_000)
        self.extra_epochs.setValue(2)
        self.extra_epochs.setSuffix(" more epochs")
        self.extra_epochs.setToolTip("How many more epochs Continue training runs")
        self.extra_epochs.setAccessibleName("Epochs to continue")
        row2.addWidget(self.continue_button)
        row2.addWidget(self.extra_epochs)
        outer.addLayout(row2)
        self.status_label = StatusLine("Ready: press Train (F5).")   # 4 updates a second
        self.status_label.setObjectName("trainingStatus")
        self.status_label.setAccessibleName("Training status")
        outer.addWidget(self.status_label)
        self.final_label = QLabel("")
        self.final_label.setObjectName("finalAccuracy")
        self.final_label.setStyleSheet("font-weight: bold;")
        outer.addWidget(self.final_label)
        self.message = QLabel("")
        self.message.setObjectName("trainingMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setStyleSheet("background: #fdecea; color: #8a1c1c; border: 1px solid #e0a0a0;"
                                   " border-radius: 3px; padding: 6px;")
        self.message.hide()
        outer.addWidget(self.message)

    def _build_choice_box(self, section: str) -> QGroupBox:
        """The loss, the optimizer or the schedule: a registry choice and its parameters."""
        box = QGroupBox(CHOICE_TITLES[section])
        bl = QVBoxLayout(box)
        combo = ignore_wheel_unless_focused(QComboBox())
        combo.setObjectName(f"{section}Combo")
        combo.setToolTip(CHOICE_TIPS[section])
        combo.setAccessibleName(CHOICE_TITLES[section])
        for key in self._regs[section]:
            spec = self._regs[section].get(key)
            combo.addItem(getattr(spec, "title", key), key)
            combo.setItemData(combo.count() - 1, getattr(spec, "description", ""),
                              Qt.ItemDataRole.ToolTipRole)
        combo.activated.connect(lambda _i, s=section: self._on_choice_chosen(s))
        form = ParamForm(object_prefix=section)
        form.edited.connect(lambda name, value, s=section: self._on_choice_param_edited(s, name, value))
        bl.addWidget(combo)
        bl.addWidget(form)
        self.choice_combos[section], self.choice_forms[section] = combo, form
        return box

    def _build_run_box(self) -> QGroupBox:
        run_box = QGroupBox("Run")
        rl = QVBoxLayout(run_box)
        dev_form = QFormLayout()
        self.device_combo = ignore_wheel_unless_focused(QComboBox())
        self.device_combo.setObjectName("deviceCombo")
        self.device_combo.setToolTip("Where training runs: the CPU or an available GPU")
        self.device_combo.setAccessibleName("Device")
        for value, label in list_devices_async(self._on_devices_listed):
            self.device_combo.addItem(label, value)
        self.device_combo.activated.connect(self._on_device_chosen)
        dev_form.addRow("device", self.device_combo)
        rl.addLayout(dev_form)
        self.training_form = ParamForm(PLAIN_FIELDS, object_prefix="training")
        self.training_form.edited.connect(self._on_training_field_edited)
        rl.addWidget(self.training_form)
        self.parameter_split = TransferCountLabel(self.controller, run_box)  # transfer_label.py
        rl.addWidget(self.parameter_split)
        self.initial_weights = InitialWeightsLabel(self.controller, run_box)  # initial_label.py
        rl.addWidget(self.initial_weights)
        return run_box

    def _on_devices_listed(self, devices: list) -> None:
        """The background device probe finished: show every GPU, keep the choice."""
        combo = self.device_combo
        doc = getattr(self, "_doc", None)
        current = doc.training.device if doc is not None else combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        for value, label in devices:
            combo.addItem(label, value)
        i = combo.findData(current)
        if i < 0:
            combo.addItem(f"{current} (not available here)", current)
            i = combo.count() - 1
        combo.setCurrentIndex(i)
        combo.blockSignals(False)

    def _button(self, text: str, name: str, slot, tip: str) -> QPushButton:
        b = QPushButton(text)
        b.setObjectName(name)
        b.setToolTip(tip)
        b.setAccessibleName(text)
        b.clicked.connect(lambda _=False: slot())
        return b

    # -- document -> widgets --------------------------------------------------------------
    def _bind(self, doc) -> None:
        self._doc = doc
        doc.settings_changed.connect(self._on_document_settings_changed)
        self._refresh_training()

    def _on_document_settings_changed(self, section: str) -> None:
        if section == "training":
            self._refresh_training()

    def _on_dataset_changed(self) -> None:
        if not self.training.busy:
            self.message.hide()   # a failure with the previous dataset is not this one's

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self.preview.state == "idle":
            self.dataset_box.request_preview()

    def _refresh_training(self) -> None:
        cfg = self.controller.document.training
        for section in ("loss", "optimizer", "scheduler"):
            choice = getattr(cfg, section)
            combo, form = self.choice_combos[section], self.choice_forms[section]
            combo.setCurrentIndex(max(0, combo.findData(choice["key"])))
            spec = self._regs[section].get(choice["key"])
            if tuple(form.specs) != tuple(p.name for p in spec.params):
                form.set_specs(spec.params, choice["params"])
            else:
                form.set_values(choice["params"])
        self.training_form.set_values(cfg.to_dict())
        i = self.device_combo.findData(cfg.device)
        if i < 0:
            self.device_combo.addItem(f"{cfg.device} (not available here)", cfg.device)
            i = self.device_combo.count() - 1
        self.device_combo.setCurrentIndex(i)
        self._apply_editability()

    # -- widgets -> commands ------------------------------------------------------------------
    def _push(self, command) -> bool:
        ok = self.controller.push(command)
        if not ok:
            self._refresh_training()
        return ok

    def _on_choice_chosen(self, section: str) -> None:
        key = self.choice_combos[section].currentData()
        if key != getattr(self.controller.document.training, section)["key"]:
            self._push(SetTrainingSettings({section: {"key": key, "params": {}}}))

    def _on_choice_param_edited(self, section: str, name: str, value: Any) -> None:
        if section == "optimizer" and self.training.state == "paused":
            self.training.set_hyperparameters(**{name: value})
            return
        choice = getattr(self.controller.document.training, section)
        self._push(SetTrainingSettings({section: {"key": choice["key"],
                                                  "params": {**choice["params"], name: value}}}))

    def _on_training_field_edited(self, name: str, value: Any) -> None:
        self._push(SetTrainingSettings({name: value}))

    def _on_device_chosen(self, _index: int) -> None:
        value = self.device_combo.currentData()
        if value != self.controller.document.training.device:
            self._push(SetTrainingSettings({"device": value}))

    def _continue(self) -> None:
        run_id, extra, t = self.selection.display_id, self.extra_epochs.value(), self.training
        when_torch_loaded(lambda: t.continue_run(run_id, extra), t.message.emit)

    # -- training -> widgets --------------------------------------------------------------------
    def _apply_editability(self) -> None:
        state = self.training.state
        busy = self.training.busy
        for w in (self.device_combo, *self.choice_combos.values()):
            w.setEnabled(not busy)
        self.dataset_box.set_editable(not busy)
        self.training_form.set_editable(set() if busy else None)
        for section, form in self.choice_forms.items():
            if not busy:
                form.set_editable(None)
            elif state == "paused" and section == "optimizer":
                form.set_editable(set(form.specs))
            else:
                form.set_editable(set())

    def _update_buttons(self) -> None:
        state = self.training.state
        idle = state == "idle"
        self.train_button.setEnabled(idle)
        self.pause_button.setEnabled(state in ("running", "preparing"))
        self.resume_button.setEnabled(state in ("paused", "pausing"))
        self.stop_button.setEnabled(state in ("running", "preparing", "paused", "pausing"))
        self.continue_button.setEnabled(self.training.can_continue(self.selection.display_id))
        self.extra_epochs.setEnabled(idle)

    def _on_training_state_changed(self, state: str) -> None:
        self._update_buttons()
        self._apply_editability()
        text = STATE_TEXTS.get(state)
        if text:
            self.status_label.setText(text)
        if state == "preparing":
            self.message.hide()
            self.final_label.setText("")

    def _on_training_progress(self, text: str, fraction: float) -> None:
        self.status_label.setText(f"{text} {fraction:.0%}")

    def _on_training_fit_started(self, record) -> None:
        self.status_label.setText(f"Training on {record.device} ({record.precision}): "
                                  f"{record.train_samples} images, {record.steps_per_epoch} steps per epoch")

    def _on_training_batch(self, r) -> None:
        plan = self.training.plan
        if self.training.state != "running" or plan is None:
            return
        self.status_label.setText(
            f"Epoch {r.epoch}/{plan.config.epochs} · "
            f"batch {r.batch}/{r.batches} · loss {r.loss:.4f}{batch_score(r)} · "
            f"{r.images_per_s:,.0f} img/s · ETA {fmt_time(r.eta_s)}")

    def _on_training_epoch(self, r) -> None:
        self.final_label.setText(epoch_text(r))   # the task's metric or the accuracy (texts.py)

    def _on_training_failed(self, failure) -> None:
        self.message.setText(f"<b>{failure_title(failure)}.</b> {failure.message}".replace("\n", "<br>"))
        self.message.setToolTip(failure.traceback or failure.message)
        self.message.show()

    def _on_training_finished(self, entry) -> None:
        hist = self.training.history
        last = hist.final()
        status = hist.status
        if last:
            self.final_label.setText(final_text(last, len(hist.epochs)))
        self.status_label.setText(END_TEXTS.get(status, status))
        self._update_buttons()

    def hideEvent(self, event) -> None:  # noqa: N802 - Qt's name
        # hidden (dock closed, window closing): no preview thread may outlive the view
        self.preview.shutdown()
        super().hideEvent(event)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.preview.shutdown_all()
        super().closeEvent(event)
