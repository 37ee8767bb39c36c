"""Pushing a command and learning why it was refused, for views that explain in place."""

from __future__ import annotations

from visionstudio.core.commands import Command


def push_or_reason(controller, command: Command) -> str | None:
    """Push ``command`` through ``controller``; None when done, else the refusal text.

    The controller still announces the refusal on ``refused`` (the status bar);
    this also hands the text back so a field or the canvas can show it in place.
    """
    reasons: list[str] = []
    slot = reasons.append
    controller.refused.connect(slot)
    try:
        ok = controller.push(command)
    finally:
        controller.refused.disconnect(slot)
    if ok:
        return None
    return reasons[-1] if reasons else "the edit was refused"
