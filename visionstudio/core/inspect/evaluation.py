"""Evaluation on a labelled set: confusion matrix, per-class metrics, cell members."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: the viewer's module loads at start-up
    import torch
    from torch import nn

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Evaluation:
    class_names: tuple[str, ...]
    confusion: np.ndarray        # counts, rows = true class, columns = predicted
    predictions: np.ndarray      # predicted class per sample
    labels: np.ndarray           # true class per sample
    confidences: np.ndarray      # probability of the predicted class

    @property
    def normalized(self) -> np.ndarray:
        """Rows sum to one (recall per true class); empty rows stay zero."""
        rows = self.confusion.sum(axis=1, keepdims=True)
        return np.divide(self.confusion, rows, out=np.zeros_like(self.confusion, dtype=float),
                         where=rows > 0)

    @property
    def accuracy(self) -> float:
        total = self.confusion.sum()
        return float(np.trace(self.confusion) / total) if total else 0.0

    def precision(self) -> np.ndarray:
        cols = self.confusion.sum(axis=0)
        return np.divide(np.diag(self.confusion), cols, out=np.zeros(len(cols)), where=cols > 0)

    def recall(self) -> np.ndarray:
        rows = self.confusion.sum(axis=1)
        return np.divide(np.diag(self.confusion), rows, out=np.zeros(len(rows)), where=rows > 0)

    def class_accuracy(self) -> np.ndarray:
        """One-vs-rest accuracy per class: (TP + TN) / N."""
        n = self.confusion.sum()
        tp = np.diag(self.confusion)
        fp = self.confusion.sum(axis=0) - tp
        fn = self.confusion.sum(axis=1) - tp
        tn = n - tp - fp - fn
        return (tp + tn) / n if n else np.zeros(len(tp))

    def cell(self, true_class: int, predicted: int) -> np.ndarray:
        """Indices of the samples in one confusion-matrix cell."""
        return np.flatnonzero((self.labels == true_class) & (self.predictions == predicted))

    def to_csv(self) -> str:
        header = "true\\predicted," + ",".join(self.class_names)
        lines = [header]
        for name, row in zip(self.class_names, self.confusion):
            lines.append(name + "," + ",".join(str(int(v)) for v in row))
        return "\n".join(lines) + "\n"


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    index = labels * num_classes + predictions
    return np.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, class_names: list[str],
             *, prepare: Callable[[torch.Tensor], torch.Tensor], batch_size: int = 256,
             progress: Callable[[float], None] | None = None,
             cancel: Callable[[], bool] | None = None) -> Evaluation:
    """Predict every image (``prepare`` turns a uint8 batch into the model's input)."""
    import torch
    was_training = model.training
    model.eval()
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    preds, confs = [], []
    n = len(labels)
    try:
        with torch.no_grad():
            for start in range(0, n, batch_size):
                if cancel is not None and cancel():
                    raise InterruptedError("evaluation cancelled")
                batch = prepare(images[start:start + batch_size]).to(device)
                out = model(batch).float()
                probs = out if _is_probability(out) else torch.softmax(out, dim=1)
                conf, pred = probs.max(dim=1)
                preds.append(pred.cpu())
                confs.append(conf.cpu())
                if progress is not None:
                    progress(min(1.0, (start + batch_size) / n))
    finally:
        model.train(was_training)
    predictions = torch.cat(preds).numpy() if preds else np.zeros(0, dtype=np.int64)
    confidences = torch.cat(confs).numpy() if confs else np.zeros(0, dtype=np.float32)
    truth = labels.cpu().numpy().astype(np.int64)
    k = len(class_names)
    return Evaluation(tuple(class_names), confusion_matrix(truth, predictions, k), predictions,
                      truth, confidences)


def _is_probability(out: torch.Tensor) -> bool:
    import torch
    ones = torch.ones(len(out), device=out.device)
    return bool((out >= 0).all()) and bool(torch.allclose(out.sum(dim=1), ones, atol=1e-4))
