"""Live refresh of the feature maps while a run trains, and the check made before any
network is built for the inspector.

``LiveRefresh`` is the part of InspectionState (a mixin: it uses the state's signals,
sample and time-lapse) that follows a training run: the run's network is built once,
with its seeded start weights, on a worker thread (frame 0 of the time-lapse is
captured there too); each epoch's checkpoint is then read into it on the GUI thread.

``refusal`` says, without building anything, why a network cannot be inspected: errors
in the graph, or an inspector's memory estimate larger than what this machine has free
(a crafted project must not be able to exhaust the app by being opened).
"""

from __future__ import annotations

import time

from visionstudio.core import memory as core_memory
from visionstudio.core.inspect import ModelSource, capture_activations, class_probabilities, read_run_weights
from visionstudio.ui.shell.tasks import BackgroundTask
from visionstudio.ui.shell.torch_loader import serial_gui_torch

LIVE_MIN_INTERVAL_S = 2.0
BUILDING = "Building the network in the background…"


def refusal(analysis) -> str | None:
    """Why the network cannot be inspected, found without building it: errors in the
    graph, or more memory than this machine has free (the inspector runs on the CPU and
    Grad-CAM adds a backward pass)."""
    if not analysis.ok or analysis.input_id is None or analysis.output_id is None:
        errors = analysis.errors
        last = str(errors[-1]) if errors else "the network has no single input and output"
        return f"The network cannot be built: {last}"
    estimate = core_memory.estimate_inference_memory(analysis, backward=True)
    problem = core_memory.memory_problem(estimate, core_memory.host_available())
    return f"⚠ The network {problem}" if problem else None


class LiveRefresh:
    """InspectionState's handlers of the run controller's signals (GUI thread). The
    "job" is the run controller's TrainingWorker: its plan and the folder it writes."""

    def _on_runs_fit_started(self, record) -> None:
        """The run's network, with its seeded start weights, is built on a worker thread
        (frame 0 of the time-lapse is captured there too); each epoch's weights go into it."""
        job = self.runs.worker
        self._live_run = job
        self._live_model = self._live_pending = None
        self.timelapse.clear(self.sample.key if self.sample is not None else None)
        self.timelapse_changed.emit()
        if job is None or refusal(job.plan.analysis) is not None:
            return                                # no live frames (the dock says why)
        plan = job.plan
        graph, analysis, seed = plan.graph.copy(), plan.analysis, plan.config.seed
        tensor = self.tensor if not plan.resume else None

        def work(_state):
            from visionstudio.core.build import build_model

            model = build_model(graph, analysis, seed=seed)
            model.eval()
            if tensor is None:
                return model, None
            acts, out = capture_activations(model, tensor)
            return model, (acts, class_probabilities(out))

        task = BackgroundTask(work, name="feature-maps-live-model", parent=self)
        task.finished.connect(lambda result, j=job, t=tensor: self._on_live_model_built(j, t, result))
        self._start(task)

    def _on_live_model_built(self, job, tensor, result) -> None:
        if self._live_run is not job:
            return                                # that run has ended
        serial_gui_torch()                        # each epoch's frame is captured on this thread
        self._live_model, frame = result
        if frame is not None and tensor is self.tensor:
            self.timelapse.add(0, *frame)
            self.timelapse_changed.emit()
        pending, self._live_pending = self._live_pending, None
        if pending is not None:
            self._on_runs_epoch(pending, late=True)

    def _on_runs_epoch(self, record, late: bool = False) -> None:
        """Epoch end (GUI thread): read the run's last checkpoint, store a time-lapse frame,
        ask for a redraw at most every LIVE_MIN_INTERVAL_S. ``late``: the epoch ended while
        the live network was being built; its frame is labelled by the checkpoint's epoch."""
        job = self.runs.worker
        if job is None or self.tensor is None:
            return
        if self._live_model is None:
            self._live_pending = record           # handled once the live network is built
            return
        epochs_done = read_run_weights(job.run_dir, self._live_model)
        if epochs_done is None:
            return
        # 1-based: frame n is after n epochs
        epoch = epochs_done if late else int(getattr(record, "epoch", epochs_done))
        acts, out = capture_activations(self._live_model, self.tensor)
        probs = class_probabilities(out)
        self.timelapse.add(epoch, acts, probs)
        self.live_epoch = epoch
        self.source = ModelSource(self._live_model, f"training now, after epoch {epoch}", True)
        self._model_stale, self.model_error = False, ""
        self._model_gen += 1                      # a build still running for the dock is stale
        self._cache = ((id(self._live_model), id(self.tensor)), acts, probs)
        self.timelapse_changed.emit()
        wait = LIVE_MIN_INTERVAL_S - (time.monotonic() - self._last_redraw)
        if wait <= 0:
            self._emit_live()
        elif not self._redraw_timer.isActive():
            self._redraw_timer.start(int(wait * 1000))

    def _emit_live(self) -> None:
        self._last_redraw = time.monotonic()
        self.model_changed.emit(self.describe())
        self.live_updated.emit(self.live_epoch or 0)

    def _on_runs_finished(self, _entry) -> None:
        self._live_model = self._live_run = self._live_pending = None
        self.invalidate_model()
