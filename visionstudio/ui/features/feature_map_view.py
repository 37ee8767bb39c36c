"""FeatureMapView: what the network makes of one sample, layer by layer.

Pick a validation sample (arrows, class filter) or any image file; pick a layer or
"All conv layers". Tabs: Feature maps (channel grid, colormap, per-channel or shared
scaling, click a channel to see it large, time-lapse through the run's epochs),
Filters, Prediction, Grad-CAM / saliency overlay, Evaluation (confusion matrix,
per-class metrics, gallery of a cell's samples). Run alone with demo data:
``python -m visionstudio.ui.features`` (``demo.py``: it builds this view, so the launcher
lives there and this module imports nothing of it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QFileDialog, QScrollArea, QWidget

from visionstudio.core.inspect import IMAGE_SUFFIXES, SampleError, conv_filters, grad_cam, saliency
from visionstudio.ui.features.layers import LayerRow, layer_rows
from visionstudio.ui.features.panels import describe_sample, sample_pixmap, save_activations
from visionstudio.ui.features.state import InspectionState
from visionstudio.ui.features.task_sample import cam_for_task, show_task_prediction

ALL_CONV = "__all_conv__"


class FeatureMapView(QWidget):
    """``staged``: built by ``build_steps`` one step per event-loop turn (the caller drives
    it, see docks.LaterDocks; view_layout.build_steps); else complete when constructed."""

    builds_in_steps = True

    def __init__(self, controller, parent: QWidget | None = None, *, staged: bool = False) -> None:
        super().__init__(parent)
        self.setObjectName("featureMapView")
        self.controller = controller
        self.state = InspectionState(controller, self)
        self._filtered = np.zeros(0, dtype=np.int64)
        self._dirty = True
        self._frame_epoch: int | None = None   # time-lapse frame shown (None: current weights)
        self.build_steps = self._build_steps()
        if not staged:
            for _ in self.build_steps:
                pass

    def _build_steps(self):
        from visionstudio.ui.features.view_layout import build_steps

        yield from build_steps(self)
        self._refresh_timer = QTimer(self)          # edits come in bursts: rebuild once after
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(300)
        self._refresh_timer.timeout.connect(self.refresh)
        st = self.state
        st.model_changed.connect(self._on_state_model_changed)
        st.dataset_changed.connect(self._on_state_dataset_changed)
        st.dataset_failed.connect(lambda m: self.sample_info.setText(f"⚠ {m}"))
        st.sample_changed.connect(self._on_state_sample_changed)
        st.live_updated.connect(self._on_state_live_updated)
        st.timelapse_changed.connect(self._update_timelapse)
        self.controller.analysis_changed.connect(self._on_controller_analysis_changed)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self._fill_layers()

    # -- layers ---------------------------------------------------------------------------------
    def layer_rows(self) -> list[LayerRow]:
        """The layers in network order, each block's inner layers under it (layers.py)."""
        return layer_rows(self.controller.document.graph, self.controller.network_analysis)

    def conv_layers(self) -> list[str]:
        return [row.name for row in self.layer_rows() if row.is_conv]

    def _fill_layers(self) -> None:
        rows = self.layer_rows()
        current = self.layer_combo.currentData()
        convs = [(row.text(), row.name) for row in rows if row.is_conv]
        for combo, items, keep in (
                (self.layer_combo, [("All conv layers", ALL_CONV)] + [
                    (row.text(), row.name) for row in rows], current),
                (self.filter_combo, convs, self.filter_combo.currentData()),
                (self.cam_layer_combo, convs, self.cam_layer_combo.currentData())):
            combo.blockSignals(True)
            combo.clear()
            for text, data in items:
                combo.addItem(text, data)
            i = combo.findData(keep) if keep is not None else -1
            if combo is self.cam_layer_combo and i < 0 and convs:
                i = combo.findData(convs[-1][1])    # the last conv layer: Grad-CAM's usual choice
            combo.setCurrentIndex(max(i, 0))
            combo.blockSignals(False)

    def shown_layers(self) -> list[str]:
        data = self.layer_combo.currentData()
        return self.conv_layers() if data in (ALL_CONV, None) else [data]

    def set_layer(self, name: str) -> None:
        """Show one layer (a node name) or ALL_CONV."""
        i = self.layer_combo.findData(name)
        if i < 0:
            raise ValueError(f"no layer named {name}")
        self.layer_combo.setCurrentIndex(i)

    # -- samples -------------------------------------------------------------------------------
    def _on_state_dataset_changed(self) -> None:
        names = self.state.class_names
        self.class_filter.blockSignals(True)
        self.class_filter.clear()
        self.class_filter.addItem("All classes", None)
        for i, n in enumerate(names):
            self.class_filter.addItem(n, i)
        self.class_filter.blockSignals(False)
        self.cam_class_combo.blockSignals(True)
        self.cam_class_combo.clear()
        self.cam_class_combo.addItem("Predicted class", None)
        for i, n in enumerate(names):
            self.cam_class_combo.addItem(n, i)
        self.cam_class_combo.blockSignals(False)
        self._apply_filter()

    def _apply_filter(self) -> None:
        self._filtered = self.state.filter_indices(self.class_filter.currentData())
        n = len(self._filtered)
        self.index_spin.blockSignals(True)
        self.index_spin.setRange(1 if n else 0, max(n, 0))
        self.index_spin.blockSignals(False)
        self.count_label.setText(f"of {n}")
        s = self.state.sample
        if s is not None and s.index is not None and s.index in self._filtered:
            pos = int(np.flatnonzero(self._filtered == s.index)[0])
            self.index_spin.blockSignals(True)
            self.index_spin.setValue(pos + 1)
            self.index_spin.blockSignals(False)

    def _on_class_filter_changed(self, _i: int) -> None:
        self._apply_filter()
        if len(self._filtered):
            s = self.state.sample
            if s is None or s.index not in self._filtered:
                self.choose_sample(int(self._filtered[0]))

    def _on_index_spin_changed(self, value: int) -> None:
        if 1 <= value <= len(self._filtered):
            self.choose_sample(int(self._filtered[value - 1]))

    def step(self, delta: int) -> None:
        n = len(self._filtered)
        if not n:
            return
        pos = (self.index_spin.value() - 1 + delta) % n
        self.index_spin.setValue(pos + 1)      # -> choose_sample

    def choose_sample(self, index: int) -> None:
        """Show validation sample ``index`` (an index into the whole validation set)."""
        self.state.choose_validation(int(index))

    def open_image(self, path: str | Path | None = None) -> bool:
        if path is None:
            patterns = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
            path, _ = QFileDialog.getOpenFileName(self, "Open an image as sample", "",
                                                  f"Images ({patterns});;All files (*)")
            if not path:
                return False
        try:
            self.state.choose_file(path)
        except SampleError as exc:
            self.sample_info.setText(f"⚠ {exc}")
            return False
        return True

    def _on_state_sample_changed(self, sample) -> None:
        self.thumb.setPixmap(sample_pixmap(sample.display(), 64))
        if sample.index is not None:
            self._apply_filter()
        self._frame_epoch = None
        self._dirty = True
        self.refresh()

    # -- refresh ----------------------------------------------------------------------------------
    def _on_state_model_changed(self, text: str) -> None:
        if text:
            warn = text.startswith("⚠") or "cannot be built" in text
            self.weights_label.setText(text)
            self.weights_label.setStyleSheet("color:#e8a33c; font-weight:bold" if warn else "")
        else:
            self._dirty = True
            if self.isVisible():
                self._refresh_timer.start()

    def _on_state_live_updated(self, _epoch: int) -> None:
        if self.isVisible() and self._frame_epoch is None:
            self._dirty = True
            self.refresh()

    def _on_controller_analysis_changed(self, _a) -> None:
        self._fill_layers()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self.state.dataset is None and self.state._dataset_key is None:
            self.state.load_dataset()
        if self._dirty:
            self.refresh()

    def current_activations(self):
        """(activations, probabilities) as shown: the time-lapse frame when scrubbing."""
        if self._frame_epoch is not None:
            tl = self.state.timelapse
            try:
                return tl.frame(self._frame_epoch), tl.probabilities(self._frame_epoch)
            except KeyError:
                self._frame_epoch = None
        return self.state.activations()

    def refresh(self) -> None:
        """Redraw the visible tab for the current sample and weights."""
        if self.state.sample is None:
            return
        model = self.state.model()
        self._dirty = False
        problem = self.state.sample_problem()
        if model is None or problem:
            self.grid.clear_layers()
            self.detail.clear()
            self.overlay.clear()
            if problem:
                self.sample_info.setText(f"⚠ {problem}")
            return
        acts, probs = self.current_activations()
        self.sample_info.setText(describe_sample(self.state.sample, self.state.class_names, probs))
        tab = self.tabs.currentIndex()
        if tab == 0:
            self._refresh_maps(acts)
        elif tab == 1:
            self._refresh_filters()
        elif tab == 2 and not show_task_prediction(self):
            self.prediction.show_probabilities(probs, self.state.class_names, self.state.sample.label)
        elif tab == 3:
            self._refresh_cam()

    def _refresh_maps(self, acts=None) -> None:
        if acts is None:
            acts, _ = self.current_activations()
        layers = self.shown_layers()
        self.grid.show_activations(acts, layers)
        sel = self.grid.selected
        if sel is not None and sel[0] in acts:
            self.detail.show_channel(sel[0], sel[1], acts[sel[0]], self.grid._cmap)

    def _on_layer_changed(self, _i: int) -> None:
        self.grid.selected = None
        self.detail.clear()
        self._refresh_maps()

    def _on_colormap_changed(self, name: str) -> None:
        self.grid.set_colormap(name)
        sel = self.grid.selected
        if sel is not None:
            self._refresh_maps()

    def _on_norm_changed(self, _i: int) -> None:
        self.grid.set_per_channel(bool(self.norm_combo.currentData()))
        self._refresh_maps()

    def _on_grid_channel_clicked(self, layer: str, channel: int) -> None:
        acts, _ = self.current_activations()
        if layer in acts:
            self.detail.show_channel(layer, channel, acts[layer], self.grid._cmap)

    def _refresh_filters(self) -> None:
        layer = self.filter_combo.currentData()
        model = self.state.model()
        if layer is None or model is None:
            self.filters.clear("This network has no convolution layers.")
            return
        from visionstudio.core.inspect.activations import modules_by_node

        module = modules_by_node(model).get(layer)
        if module is None:
            self.filters.clear(f"{layer} is not part of the built network.")
            return
        self.filters.show_filters(layer, conv_filters(module))

    def _refresh_cam(self) -> None:
        st = self.state
        model = st.model()
        if model is None or st.tensor is None or st.sample_problem():
            return
        method = self.method_combo.currentData()
        target = self.cam_class_combo.currentData()
        layer = self.cam_layer_combo.currentData()
        names = st.class_names
        try:
            if cam_for_task(self, layer):
                return
            if method == "saliency":
                heat, target = saliency(model, st.tensor, target)
                what = "Saliency: how strongly each input pixel moves the class score"
            else:
                if layer is None:
                    self.cam_caption.setText("Grad-CAM needs a convolution layer; this network has none.")
                    self.overlay.clear()
                    return
                heat, target = grad_cam(model, st.tensor, layer, target)
                what = f"Grad-CAM at {layer}: where the evidence for the class lies"
        except ValueError as exc:
            self.cam_caption.setText(f"⚠ {exc}")
            self.overlay.clear()
            return
        cls = names[target] if target < len(names) else str(target)
        self.cam_caption.setText(f"{what} — class <b>{cls}</b>"
                                 + (" (predicted)" if self.cam_class_combo.currentData() is None else ""))
        self.overlay.show_overlay(st.sample.display(), heat, self.opacity_slider.value() / 100)

    # -- time-lapse --------------------------------------------------------------------------------
    def _update_timelapse(self) -> None:
        tl = self.state.timelapse
        epochs = tl.epochs()
        slider = self.timelapse_slider
        at_end = slider.value() >= slider.maximum()
        slider.blockSignals(True)
        slider.setEnabled(len(epochs) > 1)
        slider.setRange(0, max(len(epochs) - 1, 0))
        if at_end or self._frame_epoch is None:
            slider.setValue(slider.maximum())
        elif self._frame_epoch in epochs:
            slider.setValue(epochs.index(self._frame_epoch))
        slider.blockSignals(False)
        self._label_timelapse()

    def _label_timelapse(self) -> None:
        tl = self.state.timelapse
        epochs = tl.epochs()
        if not epochs:
            self.timelapse_label.setText("train to record this sample's maps per epoch")
            return
        e = epochs[self.timelapse_slider.value()] if epochs else None
        note = " (thinned to fit memory)" if tl.thinned else ""
        live = "" if self._frame_epoch is not None else " — current"
        self.timelapse_label.setText(f"after epoch {e} of {epochs[-1]}{live}{note}")

    def _on_timelapse_moved(self, value: int) -> None:
        epochs = self.state.timelapse.epochs()
        if not epochs:
            return
        # the last position is "now": the current weights (the newest frame's weights)
        self._frame_epoch = None if value >= len(epochs) - 1 else epochs[value]
        self._label_timelapse()
        self.refresh()

    def scrub_to_epoch(self, epoch: int) -> None:
        self.timelapse_slider.setValue(self.state.timelapse.epochs().index(epoch))

    # -- evaluation ---------------------------------------------------------------------------------
    def _on_evaluation_sample_chosen(self, index: int) -> None:
        self.class_filter.setCurrentIndex(0)
        self.choose_sample(index)
        self.tabs.setCurrentIndex(0)
        self.reveal_header()

    def reveal_header(self) -> None:
        """Scroll the sample header into view when something above wraps this view in a
        scroll area (the header itself never scrolls within the view)."""
        parent = self.parentWidget()
        while parent is not None and not isinstance(parent, QScrollArea):
            parent = parent.parentWidget()
        if parent is not None:
            parent.ensureWidgetVisible(self.header, 0, 0)

    # -- export -----------------------------------------------------------------------------------
    def export_activations(self, path: str | Path | None = None) -> list[Path]:
        """The shown layers' activations as .npy (one file per layer when several)."""
        acts, _ = self.current_activations()
        layers = [n for n in self.shown_layers() if n in acts]
        if not layers:
            return []
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export activations",
                                                  f"{layers[0] if len(layers) == 1 else 'activations'}.npy",
                                                  "NumPy array (*.npy)")
            if not path:
                return []
        return save_activations({name: acts[name].array for name in layers}, Path(path))

    def export_grid_png(self, path: str | Path | None = None) -> Path | None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export grid", "feature-maps.png", "PNG (*.png)")
            if not path:
                return None
        p = Path(path)
        return p if self.grid.grab().save(str(p), "PNG") else None

    # -- shutdown ---------------------------------------------------------------------------------
    def shutdown(self) -> None:
        self.state.wait_for_tasks()

