"""What the feature viewer shows of one sample for the tasks beyond classification.

FeatureMapView calls these hooks (it stays the classification viewer it was):

- ``sync_task``: the Prediction and Evaluation tabs show the task's own page (class
  probabilities and the confusion matrix are classification only).
- ``show_task_prediction``: detection draws the decoded boxes (threshold slider, the
  Detect layer's threshold to start with) and the true boxes dashed; localization the
  predicted box and class, IoU in the caption; regression the true and predicted values.
- ``cam_for_task``: Grad-CAM of a clicked box (``box_chosen``; else the best box shown) at
  its grid cell, of a localization's class head, of a regression's first value.

The run's Objective (heads planned from the graph, the checkpoint's saved state) is
built once per model (``task_objective``): predictions are de-normalised as training
reports them.
"""

from __future__ import annotations

import numpy as np

from visionstudio.core.inspect import grad_cam

PREDICTION_PAGE = {"classification": 0}
LOW_SCORE = 0.01    # decoded from here up; the slider picks what is drawn


def task_objective(state):
    """The run's Objective for the inspected model (cached per model); None when the
    heads cannot be planned (the canvas says why)."""
    from visionstudio.core.inspect.task_evaluation import inspection_objective, objective_state
    from visionstudio.core.tasks.heads import HeadError, plan_heads
    from visionstudio.core.tasks.objective import ObjectiveError

    model = state.model()
    if model is None or state.dataset is None:
        return None
    cached = getattr(state, "_task_objective", None)
    if cached is not None and cached[0] is model:
        return cached[1]
    c, d, source = state.controller, state.dataset, state.source
    folder, _name = state._run_folder()
    try:
        heads = plan_heads(state.task, c.document.graph, c.network_analysis, c.document.training.loss)
        saved = objective_state(getattr(source, "checkpoint", None), folder) if source.trained else None
        objective = inspection_objective(state.task, heads, len(d.class_names), d.target_names, saved,
                                         getattr(d, "train_targets", None))
    except (HeadError, ObjectiveError, ValueError) as exc:
        state.message.emit(f"The network's heads cannot be read: {exc}")
        objective = None
    state._task_objective = (model, objective)
    return objective


def sync_task(view) -> None:
    task = view.state.task
    view.prediction_stack.setCurrentIndex(PREDICTION_PAGE.get(task, 1))
    view.evaluation_stack.setCurrentIndex(0 if task == "classification" else 1)
    view.task_evaluation.set_task(task)


def true_rows(state) -> np.ndarray:
    """The shown validation sample's label rows [class, cx, cy, w, h] (none for a file)."""
    s = state.sample
    if s is None or s.index is None or state.task not in ("detection", "localization"):
        return np.zeros((0, 5))
    rows = state.dataset.val_labels[s.index].numpy().reshape(-1, 5)
    return rows[rows[:, 0] >= 0]


def _xyxy(rows: np.ndarray, w: int, h: int) -> np.ndarray:
    cx, cy, bw, bh = (rows[:, i] for i in range(4))
    return np.stack([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h], 1)


def show_task_prediction(view) -> bool:
    """Fill the Prediction tab for the task; False for a classification (bars as before)."""
    from visionstudio.core.inspect.task_evaluation import detect_module, sample_detections, sample_outputs

    st = view.state
    sync_task(view)
    if st.task == "classification":
        return False
    model = st.model()
    display = st.sample.display()
    h, w = display.shape[:2]
    outputs = sample_outputs(model, st.tensor)
    names, truth = st.class_names, true_rows(st)
    boxes_view = view.boxes
    if st.task == "detection":
        found = sample_detections(model, outputs, (h, w), LOW_SCORE)
        if getattr(view, "_threshold_model", None) is not model:
            view._threshold_model = model
            boxes_view.set_threshold(float(getattr(detect_module(model), "conf_threshold", 0.25)))
        gt = (_xyxy(truth[:, 1:5], w, h), truth[:, 0].astype(np.int64))
        view._sample_raw = outputs[0]
        boxes_view.show_boxes(display, found, gt, names, f"{len(truth)} true boxes (dashed). Click a "
                              f"predicted box to see its Grad-CAM.")
        return True
    objective = task_objective(st)
    if objective is None:
        boxes_view.show_boxes(display, ((), (), ()), ((), ()), names, "The network's heads cannot be read.",
                              slider=False)
        return True
    if st.task == "localization":
        _show_localization(view, objective, outputs, display, truth)
    else:
        values = objective.predict(outputs)[0].numpy()
        true = st.dataset.val_labels[st.sample.index].numpy() if st.sample.index is not None else None
        parts = [f"{n}: predicted {values[i]:.4g}" + (f", true {true[i]:.4g}" if true is not None else "")
                 for i, n in enumerate(objective.names)]
        boxes_view.show_boxes(display, ((), (), ()), ((), ()), names, "<br>".join(parts), slider=False)
    return True


def _show_localization(view, objective, outputs, display, truth) -> None:
    import torch

    from visionstudio.core.tasks.localization import box_iou_pairs

    h, w = display.shape[:2]
    scores, box = objective.predict(outputs)
    probs = torch.softmax(scores[0], 0)
    cls = int(probs.argmax())
    names = view.state.class_names
    name = names[cls] if cls < len(names) else str(cls)
    pred = (_xyxy(box.numpy(), w, h), probs[cls:cls + 1].numpy(), np.array([cls]))
    text = f"predicted <b>{name}</b> ({float(probs[cls]):.0%})"
    if len(truth):
        iou = float(box_iou_pairs(box, torch.as_tensor(truth[:1, 1:5], dtype=torch.float32))[0])
        true_cls = int(truth[0, 0])
        text += f" · true {names[true_cls] if true_cls < len(names) else true_cls} · IoU {iou:.2f}"
    view.boxes.show_boxes(display, pred, (_xyxy(truth[:, 1:5], w, h), truth[:, 0].astype(np.int64)),
                          names, text, slider=False)


def box_chosen(view, index: int) -> None:
    """A clicked predicted box: its Grad-CAM (detection), on the Grad-CAM tab."""
    from visionstudio.core.inspect.task_evaluation import box_cell

    raw = getattr(view, "_sample_raw", None)
    if view.state.task != "detection" or raw is None:
        return
    _boxes, scores, labels = view.boxes.predictions
    row, col = box_cell(raw, float(scores[index]), int(labels[index]))
    view._cam_box = (view.state.sample.key, view.state.model(), (row, col, int(labels[index]),
                                                                 float(scores[index])))
    view.tabs.setCurrentIndex(3)


def cam_for_task(view, layer: str | None) -> bool:
    """Grad-CAM for a task's target; False for a classification (the usual class score)."""
    from visionstudio.core.inspect.task_evaluation import box_score, head_score

    st = view.state
    if st.task == "classification" or view.method_combo.currentData() == "saliency":
        return False
    if layer is None:
        view.cam_caption.setText("Grad-CAM needs a convolution layer; this network has none.")
        return True
    names = st.class_names
    if st.task == "detection":
        chosen = getattr(view, "_cam_box", None)   # a box clicked on this sample and model
        box = chosen[2] if chosen and chosen[0] == st.sample.key and chosen[1] is st.model() else None
        if box is None:
            box = _best_box(view)
        if box is None:
            view.cam_caption.setText("No box scores above the confidence threshold on the Prediction "
                                     "tab; lower it, or pick another sample.")
            view.overlay.clear()
            return True
        row, col, label, score = box
        target = box_score(row, col, label)
        what = (f"the box <b>{names[label] if label < len(names) else label}</b> {score:.0%} "
                f"(grid cell row {row}, column {col})")
    elif st.task == "localization":
        objective = task_objective(st)
        if objective is None:
            return False
        chosen = view.cam_class_combo.currentData()
        from visionstudio.core.inspect.task_evaluation import sample_outputs

        scores, _box = objective.predict(sample_outputs(st.model(), st.tensor))
        cls = int(scores[0].argmax()) if chosen is None else int(chosen)
        target = head_score(objective.class_index, cls)
        what = f"class <b>{names[cls] if cls < len(names) else cls}</b> of the class head"
    else:
        target, what = head_score(0, 0), "the first predicted value"
    heat, _ = grad_cam(st.model(), st.tensor, layer, score=target)
    view.cam_caption.setText(f"Grad-CAM at {layer}: where the evidence for {what} lies")
    view.overlay.show_overlay(st.sample.display(), heat, view.opacity_slider.value() / 100)
    return True


def _best_box(view):
    from visionstudio.core.inspect.task_evaluation import box_cell, sample_detections, sample_outputs

    st = view.state
    display = st.sample.display()
    outputs = sample_outputs(st.model(), st.tensor)
    boxes, scores, labels = sample_detections(st.model(), outputs, display.shape[:2], view.boxes.threshold)
    if not len(boxes):
        return None
    row, col = box_cell(outputs[0], float(scores[0]), int(labels[0]))
    return row, col, int(labels[0]), float(scores[0])
