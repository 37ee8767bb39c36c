"""InspectionState: the model, dataset, chosen sample and time-lapse the feature views share.

Model source: the current graph built with the newest weights — the shown run's
``checkpoints/last`` (the run the training dashboard shows, else the project's last
run), or the seeded initial weights when there is none (``source.trained`` False; the
view says so). While a run trains, each epoch's checkpoint is read (the trainer writes
it atomically before announcing the epoch) into a CPU copy of the network; the chosen
sample's activations are stored in the TimeLapse every epoch and the view redraws at
most every ``LIVE_MIN_INTERVAL_S`` seconds. Nothing here touches the training thread.

No network is built on the GUI thread: a project is untrusted input, and a large one
takes seconds (or all the memory) to build. ``model()`` first checks, without
building, that the graph is sound and that the inspector's memory estimate fits
(:mod:`visionstudio.core.memory`); then it builds on a BackgroundTask, one build at a
time, and returns None until the network is ready (``model_changed`` says so).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from visionstudio.core.inspect import (
    Sample,
    TimeLapse,
    capture_activations,
    class_probabilities,
    inspection_model,
    load_image_file,
    prepare_sample,
)
from visionstudio.ui.features.live import BUILDING, LiveRefresh, refusal
from visionstudio.ui.plots.selection import selection_for
from visionstudio.ui.shell.tasks import BackgroundTask, one_line
from visionstudio.ui.shell.torch_loader import serial_gui_torch
from visionstudio.ui.training.run_controller import runs_for

__all__ = ["BUILDING", "InspectionState", "refusal"]


class InspectionState(QObject, LiveRefresh):
    model_changed = Signal(str)          # "": the model changed (redraw); else its description
    dataset_changed = Signal()
    dataset_failed = Signal(str)
    sample_changed = Signal(object)      # Sample
    live_updated = Signal(int)           # epoch; the view redraws (throttled)
    timelapse_changed = Signal()
    message = Signal(str)

    def __init__(self, controller, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.source = None                # ModelSource
        self.model_error = ""
        # val_images, val_labels (the task's layout), class_names, mean, std, task, target_names,
        # train_targets (a regression's, to refit a normalisation no run saved): _validation_only
        self.dataset: Any = None
        self._task_objective = None       # (model, its run's Objective): task_sample.task_objective
        self.sample: Sample | None = None
        self.tensor = None
        self.timelapse = TimeLapse()
        self.live_epoch: int | None = None
        self._model_stale = True
        self._dataset_key = None
        self._tasks: set[BackgroundTask] = set()
        self._cache: tuple | None = None
        self._last_redraw = 0.0
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.timeout.connect(self._emit_live)
        self._live_model = None
        self._live_run = None
        self._live_pending = None         # an epoch that ended while the live model was building
        self._model_gen = 0               # bumped when the model is invalidated or replaced
        self._build_task: BackgroundTask | None = None
        self._build_queued = False
        controller.analysis_changed.connect(self._on_controller_analysis_changed)
        controller.document_replaced.connect(self._on_controller_document_replaced)
        self._bind_document(controller.document)
        self.runs = runs_for(controller)             # the training: live frames while it runs
        self.selection = selection_for(controller)   # the run the dashboard shows: its weights
        self.runs.fit_started.connect(self._on_runs_fit_started)
        self.runs.epoch.connect(self._on_runs_epoch)
        self.runs.finished.connect(self._on_runs_finished)
        self.selection.display_changed.connect(self._on_selection_display_changed)

    # -- wiring ---------------------------------------------------------------------------

    def _bind_document(self, doc) -> None:
        doc.settings_changed.connect(self._on_document_settings_changed)

    def _on_document_settings_changed(self, section: str) -> None:
        if section in ("dataset", "training") and self._dataset_key is not None:
            if self._wanted_dataset_key() != self._dataset_key:
                self.load_dataset()
        if section == "runs" and not self.busy_training:
            self.invalidate_model()

    def _on_controller_document_replaced(self, doc) -> None:
        self._bind_document(doc)
        self.timelapse.clear()
        self.invalidate_model()
        if self._dataset_key is not None:
            self.load_dataset()

    def _on_controller_analysis_changed(self, _analysis) -> None:
        if not self.busy_training:
            self.invalidate_model()
            # the Input's shape sizes the dataset (image folders) and decides its channels
            if self._dataset_key is not None and self._wanted_dataset_key() != self._dataset_key:
                self.load_dataset()

    @property
    def busy_training(self) -> bool:
        return self.runs.busy

    # -- the model --------------------------------------------------------------------------
    def invalidate_model(self) -> None:
        self._model_stale = True
        self._model_gen += 1
        self._cache = None
        self.model_changed.emit("")

    def _run_folder(self):
        store = self.runs.store
        run_id = self.selection.display_id or store.latest_id()
        if run_id is None:
            return None, ""
        entry = store.entry(run_id) or {}
        return store.folder(run_id), str(entry.get("name") or "the run")

    def model(self):
        """The network to inspect, or None: still being built on a worker thread
        (``building``), or it cannot be built or does not fit in memory (``model_error``
        says which). ``model_changed`` announces the built network."""
        if self._model_stale:
            self._model_stale = False
            self._cache = None
            self.source = None
            self._start_build()
        return self.source.model if self.source is not None else None

    @property
    def building(self) -> bool:
        return self.model_error == BUILDING

    def _start_build(self) -> None:
        c = self.controller
        problem = refusal(c.network_analysis)   # the whole network, whatever the canvas shows
        self.model_error = problem or BUILDING
        self.model_changed.emit(self.describe())
        if problem:
            return
        if self._build_task is not None:     # one build at a time: the newest graph after it
            self._build_queued = True
            return
        graph, analysis = c.document.graph.copy(), c.network_analysis
        seed, gen = c.document.training.seed, self._model_gen
        folder, name = self._run_folder()

        def work(_state):
            return inspection_model(graph, analysis, seed=seed, run_folder=folder, run_name=name)

        task = BackgroundTask(work, name="feature-maps-model", parent=self, report_errors=False)
        task.finished.connect(lambda source, g=gen: self._on_model_built(g, source))
        task.failed.connect(lambda exc, g=gen: self._on_model_failed(g, exc))
        task.done.connect(self._on_build_ended)
        self._build_task = task
        self._start(task)

    def _on_model_built(self, gen: int, source) -> None:
        if gen != self._model_gen:
            return                            # built for a graph that has changed since
        serial_gui_torch()                    # its forward passes run on this thread
        self.source, self.model_error, self._cache = source, "", None
        self.model_changed.emit("")           # the views redraw with it
        self.model_changed.emit(self.describe())

    def _on_model_failed(self, gen: int, exc: BaseException) -> None:
        if gen == self._model_gen:
            self.model_error = f"The network cannot be built: {one_line(exc)}"
            self.model_changed.emit(self.describe())

    def _on_build_ended(self) -> None:
        self._build_task = None
        if self._build_queued:
            self._build_queued = False
            if not self._model_stale and self.source is None and self.building:
                self._start_build()

    def set_model(self, model, description: str, trained: bool = True) -> None:
        """Use ``model`` as is (demos, tests, a worker's final weights)."""
        from visionstudio.core.inspect import ModelSource

        serial_gui_torch()                    # its forward passes run on this thread
        model.eval()
        self.source = ModelSource(model, description, trained)
        self._model_stale = False
        self._model_gen += 1
        self.model_error = ""
        self._cache = None
        self.model_changed.emit(self.describe())

    def describe(self) -> str:
        if self.model_error:
            return self.model_error
        if self.source is None:
            return ""
        prefix = "Weights: " if self.source.trained else "⚠ Untrained — "
        return prefix + self.source.description

    # -- the dataset --------------------------------------------------------------------------
    def _wanted_dataset_key(self):
        doc = self.controller.document
        shape = self.controller.network_analysis.input_shape
        return (repr(doc.dataset.to_dict()), doc.training.val_split, doc.training.seed,
                tuple(shape) if shape else None)

    def load_dataset(self) -> BackgroundTask:
        """Load the project's dataset's validation set on a worker thread."""
        from visionstudio.core.data.registry import load_dataset

        doc = self.controller.document
        key = self._wanted_dataset_key()
        self._dataset_key = key
        config, val_split, seed = doc.dataset, doc.training.val_split, doc.training.seed
        shape = key[3] if key[3] and len(key[3]) == 3 else None

        def work(state):
            loaded = load_dataset(config, val_split=val_split, seed=seed, target_shape=shape,
                                   progress=lambda _m, f: state.set_progress(f),
                                   cancel=lambda: state.cancelled)
            return _validation_only(loaded)

        task = BackgroundTask(work, name="feature-maps-dataset", parent=self, report_errors=False)
        task.finished.connect(self.set_dataset)
        task.failed.connect(self._on_dataset_failed)
        return self._start(task)

    def _start(self, task: BackgroundTask) -> BackgroundTask:
        self._tasks.add(task)
        task.done.connect(lambda t=task: self._tasks.discard(t))
        return task.start()

    def _on_dataset_failed(self, exc: BaseException) -> None:
        self.dataset_failed.emit(one_line(exc))

    def set_dataset(self, loaded) -> None:
        self.dataset = loaded
        self.dataset_changed.emit()
        if self.sample is None or self.sample.index is not None:
            n = self.num_samples
            if n:
                idx = self.sample.index if self.sample is not None and self.sample.index < n else 0
                self.choose_validation(idx)

    @property
    def num_samples(self) -> int:
        d = self.dataset
        return 0 if d is None or d.val_labels is None else int(len(d.val_labels))

    def filter_indices(self, cls: int | None) -> np.ndarray:
        """Validation indices showing class ``cls`` (None: all): a detection image when any
        of its boxes is of that class; regression labels have no class."""
        if not self.num_samples:
            return np.zeros(0, dtype=np.int64)
        labels = self.dataset.val_labels.numpy()
        if cls is None or self.task == "regression":
            return np.arange(len(labels))
        if self.task == "detection":
            return np.flatnonzero((labels[..., 0] == cls).any(axis=1))
        return np.flatnonzero((labels[:, 0] if labels.ndim == 2 else labels) == cls)

    @property
    def task(self) -> str:
        """What the shown labels are: the loaded dataset's task (else the project's)."""
        d = self.dataset
        return getattr(d, "task", None) or getattr(self.controller.document, "task", "classification")

    @property
    def class_names(self) -> list[str]:
        return list(self.dataset.class_names) if self.dataset is not None else []

    def _stats(self):
        d = self.dataset
        if d is None:
            return None, None
        return d.mean, d.std

    # -- the sample -------------------------------------------------------------------------------
    def choose_validation(self, index: int) -> Sample:
        d = self.dataset
        image = d.val_images[index].numpy()
        label = int(d.val_labels[index]) if self.task == "classification" else None
        self._set_sample(Sample(np.ascontiguousarray(image), label, f"validation #{index}", int(index)))
        return self.sample

    def choose_file(self, path) -> Sample:
        """Raises SampleError (message for the user) when the file cannot be used."""
        shape = self.controller.network_analysis.input_shape
        sample = load_image_file(path, tuple(shape) if shape else ())
        self._set_sample(sample)
        return sample

    def set_sample(self, sample: Sample) -> None:
        self._set_sample(sample)

    def _set_sample(self, sample: Sample) -> None:
        self.sample = sample
        mean, std = self._stats()
        self.tensor = prepare_sample(sample.image, mean, std)
        self._cache = None
        if self.timelapse.sample_key != sample.key:
            self.timelapse.clear(sample.key)
            self.timelapse_changed.emit()
        self.sample_changed.emit(sample)

    # -- what the model makes of the sample -------------------------------------------------------
    def sample_problem(self) -> str | None:
        """Why the chosen sample cannot go through the network (shape mismatch), else None."""
        if self.tensor is None:
            return None
        want = self.controller.network_analysis.input_shape
        have = tuple(int(d) for d in self.tensor.shape[1:])
        if want is None or tuple(want) == have:
            return None
        fmt = "×".join
        return (f"The sample is {fmt(map(str, have))} but the network's Input is "
                f"{fmt(map(str, want))}: set the Input to the dataset's shape (or pick a dataset "
                f"that fits) to see what the network makes of it.")

    def activations(self):
        """({node: Activation}, probabilities) for the chosen sample; cached per model+sample."""
        model = self.model()
        if model is None or self.tensor is None or self.sample_problem():
            return {}, None
        key = (id(model), id(self.tensor))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1], self._cache[2]
        acts, out = capture_activations(model, self.tensor)
        probs = class_probabilities(out) if self.task == "classification" else None
        self._cache = (key, acts, probs)
        return acts, probs

    def _on_selection_display_changed(self) -> None:
        if not self.busy_training:
            self.invalidate_model()

    # -- shutdown -------------------------------------------------------------------------------
    def wait_for_tasks(self, ms: int = 30_000) -> None:
        for task in list(self._tasks):
            task.cancel()
            task.wait(ms)

    def start_task(self, task: BackgroundTask) -> BackgroundTask:
        return self._start(task)


def _validation_only(loaded):
    """Keep what the viewer needs; a lazy validation set is gathered (at most 10,000)."""
    from types import SimpleNamespace

    import torch

    images, labels = loaded.val_images, loaded.val_labels
    task = getattr(loaded, "task", "classification")
    if (images is None or labels is None or len(labels) == 0) and loaded.val_dataset is not None:
        n = min(len(loaded.val_dataset), 10_000)
        items = [loaded.val_dataset[i] for i in range(n)]
        images = torch.stack([torch.as_tensor(x) for x, _ in items]) if items else None
        labels = (None if not items else torch.stack([torch.as_tensor(y) for _, y in items])
                  if task != "classification"
                  else torch.tensor([int(y) for _, y in items], dtype=torch.int64))
    if images is None or labels is None or len(labels) == 0:
        images, labels = loaded.train_images, loaded.train_labels   # no validation split: train
    from visionstudio.core.training.feed import TrainData

    mean, std = TrainData.from_loaded(loaded).stats()   # the trainer's own rule
    # a regression's training targets refit its normalisation when a run saved none
    fit = loaded.train_labels if task == "regression" else None
    return SimpleNamespace(val_images=images, val_labels=labels, class_names=list(loaded.class_names),
                           mean=tuple(mean), std=tuple(std), task=task,
                           target_names=list(getattr(loaded, "target_names", []) or []), train_targets=fit)
