"""Core inspection: activations, Grad-CAM and the confusion matrix against known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstudio.core.build import build_model
from visionstudio.core.commands import UndoHistory
from visionstudio.core.graph import AddNode, Connect, GraphModel
from visionstudio.core.inspect import (
    capture_activations,
    class_probabilities,
    confusion_matrix,
    conv_filters,
    evaluate,
    grad_cam,
    saliency,
)
from visionstudio.core.project import ProjectDocument


def _stack(layers):
    graph = GraphModel()
    history = UndoHistory(ProjectDocument(graph=graph))
    ids = []
    for kind, params in layers:
        cmd = history.push(AddNode(kind, params=params))
        if ids:
            history.push(Connect(ids[-1], cmd.node_id))
        ids.append(cmd.node_id)
    return graph


def _classic():
    return _stack([
        ("input", {"channels": 1, "height": 28, "width": 28}),
        ("conv2d", {"out_channels": 8, "activation": "relu"}),
        ("maxpool2d", {}),
        ("conv2d", {"out_channels": 16}),
        ("relu", {}),
        ("maxpool2d", {}),
        ("flatten", {}),
        ("dense", {"units": 10, "activation": "softmax"}),
    ])


def test_activations_equal_submodule_outputs():
    model = build_model(_classic(), seed=1)
    x = torch.rand(1, 1, 28, 28)
    acts, out = capture_activations(model, x)
    # Recompute layer by layer through the sub-modules themselves.
    value = x
    for name in ["conv1", "pool1", "conv2", "relu1", "pool2", "flatten1", "dense1"]:
        value = getattr(model, name)(value)
        np.testing.assert_array_equal(acts[name].array, value[0].detach().numpy())
    assert torch.equal(out, value)
    assert acts["conv1"].array.shape == (8, 26, 26)
    assert len(acts["conv1"].stats) == 8
    # After ReLU a share of values is exactly zero and stats report it.
    assert all(0.0 <= s.zero_fraction <= 1.0 for s in acts["conv1"].stats)
    assert acts["input1"].array.shape == (1, 28, 28)


def test_capture_subset_and_filters_and_probabilities():
    model = build_model(_classic(), seed=1)
    acts, out = capture_activations(model, torch.rand(1, 28, 28), nodes=["conv2"])
    assert set(acts) == {"conv2"}
    assert conv_filters(model.conv1).shape == (8, 1, 3, 3)
    with pytest.raises(ValueError):
        conv_filters(model.pool1)
    probs = class_probabilities(out)
    assert probs.shape == (10,) and abs(probs.sum() - 1) < 1e-5
    logits = torch.tensor([[2.0, -1.0, 0.5]])
    np.testing.assert_allclose(class_probabilities(logits), torch.softmax(logits[0], 0).numpy(), rtol=1e-6)


def _quadrant_net():
    """Class 1 = 'bright image'; Grad-CAM must point at the bright quadrant."""
    graph = _stack([
        ("input", {"channels": 1, "height": 16, "width": 16}),
        ("conv2d", {"out_channels": 1, "kernel_size": 1, "activation": "relu"}),
        ("global_avgpool", {}),
        ("dense", {"units": 2, "activation": "softmax"}),
    ])
    model = build_model(graph, seed=0)
    with torch.no_grad():
        model.conv1.weight.fill_(1.0)
        model.conv1.bias.zero_()
        model.dense1.weight.copy_(torch.tensor([[-1.0], [1.0]]))
        model.dense1.bias.copy_(torch.tensor([0.2, 0.0]))
    return model


@pytest.mark.parametrize("quadrant", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_grad_cam_highlights_the_deciding_quadrant(quadrant):
    model = _quadrant_net()
    image = torch.zeros(1, 16, 16)
    r, c = quadrant
    image[0, r * 8:(r + 1) * 8, c * 8:(c + 1) * 8] = 1.0
    cam, predicted = grad_cam(model, image, "conv1")
    assert predicted == 1
    assert cam.shape == (16, 16)
    inside = cam[r * 8:(r + 1) * 8, c * 8:(c + 1) * 8].mean()
    outside = (cam.sum() - cam[r * 8:(r + 1) * 8, c * 8:(c + 1) * 8].sum()) / (256 - 64)
    assert inside > 0.9 and outside < 0.1
    sal, _ = saliency(model, image)
    assert sal.shape == (16, 16) and sal.max() == pytest.approx(1.0)


def test_grad_cam_refuses_vector_layers():
    model = _quadrant_net()
    with pytest.raises(ValueError, match="feature maps"):
        grad_cam(model, torch.rand(1, 16, 16), "gap1")


def test_confusion_matrix_matches_hand_count():
    labels = np.array([0, 0, 1, 1, 2, 2, 2])
    preds = np.array([0, 1, 1, 1, 2, 0, 2])
    expected = np.array([[1, 1, 0], [0, 2, 0], [1, 0, 2]])
    np.testing.assert_array_equal(confusion_matrix(labels, preds, 3), expected)


def test_evaluate_on_a_fixed_set():
    class Fixed(torch.nn.Module):
        """Predicts the class written in the top-left pixel."""

        def __init__(self):
            super().__init__()
            self.dummy = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return torch.nn.functional.one_hot(x[:, 0, 0, 0].long(), 3).float() * 5

    images = torch.zeros(6, 1, 4, 4, dtype=torch.uint8)
    predicted = [0, 1, 2, 2, 1, 0]
    for i, p in enumerate(predicted):
        images[i, 0, 0, 0] = p
    labels = torch.tensor([0, 1, 2, 1, 1, 2])
    result = evaluate(Fixed(), images, labels, ["a", "b", "c"], prepare=lambda b: b.float(),
                      batch_size=4)
    np.testing.assert_array_equal(result.confusion, [[1, 0, 0], [0, 2, 1], [1, 0, 1]])
    assert result.accuracy == pytest.approx(4 / 6)
    np.testing.assert_array_equal(result.cell(1, 2), [3])
    np.testing.assert_allclose(result.recall(), [1.0, 2 / 3, 0.5])
    np.testing.assert_allclose(result.precision(), [0.5, 1.0, 0.5])
    assert result.normalized[1].sum() == pytest.approx(1.0)
    assert result.to_csv().splitlines()[0] == "true\\predicted,a,b,c"
