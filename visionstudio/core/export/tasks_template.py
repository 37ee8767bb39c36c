"""What the exported train.py trains for: the project's task (train_tasks.py of a bundle).

A classification with one output keeps the script's own loss and counts (config.json's
loss and how it meets a final softmax). Regression, localization, detection and a
classification with several heads train with VisionStudio's own Objective of the task
(task_regression.py, task_localization.py, task_detection.py … are the app's core/tasks
modules, cut at export time): the same losses, the regression's
target mean/std fitted on the training set, the Detect grid's assignment and three-part
loss, and the same metrics (MAE/RMSE/R², IoU, mAP@0.5). The few helpers those modules
take from the app's registries are defined here from config.json's checked settings.

Validation of those tasks runs over the whole validation set in every process (each
process then holds the same metrics, with no metric to merge across processes).
The checkpoint's train_state.json and model.safetensors metadata keep the objective's
state (a regression's target mean and std): outputs × std + mean are in the dataset's units.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


# -- the app's registry-bound helpers, from config.json's settings --------------------------
def _vector_loss(key: str, p: dict):
    fns = {"mse": F.mse_loss, "l1": F.l1_loss,
           "smooth_l1": lambda o, t: F.smooth_l1_loss(o, t, beta=float(p.get("beta", 1.0))),
           "huber": lambda o, t: F.huber_loss(o, t, delta=float(p.get("delta", 1.0))),
           "bce_with_logits": F.binary_cross_entropy_with_logits}
    if key not in fns:
        raise SystemExit(f"config.json: loss {key!r} is not supported by this script")
    return fns[key]


def _loss_fn(head, device: torch.device):
    """A values head's loss on raw outputs (regression)."""
    return _vector_loss(head.loss["key"], head.loss.get("params") or {})


_box_loss = _loss_fn   # a box head's loss compares four numbers the same way


def make_loss(cfg: dict, num_classes: int, device: torch.device):
    """A class loss on integer labels; vector losses get the labels one-hot encoded."""
    key, p = cfg["key"], cfg.get("params") or {}
    weight = p.get("class_weights") or None
    weight = torch.tensor(weight, dtype=torch.float32, device=device) if weight else None
    if key == "cross_entropy":
        smoothing = float(p.get("label_smoothing", 0.0))
        return lambda out, y: F.cross_entropy(out, y, weight=weight, label_smoothing=smoothing)
    if key == "nll":
        return lambda out, y: F.nll_loss(out, y, weight=weight)
    fn = _vector_loss(key, p)
    return lambda out, y: fn(out, F.one_hot(y, out.shape[1]).to(out.dtype))


def head_loss(head, num_classes: int, device: torch.device, *, log_softmax: bool = False):
    """A class head's loss (localization), on its scores flattened to (N, C)."""
    fn = make_loss(head.loss, num_classes, device)

    def loss(out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        out = out.reshape(out.shape[0], -1)
        return fn(F.log_softmax(out, dim=1) if log_softmax else out, labels)
    return loss


def detection_params(head) -> dict:
    """The Detect layer's settings (checked and completed with defaults at export)."""
    return dict(head.loss["params"])


# -- classification: the script's own loss and counts ----------------------------------------
def forward(model, xb: torch.Tensor, head: str) -> torch.Tensor:
    """The network's output as the loss wants it: raw scores where a final softmax is
    folded into the loss ("logits"), their log-softmax for NLL, else the output itself."""
    if head == "logits":
        return model(xb, logits=True)
    if head == "log_softmax":
        return F.log_softmax(model(xb, logits=True), dim=1)
    return model(xb)


class ClassificationTask:
    moves_targets = False

    def __init__(self, cfg: dict, num_classes: int, device: torch.device) -> None:
        self.loss_fn = make_loss(cfg["loss"], num_classes, device)
        self.head, self.num_classes = cfg["loss"]["head"], num_classes

    def forward(self, model, xb):
        return forward(model, xb, self.head)

    def loss(self, output, yb):
        return self.loss_fn(output, yb), None

    def counts(self, output, yb, parts) -> list[float]:
        """[correct] of a training batch."""
        return [float((output.detach().reshape(output.shape[0], -1).argmax(1) == yb).sum())]

    def train_fields(self, sums: list[float], seen: float) -> dict:
        return {"train_accuracy": sums[0] / max(seen, 1)}

    def evaluate(self, model, loader, prepare, mean, std, device, amp, all_sum) -> dict:
        model.eval()
        sums = [0.0, 0.0, 0.0, 0.0]  # loss, correct, top5, n
        with torch.no_grad():
            for xb, yb in loader:
                xb, yb = prepare(xb, mean, std, device), yb.to(device)
                with amp():
                    out = self.forward(model, xb)
                    loss = self.loss_fn(out, yb)
                out = out.reshape(out.shape[0], -1).float()
                sums[0] += float(loss) * yb.shape[0]
                sums[1] += float((out.argmax(1) == yb).sum())
                if self.num_classes > 5:
                    sums[2] += float((out.topk(5, dim=1).indices == yb[:, None]).any(1).sum())
                sums[3] += yb.shape[0]
        model.train()
        v_loss, v_correct, v_top5, v_n = all_sum(sums, device)
        v_n = max(v_n, 1)
        return {"val_loss": v_loss / v_n, "val_accuracy": v_correct / v_n,
                "val_top5": v_top5 / v_n if self.num_classes > 5 else None}

    def line(self, row: dict) -> str:
        val = (f"  val loss {row['val_loss']:.4f}  val acc {row['val_accuracy']:.4f}"
               if row["val_loss"] is not None else "")
        return f"loss {row['train_loss']:.4f}  acc {row['train_accuracy']:.4f}{val}"

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Classification keeps no state beyond the weights."""


# -- regression, localization, detection: the app's Objective ----------------------------------
def _as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


class ObjectiveTask:
    """The app's Objective of the task: its loss (total and per-head parts), its batch
    score (localization's class accuracy) and its Evaluator's metrics."""

    def __init__(self, cfg: dict, num_classes: int, target_names, train_set, device) -> None:
        import task_classification  # noqa: F401 - each module registers its Objective in OBJECTIVES
        import task_detection  # noqa: F401 - registers its Objective
        import task_localization  # noqa: F401 - registers its Objective
        import task_regression  # noqa: F401 - registers its Objective
        from task_heads import HeadPlan
        from task_objective import OBJECTIVES

        self.task = cfg["task"]
        heads = [HeadPlan(h["name"], h["target"], h["loss"], float(h["weight"]), tuple(h["output_shape"]))
                 for h in cfg["heads"]]
        self.objective = OBJECTIVES[self.task](heads, num_classes, device, list(target_names))
        self.moves_targets = self.task in ("localization", "detection")
        if self.objective.fits_targets:   # a regression's target mean/std, from the training set
            self.objective.fit(train_set.tensors[1])
        self.parts = tuple(self.objective.head_names) if len(heads) > 1 or self.task == "detection" else ()
        self.scored = self.task in ("classification", "localization")   # a class head's accuracy

    def forward(self, model, xb):
        return _as_tuple(model(xb))

    def loss(self, output, yb):
        return self.objective.loss(output, yb)

    def counts(self, output, yb, parts) -> list[float]:
        """[correct classes, per-head losses…] of a training batch (× its size for the losses)."""
        score = self.objective.batch_score(output, yb) if self.scored else None
        out = [float(score) if score is not None else 0.0]
        if parts is not None:
            out += [float(v) * yb.shape[0] for v in parts.tolist()]
        return out

    def train_fields(self, sums: list[float], seen: float) -> dict:
        row = {"train_accuracy": sums[0] / max(seen, 1) if self.scored else None}
        row.update({f"train_loss/{name}": v / max(seen, 1) for name, v in zip(self.parts, sums[1:])})
        return row

    def evaluate(self, model, loader, prepare, mean, std, device, amp, all_sum) -> dict:
        model.eval()
        evaluator = self.objective.evaluator()
        if hasattr(evaluator, "metric"):   # every process holds the whole validation set
            evaluator.metric.sync_on_compute = False
        sums = [0.0] * (2 + len(self.parts))   # loss, n, per-head losses
        with torch.no_grad():
            for xb, yb in loader:
                xb, yb = prepare(xb, mean, std, device), yb.to(device)
                with amp():
                    out = self.forward(model, xb)
                out = tuple(o.float() for o in out)
                loss, parts = self.objective.loss(out, yb)
                evaluator.add(out, yb)
                sums[0] += float(loss) * yb.shape[0]
                sums[1] += yb.shape[0]
                if parts is not None:
                    for i, v in enumerate(parts.tolist()):
                        sums[2 + i] += v * yb.shape[0]
        model.train()
        n = max(sums[1], 1)
        row = {"val_loss": sums[0] / n}
        row.update({f"val_loss/{name}": v / n for name, v in zip(self.parts, sums[2:])})
        row.update({f"val_{key}": float(v) for key, v in evaluator.result().items()})
        return row

    def line(self, row: dict) -> str:
        text = f"loss {row['train_loss']:.4f}"
        if row.get("train_accuracy") is not None:
            text += f"  acc {row['train_accuracy']:.4f}"
        if row.get("val_loss") is not None:
            text += f"  val loss {row['val_loss']:.4f}"
            shown = [k for k in row if k.startswith("val_") and "/" not in k and k != "val_loss"
                     and row[k] is not None and k != "val_top5"]
            text += "".join(f"  {k[4:]} {row[k]:.4f}" for k in shown)
        return text

    def state_dict(self) -> dict:
        return self.objective.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.objective.load_state_dict(state)


def make_task(cfg: dict, num_classes: int, target_names, train_set, device):
    """The task's loss, counts and metrics; ``train_set`` a TensorDataset of the training
    images and labels (a regression fits its target normalisation on the labels)."""
    if cfg.get("task", "classification") == "classification" and len(cfg.get("heads") or ()) <= 1:
        return ClassificationTask(cfg, num_classes, device)
    return ObjectiveTask(cfg, num_classes, target_names, train_set, device)


def make_augment(task: str, preset: str, input_shape: tuple[int, ...]):
    """The app's augmentation for the task: classification the preset (augmentation.py);
    regression only its colour part (a flip or crop would change what the targets
    measure); localization and detection the box augmentation (box_augment.py), which
    moves the boxes with the pixels: fn(images, targets) -> (images, targets)."""
    import augmentation

    if task == "classification":
        return augmentation.make_augmentation(preset, input_shape)
    if task == "regression":
        keep = "color" in augmentation.PRESET_STEPS.get(preset, ())
        return augmentation.make_augmentation("color", input_shape) if keep else None
    import box_augment

    return box_augment.make_box_augmentation(preset, input_shape)


def prepare_pair(prepare, xb, yb, mean, std, device, augment, moves_targets: bool):
    """train.py's prepare (uint8 -> [0, 1] -> augmented -> normalised), with a box
    augmentation's moved targets handed back beside the images."""
    if augment is None or not moves_targets:
        return prepare(xb, mean, std, device, augment), yb
    moved = {}

    def step(x):
        x, moved["targets"] = augment(x, yb)
        return x
    return prepare(xb, mean, std, device, step), moved["targets"]


def metric_columns(base: list[str], history: list[dict]) -> list[str]:
    """The CSV's columns: config.json's, then the task's own (val_r2, val_loss/box …)."""
    extra = []
    for row in history:
        extra += [k for k in row if k not in base and k not in extra]
    return list(base) + extra
