"""The dashboard's hover readout: the shown run's values nearest to a step, in words."""

from __future__ import annotations

import numpy as np

from visionstudio.ui.plots.task_series import epoch_readout


def readout_at(history, step: float, metric_key: str) -> str:
    """"step 120 · loss 0.53 · EMA 0.6 · lr 0.001 · 2,300 img/s · epoch 1: …" ("" when
    the run has no batch yet); ``metric_key``: what the accuracy plot shows."""
    a = history.batch_arrays()
    if not len(a["step"]):
        return ""
    i = int(np.clip(np.searchsorted(a["step"], step), 0, len(a["step"]) - 1))
    parts = [f"step {int(a['step'][i])}", f"loss {a['loss'][i]:.4g}",
             f"EMA {a['loss_ema'][i]:.4g}", f"lr {a['lr'][i]:.3g}"]
    if len(a["rate_step"]):
        j = int(np.clip(np.searchsorted(a["rate_step"], step), 0, len(a["rate_step"]) - 1))
        parts.append(f"{a['rate'][j]:,.0f} img/s")
    epochs = [e for e in history.epochs if e["step"] >= a["step"][i]]
    if epochs:
        parts.append(epoch_readout(epochs[0], metric_key))
    return " · ".join(parts)
