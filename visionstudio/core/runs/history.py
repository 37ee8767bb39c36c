"""RunHistory: every step's loss and learning rate, every epoch's metrics, as arrays.

Fed with the trainer's frozen records (``add``), read by plots as numpy views
(``batch_arrays``/``epoch_series``), saved as ``history.npz`` (per-step arrays, no
pickle) + ``metrics.json`` (epochs, start record, status) + ``metrics.csv``.
``version`` increases on every change so a view redraws only when there is news.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from visionstudio.core.training.records import metrics_csv_text

EMA_WEIGHT = 0.98          # smoothing of the per-batch loss (TensorBoard-style, debiased)
HISTORY_FILE = "history.npz"
METRICS_JSON = "metrics.json"
METRICS_CSV = "metrics.csv"
BATCH_COLUMNS = ("step", "loss", "loss_ema", "lr")


class _Buffer:
    """A growable 1-D float64 array (amortised O(1) append, views without copies)."""

    def __init__(self, capacity: int = 1024) -> None:
        self._data = np.empty(capacity, dtype=np.float64)
        self.n = 0

    def extend(self, values: Any) -> None:
        values = np.asarray(values, dtype=np.float64).ravel()
        need = self.n + values.size
        if need > self._data.size:
            cap = self._data.size
            while cap < need:
                cap *= 2
            grown = np.empty(cap, dtype=np.float64)
            grown[:self.n] = self._data[:self.n]
            self._data = grown
        self._data[self.n:need] = values
        self.n = need

    def view(self) -> np.ndarray:
        return self._data[:self.n]

    def truncate(self, n: int) -> None:
        self.n = max(0, min(self.n, n))


class RunHistory:
    def __init__(self, ema_weight: float = EMA_WEIGHT) -> None:
        self.ema_weight = ema_weight
        self.step = _Buffer()
        self.loss = _Buffer()
        self.loss_ema = _Buffer()
        self.lr = _Buffer()
        # throughput and running training accuracy, one point per batch record
        self.rate_step = _Buffer(256)
        self.rate = _Buffer(256)
        self.acc_step = _Buffer(256)
        self.acc = _Buffer(256)
        self.epochs: list[dict[str, Any]] = []
        self.start: dict[str, Any] | None = None
        self.events: list[str] = []
        self.status = "new"
        self.version = 0
        self._ema = 0.0
        self._ema_n = 0
        self._latest: Any = None           # the last batch record (``latest`` as a dict)

    # -- feeding -----------------------------------------------------------------
    def add(self, record: Any) -> None:
        """Add any trainer record (dispatch on its fields)."""
        name = type(record).__name__
        if name == "BatchRecord":
            self.add_batch(record)
        elif name == "EpochRecord":
            self.add_epoch(record)
        elif name == "FitStartRecord":
            self.start = record.as_dict()
            self.version += 1
        elif name == "FitResult":   # notes added while training (e.g. files that broke mid-run)
            late = record.notes[len((self.start or {}).get("notes") or ()):]
            self.events.extend(n for n in late if n not in self.events)
            self.version += 1

    def add_batch(self, record: Any) -> None:
        losses = list(record.losses) or [record.loss]
        lrs = list(record.lrs) or [record.lr] * len(losses)
        n = len(losses)
        first = record.step - n + 1
        if self.step.n and first <= self.step.view()[-1]:   # replayed steps (resume): cut
            self.truncate(first - 1)
        self.step.extend(np.arange(first, record.step + 1, dtype=np.float64))
        self.loss.extend(losses)
        self.lr.extend(lrs[:n] + [lrs[-1]] * (n - len(lrs)))
        w = self.ema_weight
        ema = np.empty(n)
        value, count = self._ema, self._ema_n
        for i, v in enumerate(losses):
            if math.isfinite(v):
                value = w * value + (1 - w) * v
                count += 1
            ema[i] = value / (1 - w ** count) if count else math.nan
        self._ema, self._ema_n = value, count
        self.loss_ema.extend(ema)
        self.rate_step.extend([record.step])
        self.rate.extend([record.images_per_s])
        self.acc_step.extend([record.step])
        self.acc.extend([record.accuracy])
        self.events.extend(record.events)
        self._latest = record   # a dict when asked: dataclasses.asdict is ~0.3 ms a record
        self.version += 1

    @property
    def latest(self) -> dict[str, Any]:
        """The last batch record, as a dict ({} before the first)."""
        return self._latest.as_dict() if self._latest is not None else {}

    def add_epoch(self, record: Any) -> None:
        row = record.as_dict() if hasattr(record, "as_dict") else dict(record)
        self.epochs = [e for e in self.epochs if e["epoch"] < row["epoch"]]
        self.epochs.append(row)
        self.version += 1

    def truncate(self, step: int) -> None:
        """Forget everything after ``step`` (a run resumed from an earlier checkpoint)."""
        keep = int(np.searchsorted(self.step.view(), step, side="right"))
        for buf in (self.step, self.loss, self.loss_ema, self.lr):
            buf.truncate(keep)
        for xs, ys in ((self.rate_step, self.rate), (self.acc_step, self.acc)):
            k = int(np.searchsorted(xs.view(), step, side="right"))
            xs.truncate(k)
            ys.truncate(k)
        self.epochs = [e for e in self.epochs if e["step"] <= step]
        self._recompute_ema()
        self.version += 1

    def _recompute_ema(self) -> None:
        w, value, count = self.ema_weight, 0.0, 0
        for v in self.loss.view():
            if math.isfinite(v):
                value = w * value + (1 - w) * v
                count += 1
        self._ema, self._ema_n = value, count

    # -- reading -------------------------------------------------------------------
    @property
    def steps_done(self) -> int:
        return int(self.step.view()[-1]) if self.step.n else 0

    def batch_arrays(self) -> dict[str, np.ndarray]:
        return {"step": self.step.view(), "loss": self.loss.view(),
                "loss_ema": self.loss_ema.view(), "lr": self.lr.view(),
                "rate_step": self.rate_step.view(), "rate": self.rate.view(),
                "acc_step": self.acc_step.view(), "acc": self.acc.view()}

    def epoch_series(self, name: str, x: str = "step") -> tuple[np.ndarray, np.ndarray]:
        rows = [e for e in self.epochs if e.get(name) is not None]
        return (np.array([r[x] for r in rows], dtype=np.float64),
                np.array([r[name] for r in rows], dtype=np.float64))

    def final(self) -> dict[str, Any]:
        return dict(self.epochs[-1]) if self.epochs else {}

    # -- files -----------------------------------------------------------------------
    def epoch_csv(self) -> str:
        """The run's metrics.csv: the same columns as the command line's and train.py's."""
        return metrics_csv_text(self.epochs)

    def batch_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(BATCH_COLUMNS)
        arrays = self.batch_arrays()
        for row in zip(*(arrays[c] for c in BATCH_COLUMNS)):
            writer.writerow([int(row[0])] + [f"{v:.6g}" for v in row[1:]])
        return buf.getvalue()

    def save(self, folder: str | os.PathLike[str]) -> None:
        """Write history.npz, metrics.json and metrics.csv atomically into ``folder``."""
        from visionstudio.core.project import atomic_write_bytes

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {k: np.ascontiguousarray(v) for k, v in self.batch_arrays().items()}
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(folder / HISTORY_FILE, buf.getvalue())
        meta = {"format": "visionstudio.run-metrics", "version": 1, "status": self.status,
                "start": self.start, "epochs": self.epochs, "events": self.events[-1000:]}
        atomic_write_bytes(folder / METRICS_JSON,
                           json.dumps(meta, indent=1, default=_json_default).encode("utf-8"))
        atomic_write_bytes(folder / METRICS_CSV, self.epoch_csv().encode("utf-8"))

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> RunHistory:
        """Read a run folder; missing files give an empty history (never raises on
        absent files; a damaged file raises ValueError with the file's name)."""
        folder = Path(folder)
        hist = cls()
        meta_path = folder / METRICS_JSON
        if meta_path.is_file():
            try:
                meta = json.loads(meta_path.read_text("utf-8"))
            except (OSError, ValueError) as exc:
                raise ValueError(f"{meta_path} cannot be read: {exc}") from None
            hist.epochs = [dict(e) for e in meta.get("epochs", []) if isinstance(e, dict)]
            hist.start = meta.get("start")
            hist.status = str(meta.get("status", "unknown"))
            hist.events = [str(e) for e in meta.get("events", [])]
        npz_path = folder / HISTORY_FILE
        if npz_path.is_file():
            try:
                with np.load(npz_path, allow_pickle=False) as data:
                    arrays = {k: np.asarray(data[k], dtype=np.float64) for k in data.files}
            except (OSError, ValueError) as exc:
                raise ValueError(f"{npz_path} cannot be read: {exc}") from None
            for name in ("step", "loss", "loss_ema", "lr", "rate_step", "rate", "acc_step", "acc"):
                if name in arrays:
                    getattr(hist, name).extend(arrays[name])
            hist._recompute_ema()
        hist.version = 1
        return hist


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)
