"""The trainer's seven hooks (Lightning's shape); a callback overrides the ones it needs.

    on_fit_start(trainer, FitStartRecord)      on_validation_end(trainer, ValidationRecord)
    on_epoch_start(trainer, epoch)             on_epoch_end(trainer, EpochRecord)
    on_batch_end(trainer, BatchRecord)         on_fit_end(trainer, FitResult)
    on_failure(trainer, FailureRecord)         (then on_fit_end with status "failed")

They run on the training thread; a GUI callback forwards the frozen records it is given.
"""

from __future__ import annotations

from typing import Any

from visionstudio.core.training.records import (
    BatchRecord,
    EpochRecord,
    FailureRecord,
    FitResult,
    FitStartRecord,
    ValidationRecord,
)


class Callback:
    """Override any of the hooks; ``trainer`` is the running Trainer (read, never steer it:
    steering goes through its TrainerControl)."""

    def on_fit_start(self, trainer: Any, record: FitStartRecord) -> None: ...
    def on_epoch_start(self, trainer: Any, epoch: int) -> None: ...
    def on_batch_end(self, trainer: Any, record: BatchRecord) -> None: ...
    def on_validation_end(self, trainer: Any, record: ValidationRecord) -> None: ...
    def on_epoch_end(self, trainer: Any, record: EpochRecord) -> None: ...
    def on_fit_end(self, trainer: Any, result: FitResult) -> None: ...
    def on_failure(self, trainer: Any, failure: FailureRecord) -> None: ...
