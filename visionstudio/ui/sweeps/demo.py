"""The sweep panel alone (``python -m visionstudio.ui.sweeps``).

By default it shows a finished demo sweep over three settings of the demo network: the
trials' values come from a smooth toy function of the settings (the window title says
so; nothing is trained), and the importance is Optuna's, computed over those values in
memory. ``--sweep N`` instead runs a real sweep of N trials on the built-in shapes
(300 images, two epochs) in a temporary project folder, as a user would from the panel;
the table then lists the best trial first.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from visionstudio.core.project.commands import SetDatasetSettings
from visionstudio.ui.canvas.demo import demo_document
from visionstudio.ui.shell.controller import DocumentController
from visionstudio.ui.shell.launch import quit_demo_later

DEMO_PARAMETERS = ("optimizer.lr", "layer.conv3.out_channels", "optimizer.key")


def toy_value(params: dict[str, Any]) -> float:
    """A loss-like bowl: best near lr 3e-3 with 80 filters and Adam."""
    lr = math.log10(params["optimizer.lr"])
    width = params["layer.conv3.out_channels"]
    return (0.35 + 0.5 * (lr + 2.5) ** 2 + 0.00004 * (width - 80) ** 2
            + (0.0 if params["optimizer.key"] == "adam" else 0.12))


def demo_rows(config: Any, trials: int = 14, seed: int = 3) -> list[Any]:
    from visionstudio.core.sweeps.study import TrialRow

    rng = random.Random(seed)
    rows = []
    for n in range(trials):
        params = {"optimizer.lr": 10 ** rng.uniform(-4, -2),
                  "layer.conv3.out_channels": rng.randrange(32, 129, 16),
                  "optimizer.key": rng.choice(["adam", "sgd", "adamw"])}
        pruned = n in (4, 9)
        value = None if pruned else toy_value(params)
        rows.append(TrialRow(n, "pruned" if pruned else "complete", params, value,
                             () if value is None else (value,), (), 4.0 + rng.random() * 3,
                             "Pruned after epoch 1." if pruned else ""))
    return rows


def demo_importance(config: Any, rows: list[Any]) -> dict[str, float]:
    """Optuna's importance over the demo trials (an in-memory study)."""
    import optuna

    space = {}
    for p in config.parameters:
        if p.kind == "choice":
            space[p.path] = optuna.distributions.CategoricalDistribution(list(p.choices))
        elif p.kind == "int":
            space[p.path] = optuna.distributions.IntDistribution(int(p.low), int(p.high),
                                                                 step=int(p.step or 1))
        else:
            space[p.path] = optuna.distributions.FloatDistribution(p.low, p.high, log=p.log)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction=config.direction)
    for r in rows:
        if r.value is not None:
            study.add_trial(optuna.trial.create_trial(params=r.params, distributions=space, value=r.value))
    evaluator = optuna.importance.PedAnovaImportanceEvaluator()
    return dict(optuna.importance.get_param_importances(study, evaluator=evaluator))


def _fill_form(panel, trials: int) -> None:
    for path in DEMO_PARAMETERS:
        row = panel.parameters.add(path)
        if path == "optimizer.key" and row is not None:
            for key, box in row.boxes.items():
                box.setChecked(key in ("adam", "sgd", "adamw"))
        if path == "layer.conv3.out_channels" and row is not None:
            row.step.set_value(16)
    panel.settings.trials.setValue(trials)
    panel.settings.sampler.setCurrentIndex(panel.settings.sampler.findData("random"))


def run_demo(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m visionstudio.ui.sweeps")
    parser.add_argument("--sweep", type=int, default=0, metavar="TRIALS",
                        help="run a real sweep of this many trials (shapes, two epochs)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from visionstudio.core.sweeps.config import SweepConfig
    from visionstudio.ui.sweeps.panel import SweepPanel

    controller = DocumentController(demo_document())
    folder = tempfile.TemporaryDirectory(prefix="visionstudio-sweep-demo-")
    controller.path = Path(folder.name) / "demo.vsproj"   # its runs folder: the temporary one
    panel = SweepPanel(controller)
    _fill_form(panel, args.sweep or 14)
    def best_first(_summary=None) -> None:
        panel.results.sort_by(panel.results.model.metric_column(), Qt.SortOrder.AscendingOrder)

    if args.sweep:
        controller.push(SetDatasetSettings("shapes", {"samples": 300, "val_samples": 60}))
        panel.settings.epochs.setValue(2)
        panel.session.finished.connect(best_first)
        panel.setWindowTitle(f"VisionStudio sweeps: a real sweep of {args.sweep} trials")
        panel.start()
    else:
        config = SweepConfig.from_dict(panel.current_config())
        rows = demo_rows(config)
        panel.config = config
        panel.results.configure(config, panel.titles())
        panel.results.set_rows(rows)
        panel.results.show_importance(demo_importance(config, rows))
        best_first()
        panel.say("Demo: values from a toy function of the settings; nothing was trained.")
        panel.setWindowTitle("VisionStudio sweeps (demo values, not trained)")
    panel.resize(1280, 760)
    panel.show()
    quit_demo_later()
    code = app.exec()
    panel.session.shutdown()
    folder.cleanup()
    return code
