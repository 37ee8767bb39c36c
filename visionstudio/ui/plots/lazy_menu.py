"""A pyqtgraph ViewBox whose context menu waits for the first right-click."""

from __future__ import annotations

import pyqtgraph as pg
from pyqtgraph.graphicsItems.ViewBox.ViewBoxMenu import ViewBoxMenu


class LazyMenuViewBox(pg.ViewBox):
    """A ViewBox that makes its context menu on the first right-click: the menu is ~30%
    of a plot item's construction (measured: 7 of 17-33 ms of CPU), and most sessions
    never open it."""

    def __init__(self) -> None:
        super().__init__(enableMenu=False)
        self.state["enableMenu"] = True   # the menu is on; only its making waits

    def getMenu(self, ev):  # noqa: N802 - pyqtgraph's name
        if self.menu is None:
            self.menu = ViewBoxMenu(self)
            self.updateViewLists()
        return self.menu

    def getContextMenus(self, event):  # noqa: N802 - pyqtgraph's name
        return self.getMenu(event).actions() if self.menuEnabled() else []
