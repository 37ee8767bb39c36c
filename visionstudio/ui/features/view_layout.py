"""The FeatureMapView's widgets and their wiring (construction only; behaviour lives in
feature_map_view.py)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from visionstudio.ui.features.boxes_overlay import BoxesView
from visionstudio.ui.features.evaluation_panel import EvaluationPanel
from visionstudio.ui.features.filters import FiltersView
from visionstudio.ui.features.grid import COLORMAPS, DEFAULT_COLORMAP, ActivationGrid
from visionstudio.ui.features.panels import ChannelDetail, OverlayView, PredictionPlot
from visionstudio.ui.features.receptive_view import FieldOverlay, attach
from visionstudio.ui.features.task_sample import box_chosen, sync_task
from visionstudio.ui.features.task_views import TaskEvaluationPanel


def describe(widget: QWidget, tip: str, name: str, object_name: str = "") -> QWidget:
    """Give ``widget`` its tooltip and accessible name (and objectName when given)."""
    widget.setToolTip(tip)
    widget.setAccessibleName(name)
    if object_name:
        widget.setObjectName(object_name)
    return widget


def build_steps(view):
    """Create the view's widgets as attributes of ``view`` and connect them to its slots,
    one step per ``yield``, each at most one pyqtgraph plot (15-35 ms of CPU
    each; the whole view 0.2-0.4 s, a frozen window when built in one turn).

    The sample header stays put above the tabs; a tab too big for the dock scrolls on
    its own, so the header never scrolls out of view (the view is small enough that the
    dock does not wrap it in a scroll area of its own)."""
    view.header = _sample_header(view)
    view.tabs = QTabWidget()
    view.tabs.setObjectName("featureTabs")
    lay = QVBoxLayout(view)
    lay.setContentsMargins(4, 4, 4, 4)
    lay.addWidget(view.header)
    lay.addWidget(view.tabs, 1)
    yield
    view.grid = ActivationGrid()
    yield
    view.detail = ChannelDetail()
    yield
    view.tabs.addTab(_scrolling(_maps_tab(view)), "Feature maps")
    yield
    view.tabs.addTab(_scrolling(_filters_tab(view)), "Filters")
    yield
    view.prediction = PredictionPlot()
    view.boxes = BoxesView()     # the tasks beyond classification (task_sample.py)
    view.prediction_stack = _stacked("predictionStack", view.prediction, view.boxes)
    view.tabs.addTab(_scrolling(view.prediction_stack), "Prediction")
    yield
    view.tabs.addTab(_scrolling(_cam_tab(view)), "Grad-CAM")
    yield
    view.evaluation = EvaluationPanel(view.state)
    yield
    view.task_evaluation = TaskEvaluationPanel(view.state)
    view.evaluation_stack = _stacked("evaluationStack", view.evaluation, view.task_evaluation)
    view.tabs.addTab(_scrolling(view.evaluation_stack), "Evaluation")
    yield
    _connect(view)


def _stacked(name: str, *pages: QWidget) -> QStackedWidget:
    stack = QStackedWidget()
    stack.setObjectName(name)
    for page in pages:
        stack.addWidget(page)
    return stack


def _scrolling(page: QWidget) -> QScrollArea:
    """``page`` in a frameless scroll area: it scrolls when the dock is smaller than it."""
    area = QScrollArea()
    area.setObjectName(f"{page.objectName() or 'featureTab'}Scroll")
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidgetResizable(True)
    area.setWidget(page)
    return area


def _sample_header(view) -> QWidget:
    """The thumbnail, with the sample picker, the sample line and the weights line beside it."""
    header = QWidget()
    header.setObjectName("sampleHeader")
    rows = QVBoxLayout()
    rows.setSpacing(2)
    rows.addLayout(_sample_bar(view))
    rows.addWidget(view.sample_info)
    rows.addWidget(view.weights_label)
    lay = QHBoxLayout(header)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(view.thumb, 0, Qt.AlignmentFlag.AlignTop)
    lay.addLayout(rows, 1)
    return header


def _sample_bar(view) -> QHBoxLayout:
    """The sample picker (the thumbnail, sample and weights lines are made here too)."""
    view.weights_label = QLabel("")
    view.weights_label.setObjectName("weightsLabel")
    view.weights_label.setWordWrap(True)

    view.class_filter = QComboBox()
    view.class_filter.setObjectName("classFilter")
    view.class_filter.addItem("All classes", None)
    describe(view.class_filter, "Step only through validation samples of this class", "Class filter")
    view.prev_button = QToolButton()
    view.prev_button.setArrowType(Qt.ArrowType.LeftArrow)
    describe(view.prev_button, "Previous sample (Alt+Left)", "Previous sample", "prevSampleButton")
    view.next_button = QToolButton()
    view.next_button.setArrowType(Qt.ArrowType.RightArrow)
    describe(view.next_button, "Next sample (Alt+Right)", "Next sample", "nextSampleButton")
    view.index_spin = QSpinBox()
    view.index_spin.setObjectName("sampleIndex")
    view.index_spin.setRange(0, 0)
    describe(view.index_spin, "Index of the validation sample to inspect "
             "(Alt+Left / Alt+Right step through them)", "Sample index")
    view.count_label = QLabel("")
    view.open_button = QPushButton("Open image…")
    view.open_button.setObjectName("openImageButton")
    describe(view.open_button, "Feed any image file to the network instead of a validation sample",
             "Open image as sample")
    view.thumb = QLabel()
    view.thumb.setObjectName("sampleThumbnail")
    view.thumb.setFixedSize(64, 64)
    view.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
    view.thumb.setStyleSheet("background:#000")
    view.sample_info = QLabel("Loading the validation set…")
    view.sample_info.setObjectName("sampleInfo")
    view.sample_info.setWordWrap(True)
    bar = QHBoxLayout()
    bar.addWidget(QLabel("Sample:"))
    for w in (view.class_filter, view.prev_button, view.index_spin, view.next_button,
              view.count_label, view.open_button):
        bar.addWidget(w)
    bar.addStretch(1)
    return bar


def _maps_controls(view) -> QHBoxLayout:
    view.layer_combo = QComboBox()
    view.layer_combo.setObjectName("layerCombo")
    describe(view.layer_combo, "The layer whose feature maps are shown", "Layer")
    view.cmap_combo = QComboBox()
    view.cmap_combo.setObjectName("colormapCombo")
    for name in (*COLORMAPS, "gray"):
        view.cmap_combo.addItem(name)
    view.cmap_combo.setCurrentText(DEFAULT_COLORMAP)
    describe(view.cmap_combo, "Colour map used to draw the activations", "Colour map")
    view.norm_combo = QComboBox()
    view.norm_combo.setObjectName("normCombo")
    view.norm_combo.addItem("Scale each channel", True)
    view.norm_combo.addItem("Shared scale per layer", False)
    describe(view.norm_combo, "Scale each channel to its own range, or all channels of a layer "
             "to one shared range (to compare their strengths)", "Normalisation")
    view.export_npy_button = QPushButton("Export .npy…")
    view.export_png_button = QPushButton("Export PNG…")
    describe(view.export_npy_button, "Save the shown layers' activations as NumPy .npy files",
             "Export activations as .npy", "exportActivationsButton")
    describe(view.export_png_button, "Save the feature-map grid as a PNG image",
             "Export feature maps as PNG", "exportGridPngButton")
    controls = QHBoxLayout()
    for label, w in (("Layer:", view.layer_combo), ("Colours:", view.cmap_combo), ("", view.norm_combo)):
        if label:
            controls.addWidget(QLabel(label))
        controls.addWidget(w)
    controls.addStretch(1)
    controls.addWidget(view.export_npy_button)
    controls.addWidget(view.export_png_button)
    return controls


def _maps_tab(view) -> QWidget:
    """The Feature maps tab around ``view.grid`` and ``view.detail`` (made before)."""
    controls = _maps_controls(view)
    view.grid_scroll = QScrollArea()      # a deep network's maps scroll (grid.MIN_MAP_HEIGHT each)
    view.grid_scroll.setObjectName("activationGridScroll")
    view.grid_scroll.setWidgetResizable(True)
    view.grid_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.grid_scroll.setWidget(view.grid)
    view.field_overlay = FieldOverlay()   # the hovered pixel's receptive field on the sample
    side = QSplitter(Qt.Orientation.Vertical)
    side.addWidget(view.detail)
    side.addWidget(view.field_overlay)
    split = QSplitter()
    split.addWidget(view.grid_scroll)
    split.addWidget(side)
    split.setStretchFactor(0, 3)
    split.setStretchFactor(1, 1)
    split.setSizes([720, 280])
    view.timelapse_slider = QSlider(Qt.Orientation.Horizontal)
    view.timelapse_slider.setObjectName("timelapseSlider")
    view.timelapse_slider.setEnabled(False)
    describe(view.timelapse_slider, "Scrub through this sample's feature maps as recorded after "
             "each training epoch", "Time-lapse epoch")
    view.timelapse_label = QLabel("Time-lapse: train to record this sample's maps per epoch")
    view.timelapse_label.setObjectName("timelapseLabel")
    tl = QHBoxLayout()
    tl.addWidget(QLabel("Time-lapse:"))
    tl.addWidget(view.timelapse_slider, 1)
    tl.addWidget(view.timelapse_label)
    view.hover_label = QLabel("Hover a channel for its statistics; click it to see it large; "
                              "wheel zooms, drag pans.")
    view.hover_label.setObjectName("hoverLabel")
    maps = QWidget()
    ml = QVBoxLayout(maps)
    ml.addLayout(controls)
    ml.addWidget(split, 1)
    ml.addWidget(view.hover_label)
    ml.addLayout(tl)
    return maps


def _filters_tab(view) -> QWidget:
    view.filter_combo = QComboBox()
    view.filter_combo.setObjectName("filterLayerCombo")
    describe(view.filter_combo, "The conv layer whose kernels are shown", "Conv layer")
    view.filters = FiltersView()
    view.filters.top.insertWidget(0, QLabel("Conv layer:"))
    view.filters.top.insertWidget(1, view.filter_combo)
    return view.filters


def _cam_tab(view) -> QWidget:
    view.method_combo = QComboBox()
    view.method_combo.setObjectName("camMethod")
    view.method_combo.addItem("Grad-CAM", "gradcam")
    view.method_combo.addItem("Saliency (input gradient)", "saliency")
    describe(view.method_combo, "Grad-CAM: where a conv layer sees evidence for the class; "
             "Saliency: how strongly each input pixel moves the class score", "Attribution method")
    view.cam_layer_combo = QComboBox()
    view.cam_layer_combo.setObjectName("camLayerCombo")
    describe(view.cam_layer_combo, "The conv layer Grad-CAM looks at", "Grad-CAM layer")
    view.cam_class_combo = QComboBox()
    view.cam_class_combo.setObjectName("camClassCombo")
    view.cam_class_combo.addItem("Predicted class", None)
    describe(view.cam_class_combo, "The class whose evidence is shown (default: the predicted one)",
             "Class to explain")
    view.opacity_slider = QSlider(Qt.Orientation.Horizontal)
    view.opacity_slider.setObjectName("opacitySlider")
    view.opacity_slider.setRange(0, 100)
    view.opacity_slider.setValue(55)
    view.opacity_slider.setMaximumWidth(160)
    describe(view.opacity_slider, "How opaque the heat map is over the sample", "Heat-map opacity")
    view.cam_caption = QLabel("")
    view.cam_caption.setObjectName("camCaption")
    view.cam_caption.setWordWrap(True)
    view.overlay = OverlayView()
    cam = QWidget()
    cl = QVBoxLayout(cam)
    cr = QHBoxLayout()
    for label, w in (("", view.method_combo), ("Layer:", view.cam_layer_combo),
                     ("Class:", view.cam_class_combo), ("Opacity:", view.opacity_slider)):
        if label:
            cr.addWidget(QLabel(label))
        cr.addWidget(w)
    cr.addStretch(1)
    cl.addLayout(cr)
    cl.addWidget(view.cam_caption)
    cl.addWidget(view.overlay, 1)
    return cam


def _connect(view) -> None:
    view.class_filter.currentIndexChanged.connect(view._on_class_filter_changed)
    view.prev_button.clicked.connect(lambda: view.step(-1))
    view.next_button.clicked.connect(lambda: view.step(1))
    view.index_spin.valueChanged.connect(view._on_index_spin_changed)
    view.open_button.clicked.connect(lambda: view.open_image())
    for seq, delta in (("Alt+Left", -1), ("Alt+Right", 1)):
        sc = QShortcut(QKeySequence(seq), view)
        sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        sc.activated.connect(lambda d=delta: view.step(d))
    view.layer_combo.currentIndexChanged.connect(view._on_layer_changed)
    view.cmap_combo.currentTextChanged.connect(view._on_colormap_changed)
    view.norm_combo.currentIndexChanged.connect(view._on_norm_changed)
    view.export_npy_button.clicked.connect(lambda: view.export_activations())
    view.export_png_button.clicked.connect(lambda: view.export_grid_png())
    view.grid.channel_clicked.connect(view._on_grid_channel_clicked)
    view.grid.hovered.connect(view.hover_label.setText)
    attach(view)
    view.timelapse_slider.valueChanged.connect(view._on_timelapse_moved)
    view.filter_combo.currentIndexChanged.connect(lambda _i: view._refresh_filters())
    view.method_combo.currentIndexChanged.connect(lambda _i: view._refresh_cam())
    view.cam_layer_combo.currentIndexChanged.connect(lambda _i: view._refresh_cam())
    view.cam_class_combo.currentIndexChanged.connect(lambda _i: view._refresh_cam())
    view.opacity_slider.valueChanged.connect(lambda v: view.overlay.set_opacity(v / 100))
    view.tabs.currentChanged.connect(lambda _i: view.refresh())
    view.evaluation.sample_chosen.connect(view._on_evaluation_sample_chosen)
    view.task_evaluation.sample_chosen.connect(view._on_evaluation_sample_chosen)
    view.boxes.box_clicked.connect(lambda i: box_chosen(view, i))
    view.state.dataset_changed.connect(lambda: sync_task(view))
