"""TensorBoard event files of a run, beside its metrics.csv (optional dependency).

With the training option ``tensorboard`` on, a run also writes ``<run folder>/tensorboard/``
so ``tensorboard --logdir <runs folder>`` shows its curves: every step's loss and
learning rate (``train/loss_step``, ``train/lr_step``) and, per epoch, the columns of
metrics.csv (``epoch/train_loss``, ``epoch/val_accuracy``, ...) at the step the epoch
ended. The writer is PyTorch's own SummaryWriter, which needs the ``tensorboard``
package; without it ``plan_run`` refuses the run and names the command that installs
it, rather than training without the files that were asked for.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from visionstudio.core.runs.paths import TENSORBOARD, confine
from visionstudio.core.training.callbacks import Callback
from visionstudio.core.training.records import (
    METRIC_COLUMNS,
    BatchRecord,
    EpochRecord,
    FitResult,
    task_values,
)

FOLDER = TENSORBOARD
MISSING = ("TensorBoard logging is on, but the tensorboard package is not installed: install it "
           "with `pip install tensorboard`, or turn TensorBoard off in the training settings.")
_NOT_SCALARS = ("epoch", "step", "best")


def available() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


class TensorBoardLog(Callback):
    """Writes the run's scalars as they come; the folder is confined to the run folder
    (a planted link must not send the files elsewhere)."""

    def __init__(self, run_folder: str | Path) -> None:
        self.run_folder = Path(run_folder)
        self.folder = confine(self.run_folder, self.run_folder / FOLDER)
        self._writer: Any = None

    def _out(self) -> Any:
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.folder.mkdir(parents=True, exist_ok=True)
            self._writer = SummaryWriter(log_dir=str(self.folder))
        return self._writer

    def on_batch_end(self, trainer: Any, record: BatchRecord) -> None:
        out = self._out()
        losses = record.losses or (record.loss,)
        lrs = record.lrs or (record.lr,) * len(losses)
        first = record.step - len(losses) + 1
        for i, (loss, lr) in enumerate(zip(losses, lrs)):
            out.add_scalar("train/loss_step", loss, first + i)
            out.add_scalar("train/lr_step", lr, first + i)

    def on_epoch_end(self, trainer: Any, record: EpochRecord) -> None:
        out = self._out()
        row = record.as_dict()
        values = {name: row.get(name) for name in METRIC_COLUMNS} | task_values(row)
        for name, value in values.items():
            if name not in _NOT_SCALARS and isinstance(value, (int, float)):
                out.add_scalar(f"epoch/{name}", float(value), record.step)
        out.flush()

    def on_fit_end(self, trainer: Any, result: FitResult) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
