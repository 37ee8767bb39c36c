"""Regression: numbers measured from an image (a size, an angle, a position …).

Targets are standardised for the loss: each target's mean and standard deviation are
fitted on the training set (``fit``), so targets of very different scales (degrees and
fractions) weigh alike and a network's raw outputs start near the right range. The mean
and std are the objective's state (saved with each checkpoint and in the run's summary)
and ``predict`` undoes them, so predictions are in the dataset's units. A target that
never varies in the training set keeps std 1 (it is only centred).

Each ``values`` head outputs one number per target (its loss: MSE, L1, Huber or Smooth
L1, on the raw outputs against the standardised targets). Metrics are on de-normalised
values of the first head: MAE, RMSE and R² averaged over the targets, and per target
(``mae/<target>`` …); R² is 1 − SSE/SST over the validation set (SST about its own mean).
The validation pass also keeps up to SCATTER_LIMIT images' true and predicted values for
the predicted-vs-true plot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from visionstudio.core.params import validate_all
from visionstudio.core.tasks.objective import OBJECTIVES, Evaluator, Objective, ObjectiveError
from visionstudio.core.training.losses import LOSSES

if TYPE_CHECKING:
    import torch

    from visionstudio.core.tasks.heads import HeadPlan

REGRESSION_LOSSES = ("mse", "l1", "huber", "smooth_l1")
SCATTER_LIMIT = 1_000
MIN_STD = 1e-8


def _flat(out: torch.Tensor) -> torch.Tensor:
    return out.reshape(out.shape[0], -1).float()


def _loss_fn(head: HeadPlan, device: torch.device) -> Any:
    key = head.loss.get("key")
    if key not in REGRESSION_LOSSES:
        title = LOSSES.get(key).title if key in LOSSES else repr(key)
        raise ObjectiveError(f"the values head {head.name} uses the loss {title}, which does not "
                             f"compare numbers; choose one of {', '.join(REGRESSION_LOSSES)}")
    params, problems = validate_all(LOSSES.get(key).params, dict(head.loss.get("params") or {}))
    if problems:
        raise ObjectiveError(f"the loss of {head.name}: {problems[0]}")
    return LOSSES.get(key).factory(params, 0, device)


class RegressionEvaluator(Evaluator):
    """Per-target sums on the device (float64): |e|, e², y, y² and the count; the first
    SCATTER_LIMIT rows of (true, predicted) for the scatter."""

    def __init__(self, objective: RegressionObjective) -> None:
        import torch

        self.objective = objective
        self.names = objective.names
        t = len(self.names)
        self.sums = torch.zeros(4, t, device=objective.device, dtype=torch.float64)
        self.n = 0
        self._true: list[torch.Tensor] = []
        self._pred: list[torch.Tensor] = []
        self._kept = 0

    def add(self, outputs: tuple[torch.Tensor, ...], targets: torch.Tensor) -> None:
        import torch

        pred = self.objective.predict(outputs).double()
        y = targets.double().reshape(targets.shape[0], -1)
        err = pred - y
        self.sums += torch.stack([err.abs().sum(0), (err * err).sum(0), y.sum(0), (y * y).sum(0)])
        self.n += int(y.shape[0])
        if self._kept < SCATTER_LIMIT:
            take = SCATTER_LIMIT - self._kept
            self._true.append(y[:take].float())
            self._pred.append(pred[:take].float())
            self._kept += min(take, int(y.shape[0]))

    def result(self) -> dict[str, float]:
        abs_sum, sq_sum, y_sum, y_sq = self.sums.tolist()
        n = max(self.n, 1)
        out: dict[str, float] = {}
        per: dict[str, list[float]] = {"mae": [], "rmse": [], "r2": []}
        for i, name in enumerate(self.names):
            sst = y_sq[i] - y_sum[i] * y_sum[i] / n
            mae, rmse = abs_sum[i] / n, math.sqrt(max(sq_sum[i], 0.0) / n)
            r2 = 1.0 - sq_sum[i] / sst if sst > 1e-12 * max(y_sq[i], 1.0) else 0.0
            for key, value in (("mae", mae), ("rmse", rmse), ("r2", r2)):
                per[key].append(value)
                out[f"{key}/{name}"] = value
        for key, values in per.items():
            out[key] = sum(values) / max(len(values), 1)
        return {k: out[k] for k in ("mae", "rmse", "r2")} | {k: v for k, v in out.items() if "/" in k}

    def scatter(self) -> tuple[tuple[str, tuple[float, ...], tuple[float, ...]], ...]:
        if not self._true:
            return ()
        import torch

        true, pred = torch.cat(self._true).tolist(), torch.cat(self._pred).tolist()
        return tuple((name, tuple(r[i] for r in true), tuple(r[i] for r in pred))
                     for i, name in enumerate(self.names))


class RegressionObjective(Objective):
    task = "regression"
    fits_targets = True

    def __init__(self, heads: Sequence[HeadPlan], num_classes: int, device: torch.device,
                 target_names: Sequence[str] = ()) -> None:
        import torch

        super().__init__(heads, num_classes, device, target_names)
        if not self.heads:
            raise ObjectiveError("a regression network needs an output that gives the values")
        self._fns = [_loss_fn(h, device) for h in self.heads]
        width = self.heads[0].output_shape
        count = len(self.target_names) or (math.prod(width) if width else 1)
        self.names = tuple(self.target_names) or tuple(f"target{i + 1}" for i in range(count))
        self.mean = torch.zeros(len(self.names), device=device)
        self.std = torch.ones(len(self.names), device=device)

    def fit(self, train_targets: torch.Tensor) -> None:
        y = train_targets.double().reshape(train_targets.shape[0], -1)
        if y.shape[0] == 0 or y.shape[1] != len(self.names):
            raise ObjectiveError(f"the training targets have {y.shape[1]} values per image, "
                                 f"the run expects {len(self.names)} ({', '.join(self.names)})")
        mean = y.mean(0)
        std = y.std(0, unbiased=False) if y.shape[0] > 1 else y.new_ones(y.shape[1])
        std = std.where(std > MIN_STD, std.new_ones(()))
        self.mean = mean.float().to(self.device)
        self.std = std.float().to(self.device)

    def targets(self, labels: torch.Tensor) -> torch.Tensor:
        return (labels.float().reshape(labels.shape[0], -1) - self.mean) / self.std

    def loss(self, outputs: tuple[torch.Tensor, ...],
             targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        norm = self.targets(targets)
        return self.weighted([fn(_flat(out), norm) for fn, out in zip(self._fns, outputs)])

    def evaluator(self) -> RegressionEvaluator:
        return RegressionEvaluator(self)

    def predict(self, outputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The first head's values in the dataset's units (N, targets)."""
        return _flat(outputs[0]) * self.std + self.mean

    def state_dict(self) -> dict[str, Any]:
        return {"targets": list(self.names), "mean": [float(v) for v in self.mean.tolist()],
                "std": [float(v) for v in self.std.tolist()]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        import torch

        n = len(self.names)
        values = {}
        for key in ("mean", "std"):
            v = state.get(key) if isinstance(state, dict) else None
            if (not isinstance(v, list) or len(v) != n
                    or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                               for x in v)):
                raise ObjectiveError(f"the saved target {key} must be {n} finite numbers "
                                     f"(one per target: {', '.join(self.names)})")
            values[key] = v
        if any(s <= 0 for s in values["std"]):
            raise ObjectiveError("the saved target std must be positive numbers")
        self.mean = torch.tensor(values["mean"], dtype=torch.float32, device=self.device)
        self.std = torch.tensor(values["std"], dtype=torch.float32, device=self.device)


OBJECTIVES["regression"] = RegressionObjective
