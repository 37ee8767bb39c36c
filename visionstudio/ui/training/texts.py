"""The training UI's words, in one place: the panel and the window's status bar and
message box say the same thing about the same state."""

from __future__ import annotations

import math

FAILURE_TITLES = {"nan": "Training diverged", "oom": "Out of memory", "dataset": "Dataset problem",
                  "setup": "Cannot start training"}
STATE_TEXTS = {"preparing": "Loading the dataset…", "pausing": "Pausing after this batch…",
               "paused": "Paused. Change the learning rate or optimizer settings, then Resume.",
               "stopping": "Stopping after this batch…"}
END_TEXTS = {"completed": "Training finished.",
             "stopped": "Training stopped; a checkpoint was kept. Continue training resumes it.",
             "early_stopped": "Training stopped early (no improvement).",
             "failed": "Training failed; see the message."}


def failure_title(failure) -> str:
    return FAILURE_TITLES.get(failure.kind, "Training failed")


def fmt_time(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
