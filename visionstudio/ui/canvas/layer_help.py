"""A layer kind's help: what it does, its inputs, and each parameter with its default,
range and help text — all read from the kind's LayerSpec, so it never disagrees with
the inspector. Shown by the palette's "Help" entry in a small non-modal window.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from visionstudio.core.layers import LAYERS, LayerSpec
from visionstudio.core.params import ParamSpec


def _inputs(spec: LayerSpec) -> str:
    if spec.is_source:
        return "None: the network starts here."
    if spec.max_inputs is None:
        return f"{spec.min_inputs} or more, merged into one."
    if spec.max_inputs == 1:
        return "One."
    return f"{spec.min_inputs} to {spec.max_inputs}."


def _default(p: ParamSpec) -> str:
    if p.default is None or p.default == []:
        return "not set"
    if isinstance(p.default, bool):
        return "on" if p.default else "off"
    if isinstance(p.default, (list, tuple)):
        return "×".join(str(v) for v in p.default)
    return str(p.default)


def _allowed(p: ParamSpec) -> str:
    """Its choices and/or its range (padding takes "same", "valid" or a number)."""
    ways = [", ".join(p.choices)] if p.choices else []
    if p.minimum is not None and p.maximum is not None:
        ways.append(f"{p.minimum:g} to {p.maximum:g}")
    elif p.minimum is not None:
        ways.append(f"at least {p.minimum:g}")
    elif p.maximum is not None:
        ways.append(f"at most {p.maximum:g}")
    return " or ".join(ways)


def layer_help_html(key: str) -> str:
    spec = LAYERS.get(key)
    e = html.escape
    parts = [f"<h3>{e(spec.title)}</h3>",
             f"<p>{e(spec.description)}</p>",
             f"<p><b>Category:</b> {e(spec.category)} &nbsp; <b>Inputs:</b> {e(_inputs(spec))}</p>"]
    if spec.params:
        rows = "".join(
            f"<tr><td><b>{e(p.label)}</b></td><td>{e(_default(p))}</td><td>{e(_allowed(p))}</td>"
            f"<td>{e(p.help)}</td></tr>" for p in spec.params)
        parts.append("<table cellspacing='0' cellpadding='4' border='0'>"
                     "<tr><th align='left'>Parameter</th><th align='left'>Default</th>"
                     f"<th align='left'>Allowed</th><th align='left'>What it does</th></tr>{rows}</table>")
    else:
        parts.append("<p>No parameters.</p>")
    return "".join(parts)


class LayerHelpDialog(QDialog):
    def __init__(self, key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        spec = LAYERS.get(key)
        self.key = key
        self.setObjectName("layerHelp")
        self.setWindowTitle(f"{spec.title} — Layer Help")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.text = QTextBrowser(self)
        self.text.setObjectName("layerHelpText")
        self.text.setAccessibleName(f"Help on {spec.title}")
        self.text.setOpenLinks(False)
        self.text.setHtml(layer_help_html(key))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.resize(520, 320 + 24 * len(spec.params))


def show_layer_help(key: str, parent: QWidget | None = None) -> LayerHelpDialog:
    dialog = LayerHelpDialog(key, parent)
    dialog.show()
    return dialog
