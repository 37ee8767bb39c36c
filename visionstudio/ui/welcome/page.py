"""The welcome page's widget: header, one-click training, template cards, recent projects.

It only emits what the user chose; :class:`~visionstudio.ui.welcome.controller.WelcomeController`
places it over the main window and acts on the choice.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import QEvent, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from visionstudio.ui.shell.icons import app_icon
from visionstudio.ui.welcome.cards import (
    TemplateCard,
    card_columns,
    fill_card_detail,
    lay_out_cards,
    make_cards,
)
from visionstudio.ui.welcome.pretrained import PretrainedSection


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
        self._details_round = 0   # a restyle starts a new round; the old one stops
        body = QWidget()
        body.setObjectName("welcomeBody")
        self._scroll_to(body)
        root = QVBoxLayout(body)
        root.setContentsMargins(32, 24, 32, 24)
        root.setSpacing(16)
        root.addLayout(self._build_head(body))
        root.addLayout(self._build_quick_start(body))
        hint = QLabel("The classic CNN with the built-in shapes dataset: no download, "
                      "no set-up — a run starts in one click.", body)
        hint.setObjectName("welcomeTrainHint")
        hint.setWordWrap(True)
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        root.addWidget(hint)
        root.addLayout(self._build_columns(body), 1)
        self.show_check = QCheckBox("Show this page at start", body)
        self.show_check.setObjectName("welcomeShowAtStart")
        self.show_check.setToolTip("Also in View › Show Welcome Page at Start; "
                                   "`visionstudio PROJECT` always skips it")
        self.show_check.toggled.connect(self.show_at_start_changed)
        root.addWidget(self.show_check)

        self._recent_paths: list[str] = []
        self.cards: dict[str, TemplateCard] = make_cards(self)
        for key, card in self.cards.items():
            card.clicked.connect(lambda _checked=False, k=key: self.template_chosen.emit(k))
        self._columns = 0
        self._relayout_cards()
        self.set_recent([])

    def _scroll_to(self, body: QWidget) -> None:
        """The page scrolls as a whole when the window is smaller than its content."""
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea(self)
        scroll.setObjectName("welcomeScroll")
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidgetResizable(True)
        scroll.viewport().installEventFilter(self)
        outer.addWidget(scroll)
        scroll.setWidget(body)

    def _build_head(self, body: QWidget) -> QHBoxLayout:
        """Logo, title and tagline, and the way back to the editor."""
        head = QHBoxLayout()
        head.setSpacing(16)
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
        return head

    def _build_quick_start(self, body: QWidget) -> QHBoxLayout:
        """The one-click training run (the default button) and Open."""
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
        return quick

    def _build_columns(self, body: QWidget) -> QHBoxLayout:
        """Template cards on the left (laid out by width), recent projects on the right."""
        columns = QHBoxLayout()
        columns.setSpacing(24)
        left = QVBoxLayout()
        left.setSpacing(8)
        left.addWidget(self._heading("Start from a template", body))
        self.grid = QGridLayout()
        self.grid.setSpacing(12)
        left.addLayout(self.grid)
        left.addSpacing(8)
        self.pretrained = PretrainedSection(body)
        left.addWidget(self.pretrained)
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
        return columns

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

    def _relayout_cards(self) -> None:
        columns = card_columns(self.width() or 1200)
        if columns == self._columns:
            return
        self._columns = columns
        lay_out_cards(self.grid, self.cards, columns)

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
        """Parameter counts and previews of every template card, one card per event-loop
        turn so a click on the page is never held up by the whole set."""
        if self._details_loaded:
            return
        self._details_loaded, self._details_queued = True, False
        self._details_round += 1
        this_round = self._details_round
        pending = list(self.cards.items())
        palette = self.palette()

        def next_card() -> None:
            if this_round != self._details_round:
                return              # a restyle began again: its round fills every card
            if pending:
                key, card = pending.pop(0)
                fill_card_detail(key, card, palette)
                QTimer.singleShot(0, self, next_card)  # dropped if the page goes
            else:
                self.pretrained.load_details()
        next_card()

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
