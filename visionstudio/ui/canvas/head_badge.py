"""The heads of the network on the canvas: a tag under each head layer saying which target
it feeds and with which loss ("→ box · smooth L1 × 5"), and the head problems of the
project (core/tasks/heads.py: a head of the wrong size for the dataset, a target the task
has no labels for, a missing Detect layer) on the nodes like any other diagnostic.

What is checked, and when:

- only the network (not a block definition opened on the canvas), and only when the
  network has head layers or the task is not classification (a classification network
  with one plain output looks as it always did);
- a plain output of such a network gets the tag of what it feeds (the task's usual
  target, with the project's loss);
- the dataset's side (class counts, values per image) comes from describe_dataset, which
  loads no images. A set read from the user's folders ("Your data") may need torch even to
  be described, and start-up never imports it: such a set is described only once torch is
  loaded (a run, the feature views), else the heads are checked against the task alone;
- a problem naming a head goes on that head; one naming none ("a detection network ends in
  a Detect layer") goes on every output of the network.

The scene asks ``HeadChecks.check(analysis)`` in apply_analysis; the checks re-run there
when the task, the dataset or the loss settings change (the document announces them).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from visionstudio.core.data.base import DatasetError
from visionstudio.core.data.registry import DATASETS, describe_dataset
from visionstudio.core.graph.editing import NODE_HEIGHT
from visionstudio.core.layers import LAYERS
from visionstudio.core.layers.heads import LOSS_TITLES
from visionstudio.core.tasks import DEFAULT_TASK, TASK_KINDS
from visionstudio.core.tasks.heads import HeadError, head_problems, plan_heads
from visionstudio.ui.canvas.style import PORT_RADIUS, style_of
from visionstudio.ui.shell.torch_loader import torch_loaded

DETECT_LOSS_TITLES = {"giou": "GIoU", "l1": "L1", "bce": "BCE", "focal": "focal"}
USER_DATA = "Your data"       # the registry's category of sets read from the user's folders


def _times(text: str, weight: float) -> str:
    return text if float(weight) == 1.0 else f"{text} × {float(weight):g}"


def head_text(kind: str, params: dict) -> str:
    """The tag of a head layer: its target, its loss and the loss's weight."""
    if kind == "detect":
        box, objectness = (str(params.get(k, "")) for k in ("box_loss", "objectness_loss"))
        parts = [_times(DETECT_LOSS_TITLES.get(box, box), params.get("box_weight", 1.0)),
                 _times(DETECT_LOSS_TITLES.get(objectness, objectness), params.get("objectness_weight", 1.0)),
                 _times("CE", params.get("class_weight", 1.0))]
        return "→ detections · " + " + ".join(parts)
    loss = params.get("loss", "")
    return _times(f"→ {params.get('target', '?')} · {LOSS_TITLES.get(loss, loss)}", params.get("weight", 1.0))


def plain_text(task: str, loss: dict) -> str:
    """The tag of a plain output of a non-classification project (what plan_heads gives it)."""
    key = str(loss.get("key", ""))
    return f"→ {TASK_KINDS[task].targets[0].key} · {LOSS_TITLES.get(key, key)}"


@dataclass
class HeadFindings:
    labels: dict[str, str] = field(default_factory=dict)                        # node id -> tag
    problems: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)  # node id -> diagnostics


class HeadChecks:
    def __init__(self, controller, scene) -> None:
        self.controller = controller
        self.scene = scene
        self._info: tuple[str, object] | None = None     # (dataset's key and params, DatasetInfo | None)
        self._bind(controller.document)
        controller.document_replaced.connect(self._bind)

    def _bind(self, doc) -> None:
        doc.settings_changed.connect(self._on_document_settings_changed)

    def _on_document_settings_changed(self, section: str) -> None:
        if section in ("task", "dataset", "training"):
            self.scene.apply_analysis(self.controller.analysis)

    def dataset_info(self):
        """The project's DatasetInfo when it is cheap to know (see the module's docstring)."""
        ds = self.controller.document.dataset
        if ds.key not in DATASETS or (DATASETS.category(ds.key) == USER_DATA and not torch_loaded()):
            return None
        key = json.dumps([ds.key, ds.params, ds.preprocessing is not None], sort_keys=True, default=str)
        if self._info is None or self._info[0] != key:
            try:
                info = describe_dataset(ds)
            except (OSError, ValueError, DatasetError):   # the panel and the plan say why
                info = None
            self._info = (key, info)
        return self._info[1]

    def check(self, analysis) -> HeadFindings:
        found = HeadFindings()
        c = self.controller
        doc = c.document
        task = doc.task
        if c.scope:
            return found
        graph = doc.graph
        heads = [nid for nid in analysis.output_ids if graph.nodes[nid].kind in LAYERS
                 and LAYERS.get(graph.nodes[nid].kind).is_head]
        if not heads and task == DEFAULT_TASK:
            return found
        for nid in analysis.output_ids:
            node, info = graph.nodes[nid], analysis.nodes.get(nid)
            params = info.clean_params if info is not None and info.clean_params else node.params
            found.labels[nid] = (head_text(node.kind, params) if nid in heads
                                 else plain_text(task, doc.training.loss))
        try:
            plans = plan_heads(task, graph, analysis, doc.training.loss)
        except HeadError:
            return found     # an output without a shape: its own problem is on it already
        by_name = {graph.nodes[nid].name: nid for nid in analysis.output_ids}
        for sentence in head_problems(task, plans, self.dataset_info()):
            named = [nid for name, nid in by_name.items() if _names(sentence, name)]
            for nid in named or list(analysis.output_ids):
                found.problems.setdefault(nid, []).append((sentence, "error", ""))
        return found


def _names(sentence: str, name: str) -> bool:
    """Whether ``sentence`` names the layer ``name`` (as a word: head1 is not head10)."""
    return re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", sentence) is not None


class HeadTag(QGraphicsItem):
    """The tag under a head layer's body (a child of its NodeItem; clicks pass through)."""

    def __init__(self, parent: QGraphicsItem, text: str) -> None:
        super().__init__(parent)
        self.text = ""
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setPos(0.0, NODE_HEIGHT / 2 + PORT_RADIUS + 4)
        self.set_text(text)

    def set_text(self, text: str) -> None:
        if text != self.text:
            self.prepareGeometryChange()
            self.text = text
            self.setToolTip(f"What this output is trained on: {text.removeprefix('→ ')}. Select the "
                            "layer to change its target, loss or weight (a plain output: the Loss "
                            "settings of the Training panel).")
            self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        style = style_of(self)
        fm = QFontMetricsF(style.small_font)
        width = fm.horizontalAdvance(self.text) + 12
        return QRectF(-width / 2, 0, width, fm.height() + 4)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        style = style_of(self)
        rect = self.boundingRect()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(getattr(self.parentItem(), "color", style.node_border), 1.2))
        painter.setBrush(style.label_fill)
        painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
        painter.setPen(style.text)
        painter.setFont(style.small_font)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.text)


def show_head_tag(item, text: str) -> None:
    """Give ``item`` (a NodeItem) the tag ``text``; "" removes it."""
    tag = getattr(item, "head_tag", None)
    if not text:
        if tag is not None:
            tag.setParentItem(None)
            if tag.scene() is not None:
                tag.scene().removeItem(tag)
            item.head_tag = None
        return
    if tag is None:
        item.head_tag = HeadTag(item, text)
    else:
        tag.set_text(text)
