"""What an import gives back, and the one error it raises.

An import is all or nothing: either every layer and weight of the source maps onto the
library (an :class:`ImportResult`), or :class:`ImportProblem` lists everything that does
not, in one message, and nothing is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from visionstudio.core.project import ProjectDocument


class ImportProblem(ValueError):
    """A source that cannot be imported. ``problems`` holds one entry per operation or
    layer that has no counterpart (``"Resize at /up1 (node 14)"``); the message names
    the file and lists them all, so the user sees every obstacle at once."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


def listing(source: str, noun: str, problems: list[str]) -> ImportProblem:
    """``model.onnx: 3 operations cannot be imported: A at x (node 1), ...``."""
    count = len(problems)
    plural = noun if count == 1 else f"{noun}s"
    shown = problems[:50]
    more = f", and {count - len(shown)} more" if count > len(shown) else ""
    message = (f"{source}: {count} {plural} cannot be imported: {', '.join(shown)}{more}. "
               "Nothing was imported.")
    return ImportProblem(message, tuple(problems))


@dataclass
class ImportResult:
    """The imported network as a project, and its weights.

    ``weights`` is a complete state dict with ``build_model(document.graph)``'s keys (CPU,
    float32); ``notes`` are sentences for the user about what changed on the way in
    (an inserted padding layer, reordered Dense weights, a dropped training-only op)."""

    document: ProjectDocument
    weights: dict[str, torch.Tensor]
    notes: list[str] = field(default_factory=list)
    source: str = ""
