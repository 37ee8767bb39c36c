"""A palette block's help: what it does, its inputs, its layers and the parameters each
instance sets (the definition's exposed ones), in a small non-modal window like a
layer kind's help."""

from __future__ import annotations

import html
from collections import Counter

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from visionstudio.core.layers import LAYERS
from visionstudio.core.layers.block_ports import BLOCK_KINDS
from visionstudio.ui.canvas.layer_help import _allowed, _default


def block_help_html(source) -> str:
    e = html.escape
    parts = [f"<h3>{e(source.title)}</h3>"]
    d = source.definition
    if d is None:
        parts.append(f"<p>This block cannot be used: {e(source.problem)}</p>")
        return "".join(parts)
    parts.append(f"<p>{e(d.description) or 'No description.'}</p>")
    kinds = Counter(n.kind for n in d.graph.nodes.values() if n.kind not in BLOCK_KINDS)
    layers = ", ".join(f"{count} × {LAYERS.get(k).title if k in LAYERS else k}"
                       for k, count in sorted(kinds.items()))
    inner = sum(1 for n in d.graph.nodes.values() if n.kind == "block")
    nested = f"; {inner} nested block(s)" if inner else ""
    where = f"library file {source.path.name}" if source.path is not None else "built in"
    parts.append(f"<p><b>Key:</b> <code>{e(d.key)}</code> ({e(where)}) &nbsp; "
                 f"<b>Inputs:</b> {len(d.input_ids())}</p>"
                 f"<p><b>Layers:</b> {e(layers) or 'none'}{e(nested)}</p>")
    specs = d.param_specs()
    if specs:
        rows = "".join(
            f"<tr><td><b>{e(p.label.capitalize())}</b></td><td>{e(_default(p))}</td><td>{e(_allowed(p))}</td>"
            f"<td>{e(p.help)}</td></tr>" for p in specs)
        parts.append("<p>Each instance sets:</p><table cellspacing='0' cellpadding='4' border='0'>"
                     "<tr><th align='left'>Parameter</th><th align='left'>Default</th>"
                     f"<th align='left'>Allowed</th><th align='left'>What it does</th></tr>{rows}</table>")
    else:
        parts.append("<p>Its instances have no parameters of their own.</p>")
    return "".join(parts)


class BlockHelpDialog(QDialog):
    def __init__(self, source, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("blockHelp")
        self.setWindowTitle(f"{source.title} — Block Help")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.text = QTextBrowser(self)
        self.text.setObjectName("blockHelpText")
        self.text.setAccessibleName(f"Help on {source.title}")
        self.text.setOpenLinks(False)
        self.text.setHtml(block_help_html(source))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.resize(540, 380)


def show_block_help(source, parent: QWidget | None = None) -> BlockHelpDialog:
    dialog = BlockHelpDialog(source, parent)
    dialog.show()
    return dialog
