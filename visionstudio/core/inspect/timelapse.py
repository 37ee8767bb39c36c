"""TimeLapse: one sample's activations after each epoch, to scrub through a run.

Frames are stored as float16 (half the memory of float32; plenty for display) with the
channel statistics computed from the float32 values. Memory is bounded by
``max_bytes`` (default 64 MiB): when a new frame would pass it, every other stored
frame is dropped (the first and the newest are always kept), so a long run keeps an
evenly thinned history instead of only its last epochs. ``thinned`` tells the UI to say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from visionstudio.core.inspect.activations import Activation, ChannelStats

DEFAULT_MAX_BYTES = 64 << 20


@dataclass(frozen=True)
class _Frame:
    epoch: int
    arrays: dict[str, np.ndarray]                  # float16
    stats: dict[str, tuple[ChannelStats, ...]]
    probabilities: np.ndarray | None

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays.values())


class TimeLapse:
    def __init__(self, sample_key: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.sample_key = sample_key
        self.max_bytes = int(max_bytes)
        self._frames: list[_Frame] = []
        self.thinned = False

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def nbytes(self) -> int:
        return sum(f.nbytes for f in self._frames)

    def epochs(self) -> list[int]:
        return [f.epoch for f in self._frames]

    def clear(self, sample_key: str | None = None) -> None:
        self._frames.clear()
        self.thinned = False
        self.sample_key = sample_key

    def add(self, epoch: int, activations: dict[str, Activation],
            probabilities: np.ndarray | None = None) -> None:
        """Keep ``activations`` (float16) as the frame of ``epoch`` (replacing one there)."""
        arrays = {name: a.array.astype(np.float16) for name, a in activations.items()}
        stats = {name: a.stats for name, a in activations.items()}
        frame = _Frame(int(epoch), arrays, stats,
                       None if probabilities is None else np.asarray(probabilities, np.float32))
        self._frames = [f for f in self._frames if f.epoch != frame.epoch]
        self._frames.append(frame)
        self._frames.sort(key=lambda f: f.epoch)
        while self.nbytes > self.max_bytes and len(self._frames) > 2:
            self._thin()

    def _thin(self) -> None:
        frames = self._frames
        keep = frames[:-1:2] + [frames[-1]]
        if len(keep) == len(frames):   # nothing could go: drop the oldest but the first
            keep = [frames[0]] + frames[2:]
        self._frames = keep
        self.thinned = True

    def frame(self, epoch: int) -> dict[str, Activation]:
        """The activations stored for ``epoch`` (float32 arrays again)."""
        for f in self._frames:
            if f.epoch == epoch:
                return {name: Activation(name, arr.astype(np.float32), f.stats[name])
                        for name, arr in f.arrays.items()}
        raise KeyError(f"no frame for epoch {epoch}")

    def probabilities(self, epoch: int) -> np.ndarray | None:
        for f in self._frames:
            if f.epoch == epoch:
                return f.probabilities
        raise KeyError(f"no frame for epoch {epoch}")
