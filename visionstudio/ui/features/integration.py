"""install(window): an Inspect menu for the feature-map viewer.

The main window (``.controller``, ``.menus`` dict, ``.docks`` dict) calls ``install``
once; the dock itself comes from docks.LATER_PANELS. Actions find the viewer when
they run, so the order of dock creation and ``install`` does not matter.
``confirm_close`` cancels a running evaluation and waits for its thread.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction

from visionstudio.ui.features.feature_map_view import FeatureMapView

TABS = {"maps": 0, "filters": 1, "prediction": 2, "gradcam": 3, "evaluation": 4}


class FeaturesIntegration(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        menus = window.menus
        menu = menus.get("inspect")
        if menu is None:
            menu = window.menuBar().addMenu("&Inspect")
            menu.setObjectName("menu_inspect")
            menus["inspect"] = menu
        self.menu = menu
        self.actions: dict[str, QAction] = {}
        for key, text, tip, slot in (
                ("feature_maps", "&Feature Maps", "Show the feature maps of a sample, layer by layer",
                 lambda: self.show_tab("maps")),
                ("open_sample", "Open &Image as Sample…", "Feed any image file to the network",
                 self.open_sample),
                ("filters", "Conv &Filters", "Show the kernels of a conv layer",
                 lambda: self.show_tab("filters")),
                ("gradcam", "&Grad-CAM", "Where in the sample the evidence for a class lies",
                 lambda: self.show_tab("gradcam")),
                ("evaluate", "&Evaluate Validation Set", "Confusion matrix and per-class metrics",
                 self.evaluate)):
            act = QAction(text, window)
            act.setObjectName(f"action_{key}")
            act.setStatusTip(tip)
            act.triggered.connect(slot)
            menu.addAction(act)
            self.actions[key] = act

    def view(self) -> FeatureMapView | None:
        later = getattr(self.window, "later_panel", None)   # built now if it waits to be shown
        return later("featureMapView") if later is not None else self.window.findChild(FeatureMapView)

    def show_tab(self, tab: str) -> FeatureMapView | None:
        view = self.view()
        if view is None:
            return None
        dock = self.window.docks.get("featureMapView") or view.parentWidget()
        if dock is not None and hasattr(dock, "show"):
            dock.show()
            dock.raise_()
        view.tabs.setCurrentIndex(TABS[tab])
        return view

    def open_sample(self) -> None:
        view = self.show_tab("maps")
        if view is not None:
            view.open_image()

    def evaluate(self) -> None:
        view = self.show_tab("evaluation")
        if view is not None:
            panel = view.evaluation if view.state.task == "classification" else view.task_evaluation
            panel.run_evaluation()

    def confirm_close(self) -> bool:
        view = self.window.findChild(FeatureMapView)   # one never built has nothing to end
        if view is not None:
            view.shutdown()
        return True


def install(window) -> FeaturesIntegration:
    return FeaturesIntegration(window)
