"""The welcome page: templates as cards, recent projects, one click to a training run.

It covers the window's panels (an overlay below the toolbar, above the status bar) so
the dock layout underneath is never touched; choosing anything hides it and shows the
editor. The cards' parameter counts and previews are filled in after the first paint
(reading the five templates takes a fraction of a second and never imports torch).
"""

from __future__ import annotations

import logging
from html import escape
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QPointF, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence, QPainter, QPalette, QPen, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QApplication, QCheckBox, QFrame, QGridLayout, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
    QPushButton, QScrollArea, QSizePolicy, QToolButton, QVBoxLayout, QWidget,
)

from .files import DEFAULT_TEMPLATE, list_templates
from .layer_style import is_dark, kind_color, mix

log = logging.getLogger("visionstudio")

SHOW_KEY = "welcome/showAtStart"
PREVIEW_SIZE = QSize(240, 84)
BLANK_KEY = ""


def show_at_start(settings) -> bool:
    value = settings.value(SHOW_KEY, True)
    return value not in (False, "false", "0", 0)


def render_preview(document, size: QSize = PREVIEW_SIZE, dpr: float = 2.0,
                   palette: QPalette | None = None) -> QPixmap:
    """A small left-to-right drawing of a network: layers as boxes in their category
    colours, connections as lines (the canvas lays networks out top to bottom)."""
    pixmap = QPixmap(int(size.width() * dpr), int(size.height() * dpr))
    pixmap.setDevicePixelRatio(dpr)
    pixmap.fill(Qt.GlobalColor.transparent)
    graph = document.graph
    points = {nid: graph.positions.get(nid, (0.0, 0.0)) for nid in graph.nodes}
    if not points:
        return pixmap
    # Drawn left to right (the canvas's depth, y, becomes x) unless a wide network of
    # parallel branches fills the card better as laid out; nodes keep their proportions.
    margin = 8.0
    w, h = size.width() - 2 * margin, size.height() - 2 * margin
    node = (196.0, 78.0)   # the canvas's node size (canvas/style.py)
    best = None
    for rotate in (True, False):
        pts = {k: ((p[1], p[0]) if rotate else p) for k, p in points.items()}
        nw, nh = (node[1], node[0]) if rotate else node
        xs, ys = [p[0] for p in pts.values()], [p[1] for p in pts.values()]
        span_x, span_y = max(xs) - min(xs) + nw, max(ys) - min(ys) + nh
        scale = min(w / span_x, h / span_y, 0.2)
        if best is None or scale > best[0] * 1.15:
            best = (scale, pts, nw, nh, min(xs), min(ys), span_x, span_y)
    scale, pts, nw, nh, min_x, min_y, span_x, span_y = best
    box_w, box_h = max(3.0, nw * scale * 0.8), max(3.0, nh * scale * 0.8)
    off_x = margin + (w - span_x * scale) / 2 + nw * scale / 2
    off_y = margin + (h - span_y * scale) / 2 + nh * scale / 2

    def at(nid: str) -> QPointF:
        x, y = pts[nid]
        return QPointF(off_x + (x - min_x) * scale, off_y + (y - min_y) * scale)

    dark = is_dark(palette) if palette is not None else False
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor("#9aa0a6") if not dark else QColor("#7a8088"), 1.4))
    for edge in graph.edges:
        if edge.src in points and edge.dst in points:
            painter.drawLine(at(edge.src), at(edge.dst))
    for nid, node in graph.nodes.items():
        color = kind_color(node.kind)
        painter.setBrush(color)
        painter.setPen(QPen(mix(color, QColor("black"), 0.25), 1))
        c = at(nid)
        radius = min(3.0, box_w / 3, box_h / 3)
        painter.drawRoundedRect(QRectF(c.x() - box_w / 2, c.y() - box_h / 2, box_w, box_h),
                                radius, radius)
    painter.end()
    return pixmap


def blank_preview(palette: QPalette, size: QSize = PREVIEW_SIZE, dpr: float = 2.0) -> QPixmap:
    """A dashed empty box with a plus: the blank project's card."""
    pixmap = QPixmap(int(size.width() * dpr), int(size.height() * dpr))
    pixmap.setDevicePixelRatio(dpr)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    color = palette.color(QPalette.ColorRole.PlaceholderText)
    pen = QPen(color, 1.5, Qt.PenStyle.DashLine)
    painter.setPen(pen)
    box = QRectF(size.width() / 2 - 40, 12, 80, size.height() - 24)
    painter.drawRoundedRect(box, 6, 6)
    painter.setPen(QPen(color, 2))
    c = box.center()
    painter.drawLine(QPointF(c.x() - 9, c.y()), QPointF(c.x() + 9, c.y()))
    painter.drawLine(QPointF(c.x(), c.y() - 9), QPointF(c.x(), c.y() + 9))
    painter.end()
    return pixmap


class TemplateCard(QToolButton):
    """A clickable card: preview, name, description, parameter count."""

    def __init__(self, key: str, title: str, description: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.setObjectName(f"templateCard_{key or 'blank'}")
        self.setAccessibleName(f"{title} template")
        self.setToolTip(f"Open a new project from the {title} template" if key
                        else "Start an empty project")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(PREVIEW_SIZE.width() + 24)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(6)
        self.preview = QLabel(self)
        self.preview.setObjectName("templatePreview")
        self.preview.setFixedHeight(PREVIEW_SIZE.height())
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel(f"<b>{title}</b>", self)
        self.title.setObjectName("templateTitle")
        self.description = QLabel(description, self)
        self.description.setWordWrap(True)
        self.description.setObjectName("templateDescription")
        self.params = QLabel("", self)
        self.params.setObjectName("templateParams")
        for label in (self.preview, self.title, self.description, self.params):
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            layout.addWidget(label)
        layout.addStretch(1)
        self.setCheckable(False)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return self.layout().sizeHint()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return self.layout().minimumSize()

    def set_details(self, params: int | None, ok: bool, pixmap: QPixmap | None) -> None:
        if params is not None:
            self.params.setText(f"{params:,} parameters" if ok else "has problems to fix")
        if pixmap is not None:
            self.preview.setPixmap(pixmap)


class WelcomePage(QFrame):
    """Signals carry the user's choice; :class:`WelcomeController` acts on them."""

    template_chosen = Signal(str)     # a template key, "" for blank
    recent_chosen = Signal(str)       # a project path
    open_requested = Signal()
    train_classic_requested = Signal()
    editor_requested = Signal()
    show_at_start_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcomePage")
        self.setAccessibleName("Welcome page")
        self.setAutoFillBackground(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self._details_loaded = self._details_queued = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea(self)
        scroll.setObjectName("welcomeScroll")
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidgetResizable(True)
        scroll.viewport().installEventFilter(self)
        outer.addWidget(scroll)
        body = QWidget()
        body.setObjectName("welcomeBody")
        scroll.setWidget(body)
        root = QVBoxLayout(body)
        root.setContentsMargins(32, 24, 32, 24)
        root.setSpacing(16)

        head = QHBoxLayout()
        head.setSpacing(16)
        from .icons import app_icon

        logo = QLabel(body)
        logo.setObjectName("welcomeLogo")
        if not app_icon().isNull():
            logo.setPixmap(app_icon().pixmap(QSize(56, 56), self.devicePixelRatioF()))
        head.addWidget(logo, 0, Qt.AlignmentFlag.AlignTop)
        titles = QVBoxLayout()
        titles.setSpacing(4)
        title = QLabel("Welcome to VisionStudio", body)
        title.setObjectName("welcomeTitle")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        title.setFont(font)
        tagline = QLabel("Design convolutional networks visually, train them, and look inside them.",
                         body)
        tagline.setObjectName("welcomeTagline")
        tagline.setWordWrap(True)
        titles.addWidget(title)
        titles.addWidget(tagline)
        head.addLayout(titles, 1)
        self.editor_button = QPushButton("Go to the editor", body)
        self.editor_button.setObjectName("welcomeEditorButton")
        self.editor_button.setToolTip("Hide this page and keep working on the current project "
                                      "(Esc; View › Welcome Page brings it back)")
        self.editor_button.clicked.connect(self.editor_requested)
        head.addWidget(self.editor_button, 0, Qt.AlignmentFlag.AlignTop)
        root.addLayout(head)

        quick = QHBoxLayout()
        quick.setSpacing(8)
        self.train_button = QPushButton("▶  Train the classic CNN now", body)
        self.train_button.setObjectName("trainClassicButton")
        self.train_button.setDefault(True)
        bfont = self.train_button.font()
        bfont.setBold(True)
        self.train_button.setFont(bfont)
        self.train_button.setMinimumHeight(self.train_button.sizeHint().height() + 8)
        self.train_button.clicked.connect(self.train_classic_requested)
        self._style_train_button()
        self.open_button = QPushButton("Open a project…", body)
        self.open_button.setObjectName("welcomeOpenButton")
        self.open_button.setToolTip("Open a .vsproj project file (Ctrl+O)")
        self.open_button.setMinimumHeight(self.train_button.sizeHint().height())
        self.open_button.clicked.connect(self.open_requested)
        quick.addWidget(self.train_button)
        quick.addWidget(self.open_button)
        quick.addStretch(1)
        root.addLayout(quick)
        hint = QLabel("The classic CNN with the built-in shapes dataset: no download, "
                      "no set-up — a run starts in one click.", body)
        hint.setObjectName("welcomeTrainHint")
        hint.setWordWrap(True)
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        root.addWidget(hint)

        columns = QHBoxLayout()
        columns.setSpacing(24)
        left = QVBoxLayout()
        left.setSpacing(8)
        left.addWidget(self._heading("Start from a template", body))
        self.grid = QGridLayout()
        self.grid.setSpacing(12)
        left.addLayout(self.grid)
        left.addStretch(1)
        columns.addLayout(left, 3)
        right = QVBoxLayout()
        right.setSpacing(8)
        right.addWidget(self._heading("Recent projects", body))
        self.recent = QListWidget(body)
        self.recent.setObjectName("welcomeRecentList")
        self.recent.setAccessibleName("Recent projects")
        self.recent.setToolTip("Double-click (or Enter) to open a recent project")
        self.recent.setMinimumWidth(220)
        self.recent.itemActivated.connect(self._recent_activated)
        self.recent.itemClicked.connect(self._recent_activated)
        self.recent.setSizeAdjustPolicy(QListWidget.SizeAdjustPolicy.AdjustToContents)
        self.recent.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        right.addWidget(self.recent)
        right.addStretch(1)
        columns.addLayout(right, 1)
        root.addLayout(columns, 1)

        self.show_check = QCheckBox("Show this page at start", body)
        self.show_check.setObjectName("welcomeShowAtStart")
        self.show_check.setToolTip("Also in View › Show Welcome Page at Start; "
                                   "`visionstudio PROJECT` always skips it")
        self.show_check.toggled.connect(self.show_at_start_changed)
        root.addWidget(self.show_check)

        self._recent_paths: list[str] = []
        self.cards: dict[str, TemplateCard] = {}
        templates = list_templates()
        for t in templates:
            self._add_card(t.key, getattr(t, "title", t.key), getattr(t, "description", ""))
        self._add_card(BLANK_KEY, "Blank project", "An empty canvas: add an Input from the palette.")
        self._columns = 0
        self._relayout_cards()
        self.set_recent([])

    @staticmethod
    def _heading(text: str, parent: QWidget) -> QLabel:
        label = QLabel(text, parent)
        font = label.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        font.setBold(True)
        label.setFont(font)
        return label

    def _style_train_button(self) -> None:
        pal = self.palette()
        hl, text = pal.color(QPalette.ColorRole.Highlight), pal.color(QPalette.ColorRole.HighlightedText)
        self.train_button.setStyleSheet(
            f"QPushButton#trainClassicButton {{ background: {hl.name()}; color: {text.name()};"
            f" border: 1px solid {hl.darker(130).name()}; border-radius: 4px; padding: 6px 16px; }}"
            f"QPushButton#trainClassicButton:hover {{ background: {hl.lighter(112).name()}; }}"
            f"QPushButton#trainClassicButton:pressed {{ background: {hl.darker(115).name()}; }}")

    def _add_card(self, key: str, title: str, description: str) -> None:
        card = TemplateCard(key, title, description, self)
        card.clicked.connect(lambda _checked=False, k=key: self.template_chosen.emit(k))
        self.cards[key] = card

    def _relayout_cards(self) -> None:
        width = self.width() or 1200
        columns = max(1, min(3, int(width * 0.7) // (PREVIEW_SIZE.width() + 48)))
        if columns == self._columns:
            return
        self._columns = columns
        for card in self.cards.values():
            self.grid.removeWidget(card)
        for i, card in enumerate(self.cards.values()):
            self.grid.addWidget(card, i // columns, i % columns)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._relayout_cards()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self._details_loaded:
            QTimer.singleShot(1000, self._queue_details)   # in case no paint ever comes

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        # The scroll area's viewport paints the page (the page itself is fully covered).
        if event.type() == QEvent.Type.Paint and not self._details_loaded:
            self._queue_details()
        return False

    def _queue_details(self) -> None:
        if not self._details_loaded and not self._details_queued:
            self._details_queued = True  # after the first paint: the window shows sooner
            QTimer.singleShot(0, self.load_details)

    def load_details(self) -> None:
        """Parameter counts and previews of every template card."""
        if self._details_loaded:
            return
        self._details_loaded, self._details_queued = True, False
        from ..core.graph import analyze
        from .files import TemplatesUnavailable, template_document

        for key, card in self.cards.items():
            if not key:
                card.set_details(None, True, blank_preview(self.palette()))
                continue
            try:
                doc = template_document(key)
            except TemplatesUnavailable as exc:
                log.warning("%s", exc)
                continue
            analysis = analyze(doc.graph)
            card.set_details(analysis.total_params, analysis.ok,
                             render_preview(doc, palette=self.palette()))

    def restyle(self) -> None:
        """Redraw the previews in the current palette's colours."""
        self._style_train_button()
        self.set_recent(self._recent_paths)
        if self._details_loaded:
            self._details_loaded = False
            self.load_details()

    def set_recent(self, paths: list[str]) -> None:
        self.recent.clear()
        muted = QApplication.palette().color(QPalette.ColorRole.PlaceholderText).name()
        for path in paths:
            p = Path(path)
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setToolTip(path)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, p.name)
            label = QLabel(f"<b>{escape(p.name)}</b><br><span style='color:{muted}'>"
                           f"{escape(str(p.parent))}</span>")
            label.setContentsMargins(6, 4, 6, 4)
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            item.setSizeHint(label.sizeHint())
            self.recent.addItem(item)
            self.recent.setItemWidget(item, label)
        if not paths:
            item = QListWidgetItem("No recent projects yet")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent.addItem(item)
        self._recent_paths = list(paths)

    def _recent_activated(self, item: QListWidgetItem) -> None:
        path = item.data(Qt.ItemDataRole.UserRole)
        if path:
            self.recent_chosen.emit(path)


class WelcomeController(QObject):
    """Puts the page over the main window's panels and acts on what the user picks."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.chosen = False   # the user picked a project here (the first-load must not replace it)
        self._train_pending = False
        self.page = WelcomePage(window)
        self.page.hide()
        self.page.show_check.setChecked(show_at_start(window.settings))
        p = self.page
        p.template_chosen.connect(self.open_template)
        p.recent_chosen.connect(self.open_recent)
        p.open_requested.connect(self.open_file)
        p.train_classic_requested.connect(self.train_classic)
        p.editor_requested.connect(self.hide)
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), p)
        escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        escape.activated.connect(self.hide)
        p.show_at_start_changed.connect(self.set_show_at_start)
        window.files.recent_changed.connect(p.set_recent)
        p.set_recent(window.files.recent())
        window.installEventFilter(self)
        self.update_train_tooltip()

    # -- placement ----------------------------------------------------------------------
    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if obj is self.window and event.type() in (QEvent.Type.Resize, QEvent.Type.LayoutRequest,
                                                    QEvent.Type.Show):
            QTimer.singleShot(0, self.place)
        return False

    def place(self) -> None:
        w = self.window
        top = w.menuBar().geometry().bottom() + 1 if w.menuBar().isVisible() else 0
        toolbar = getattr(w, "toolbar", None)
        if toolbar is not None and toolbar.isVisible() and not toolbar.isFloating():
            g = toolbar.geometry()
            if g.top() <= top + 2:
                top = max(top, g.bottom() + 1)
        bottom = w.height()
        status = w.statusBar()
        if status.isVisible():
            bottom = status.geometry().top()
        self.page.setGeometry(QRect(0, top, w.width(), max(0, bottom - top)))
        self.page.raise_()

    @property
    def visible(self) -> bool:
        return not self.page.isHidden()

    def show(self) -> None:
        self.update_train_tooltip()
        self.place()
        self.page.show()
        self.page.raise_()
        self.page.train_button.setFocus()
        self._sync_action()

    def hide(self) -> None:
        self.page.hide()
        canvas = getattr(self.window, "canvas", None)
        if canvas is not None:
            canvas.setFocus()
        self._sync_action()

    def _sync_action(self) -> None:
        action = self.window.actions_by_name.get("welcome") if hasattr(self.window, "actions_by_name") else None
        if action is not None and action.isChecked() != self.visible:
            action.setChecked(self.visible)

    def set_show_at_start(self, on: bool) -> None:
        self.window.settings.setValue(SHOW_KEY, bool(on))
        if self.page.show_check.isChecked() != on:
            self.page.show_check.setChecked(on)
        action = getattr(self.window, "actions_by_name", {}).get("welcome_at_start")
        if action is not None and action.isChecked() != on:
            action.setChecked(on)

    # -- choices --------------------------------------------------------------------------
    def _is_untouched_template(self, key: str) -> bool:
        """The open document is template ``key`` exactly as loaded (the app's start-up
        document): opening it again would only rebuild every panel."""
        c = self.window.controller
        titles = {t.key: getattr(t, "title", t.key) for t in list_templates()}
        return (bool(key) and c.path is None and not c.is_dirty and c.undo_stack.count() == 0
                and bool(c.graph.nodes) and c.document.name == titles.get(key))

    def open_template(self, key: str) -> bool:
        if self._is_untouched_template(key):
            self.chosen = True
            self.hide()
            return True
        if self.window.files.new_from_template(key):
            self.chosen = True
            self.hide()
            return True
        return False

    def open_recent(self, path: str) -> None:
        if not Path(path).exists():
            self.window.files.remove_recent(path)
            self.window.files.prompts.error(
                self.window, "Cannot open project",
                f"{path} no longer exists; it was removed from the recent files.")
            return
        if self.window.files.open_path(path):
            self.chosen = True
            self.hide()

    def open_file(self) -> None:
        if self.window.files.open():
            self.chosen = True
            self.hide()

    def train_action(self) -> QAction | None:
        action = getattr(self.window, "actions_by_name", {}).get("train")
        return action or self.window.findChild(QAction, "action_train")

    def training_expected(self) -> bool:
        """The Train action exists, or will once the later-feature panels are added."""
        if self.train_action() is not None:
            return True
        if getattr(self.window, "_optional_added", True):
            return False
        return training_module_available()

    def update_train_tooltip(self) -> None:
        if self.training_expected():
            tip = "Open the Classic CNN template with the built-in shapes dataset and start training"
        else:
            tip = ("Open the Classic CNN template with the built-in shapes dataset (training is "
                   "not installed in this build, so the run does not start)")
        self.page.train_button.setToolTip(tip)

    def train_classic(self) -> bool:
        """Open the classic CNN and start training; True when the Train action was
        triggered, or will be as soon as the training panel has loaded (app start)."""
        if not self.open_template(DEFAULT_TEMPLATE):
            return False
        action = self.train_action()
        if action is None:
            if self.training_expected():
                self._train_pending = True
                self.window.show_status("Opened the Classic CNN; training starts as soon as the "
                                        "training panel has loaded…")
                return True
            self.window.show_status("Opened the Classic CNN; training is not installed in this build")
            return False
        return self._trigger(action)

    def _trigger(self, action: QAction) -> bool:
        if not action.isEnabled():
            self.window.show_status("Opened the Classic CNN; training cannot start right now")
            return False
        action.trigger()
        metrics = getattr(self.window, "docks", {}).get("metricsPlots")
        if metrics is not None and metrics.isVisible():
            metrics.raise_()   # the curves, not the summary, for a run started from here
            want = int(self.window.height() * 0.42)
            if not metrics.isFloating() and metrics.height() < want:   # room for four plots
                self.window.resizeDocks([metrics], [want], Qt.Orientation.Vertical)
        return True

    def on_actions_changed(self) -> None:
        """Later features added their actions: tooltips, and a training run the user
        asked for before the training panel existed."""
        self.update_train_tooltip()
        action = self.train_action()
        if self._train_pending and action is not None:
            self._train_pending = False
            self._trigger(action)


def training_module_available() -> bool:
    from importlib.util import find_spec

    try:
        return find_spec("visionstudio.ui.training") is not None  # not imported here
    except (ImportError, ValueError):
        return False
