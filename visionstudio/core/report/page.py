"""The report as one HTML page: inline CSS, inline pictures, no script, no network.

Each section is a function of plain data returning HTML; every string from the project
or the run (names, class names, settings) passes through ``html.escape`` here, so a
layer, run or class called ``<script>`` shows as text and never becomes markup.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

import numpy as np

from visionstudio.core.layers import fmt_shape
from visionstudio.core.report import pictures
from visionstudio.core.summary import NetworkSummary, human_count

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;color:#222;padding:0 1em}
h1{margin-bottom:0}h2{border-bottom:1px solid #ccd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
td,th{border:1px solid #ccd;padding:.25em .6em;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#eef1f8}
.net{font-size:11px;max-width:100%;height:auto}.curve{font-size:11px;margin:.3em}
.gallery{display:flex;flex-wrap:wrap;gap:1em}.gallery figure{margin:0;text-align:center;font-size:.85em}
.muted{color:#666}.frozen{color:#888}
"""


def _cell(value: Any, numeric: bool = False) -> str:
    return f'<td class="n">{escape(str(value))}</td>' if numeric else f"<td>{escape(str(value))}</td>"


def _table(headers: list[str], rows: list[list[Any]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(v, i in numeric) for i, v in enumerate(r)) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def header(title: str, run_name: str, status: str, created: str, written: str) -> str:
    bits = [f"run <b>{escape(run_name)}</b>"]
    if status:
        bits.append(f"status {escape(status)}")
    if created:
        bits.append(f"started {escape(created)}")
    bits.append(f"report written {escape(written)}")
    return f"<h1>{escape(title)}</h1><p class=\"muted\">{' · '.join(bits)}</p>"


def network(summary: NetworkSummary, positions: dict[str, tuple[float, float]],
            edges: list[tuple[str, str]]) -> str:
    index = {row.id: i for i, row in enumerate(summary.rows)}
    boxes = []
    for i, row in enumerate(summary.rows):
        x, y = positions.get(row.id, (float(200 * (i % 5)), float(90 * (i // 5))))
        boxes.append((row.name, row.title, fmt_shape(row.output_shape), float(x), float(y)))
    lines = [(index[a], index[b]) for a, b in edges if a in index and b in index]
    return "<h2>Network</h2>" + pictures.network_svg(boxes, lines)


def summary_table(summary: NetworkSummary) -> str:
    rows = [[r.name, r.title + (f" ({r.details})" if r.details else ""), fmt_shape(r.output_shape),
             f"{r.params:,}", f"{r.flops:,}", "yes" if r.trainable else "frozen"]
            for r in summary.rows]
    t = summary.totals
    totals = (f"<p>Input {escape(fmt_shape(summary.input_shape))} → output "
              f"{escape(fmt_shape(summary.output_shape))}. {t.params:,} parameters "
              f"({human_count(t.params)}; {t.trainable_params:,} trainable, {t.frozen_params:,} frozen), "
              f"{t.flops:,} FLOPs per image ({human_count(t.flops)}).</p>")
    return ("<h2>Layers</h2>" + _table(["Layer", "Kind", "Output shape", "Params", "FLOPs", "Trainable"],
                                       rows, {3, 4}) + totals)


def _flat(prefix: str, value: Any, out: list[list[Any]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out.append([prefix, value if isinstance(value, str) else json.dumps(value, default=str)])


def settings(training: dict[str, Any], dataset: dict[str, Any]) -> str:
    rows: list[list[Any]] = []
    _flat("", training, rows)
    data_rows: list[list[Any]] = []
    _flat("", dataset, data_rows)
    return ("<h2>Training settings</h2>" + _table(["Setting", "Value"], rows)
            + "<h2>Dataset</h2>" + _table(["Setting", "Value"], data_rows))


def _column(epochs: list[dict[str, Any]], x: str, name: str) -> tuple[list[float], list[float]]:
    pairs = [(r[x], r[name]) for r in epochs if r.get(x) is not None and r.get(name) is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def curves(epochs: list[dict[str, Any]], steps: dict[str, np.ndarray] | None) -> str:
    """Loss, accuracy and learning rate: per step where the history has them, per epoch
    from metrics.csv (x = the step each epoch ended at)."""
    x = "step" if any(r.get("step") is not None for r in epochs) else "epoch"
    loss = [("train (epoch)", "#1f6fd1", *_column(epochs, x, "train_loss")),
            ("validation", "#d1541f", *_column(epochs, x, "val_loss"))]
    lr = [("lr (epoch)", "#6a3d9a", *_column(epochs, x, "lr"))]
    if steps is not None and len(steps.get("step", ())):
        sx, sy = pictures.thin(steps["step"], steps["loss_ema"])
        loss.insert(0, ("train (smoothed step)", "#9bbbe6", list(sx), list(sy)))
        lx, ly = pictures.thin(steps["step"], steps["lr"])
        lr = [("lr (step)", "#6a3d9a", list(lx), list(ly))]
    acc = [("train", "#1f6fd1", *_column(epochs, x, "train_accuracy")),
           ("validation", "#d1541f", *_column(epochs, x, "val_accuracy"))]
    parts = [pictures.curve_svg(f"Loss (x: {x})", loss), pictures.curve_svg(f"Accuracy (x: {x})", acc),
             pictures.curve_svg(f"Learning rate (x: {x})", lr, log_y=True)]
    body = "".join(p for p in parts if p) or "<p>The run recorded no metrics.</p>"
    table = ""
    if epochs:
        cols = [c for c in ("epoch", "step", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                            "lr") if any(r.get(c) is not None for r in epochs)]
        rows = [[("" if r.get(c) is None else f"{r[c]:.4g}") for c in cols] for r in epochs[-50:]]
        table = _table(cols, rows, set(range(len(cols))))
    return "<h2>Training curves</h2>" + body + table


def per_class(ev: Any) -> str:
    e = ev.evaluation
    prec, rec, acc = e.precision(), e.recall(), e.class_accuracy()
    support = e.confusion.sum(axis=1)
    rows = [[name, f"{p:.3f}", f"{r:.3f}", f"{a:.3f}", int(s)]
            for name, p, r, a, s in zip(e.class_names, prec, rec, acc, support)]
    intro = (f"<p>{escape(ev.checkpoint)} checkpoint, {ev.images:,} validation images, "
             f"accuracy {e.accuracy:.3f}.</p>")
    notes = "".join(f"<p class=\"muted\">{escape(n)}</p>" for n in ev.notes)
    return ("<h2>Per-class metrics</h2>" + intro + notes
            + _table(["Class", "Precision", "Recall", "Accuracy (one-vs-rest)", "Images"], rows,
                     {1, 2, 3, 4}))


def confusion(ev: Any, most: int = 40) -> str:
    e = ev.evaluation
    k = min(len(e.class_names), most)
    head = "".join(f"<th>{escape(n)}</th>" for n in e.class_names[:k])
    peak = max(int(e.confusion.max()), 1)
    rows = []
    for i in range(k):
        cells = []
        for j in range(k):
            v = int(e.confusion[i, j])
            shade = 255 - int(155 * v / peak)
            cells.append(f'<td class="n" style="background:rgb({shade},{shade},255)">{v}</td>')
        rows.append(f"<tr><th>{escape(e.class_names[i])}</th>{''.join(cells)}</tr>")
    more = (f"<p class=\"muted\">The first {k} of {len(e.class_names)} classes are shown.</p>"
            if len(e.class_names) > k else "")
    return ("<h2>Confusion matrix</h2><p class=\"muted\">Rows: true class; columns: predicted.</p>"
            f"<table><tr><th>true \\ predicted</th>{head}</tr>{''.join(rows)}</table>" + more)


def worst_errors(ev: Any) -> str:
    if not ev.worst:
        return "<h2>Worst errors</h2><p>No validation image was misclassified.</p>"
    names = ev.evaluation.class_names
    figs = []
    for w in ev.worst:
        cam = (f'<img alt="Grad-CAM" src="{pictures.cam_uri(w.image, w.cam)}">' if w.cam is not None else "")
        figs.append(f'<figure><img alt="image" src="{pictures.image_uri(w.image)}"> {cam}'
                    f"<figcaption>true {escape(names[w.label])}, predicted "
                    f"{escape(names[w.predicted])} ({w.confidence:.0%})</figcaption></figure>")
    where = (f" Grad-CAM at {escape(ev.cam_layer)}: where the evidence for the predicted class lies."
             if ev.cam_layer else "")
    return ("<h2>Worst errors</h2><p class=\"muted\">The wrong answers given with the most "
            f"confidence.{where}</p><div class=\"gallery\">{''.join(figs)}</div>")


def feature_maps(ev: Any) -> str:
    if not ev.feature_maps:
        return ""
    parts = []
    for layer, maps in ev.feature_maps:
        figs = "".join(f'<figure><img alt="channel {i}" src="{pictures.feature_uri(c)}">'
                       f"<figcaption>{i}</figcaption></figure>" for i, c in enumerate(maps))
        parts.append(f"<h3>{escape(layer)}</h3><div class=\"gallery\">{figs}</div>")
    return ("<h2>Feature maps</h2><p class=\"muted\">The first channels of the first convolutions, "
            "for the first worst error (or the first validation image).</p>" + "".join(parts))


def document(title: str, sections: list[str]) -> str:
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
            + "".join(sections) + "</body></html>\n")


def data_checks(result: Any, most_classes: int = 40) -> str:
    """The last dataset check of the run's dataset and split (the Data panel's, cached)."""
    if result is None:
        return ("<h2>Dataset checks</h2><p>No check of this dataset has been run yet: the Data "
                "panel or <code>visionstudio check-data PROJECT</code> runs one, and the next "
                "report shows it.</p>")
    rows = [[f.message, f.count, "warns" if f.warns else ""] for f in result.findings]
    findings = (_table(["Finding", "Count", ""], rows, {1}) if rows
                else "<p>No duplicates, leaks or unreadable files were found.</p>")
    examples = []
    for f in result.findings:
        for group in f.groups[:2]:
            examples.append(f"<li>{escape(f.kind)}: {escape(', '.join(str(n) for n in group[:4]))}</li>")
    shown = (f"<p class=\"muted\">Examples:</p><ul>{''.join(examples[:12])}</ul>" if examples else "")
    balance = _table(["Class", "Images"], [[n, c] for n, c in
                                           zip(result.class_names[:most_classes], result.class_counts)],
                     {1})
    means = []
    for name, mean in list(zip(result.class_names, result.class_means))[:most_classes]:
        arr = np.asarray(mean, dtype=np.uint8)
        if arr.ndim == 3 and arr.size:
            means.append(f'<figure><img alt="mean image" src="{pictures.image_uri(arr, 64)}">'
                         f"<figcaption>{escape(name)}</figcaption></figure>")
    gallery = (f"<h3>Mean image per class</h3><div class=\"gallery\">{''.join(means)}</div>"
               if means else "")
    when = " (cached)" if result.cached else ""
    return (f"<h2>Dataset checks</h2><p class=\"muted\">{result.images:,} images checked{when}.</p>"
            + findings + shown + "<h3>Class balance</h3>" + balance + gallery)
