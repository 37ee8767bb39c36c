"""The app's learning-rate schedules, copied verbatim into exported training scripts.

``core/training/lr_schedule.py`` holds the schedules' arithmetic and the Schedule class
and imports only the standard library, so the bundle's ``lr_schedule.py`` is its source
text unchanged: the same settings give the learning rate the app gives at every step.
If that module ever grows an import a standalone script cannot satisfy, the export
stops with an ExportError instead of writing a broken script (the check augmentation
already has).
"""

from __future__ import annotations

import inspect

import visionstudio.core.training.lr_schedule as lr_schedule
from visionstudio.core.export.augment_source import foreign_imports
from visionstudio.core.export.weights import ExportError


def schedule_module_source() -> str:
    """The text of the bundle's lr_schedule.py (the app's lr_schedule.py, unchanged)."""
    source = inspect.getsource(lr_schedule)
    bad = foreign_imports(source)
    if bad:
        raise ExportError("the app's learning-rate schedule module imports "
                          f"{', '.join(bad)}; it cannot be copied into a standalone training script")
    return source
