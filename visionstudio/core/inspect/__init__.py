"""Looking inside a network: activations, filters, Grad-CAM, evaluation. No Qt here."""

from .activations import (
    Activation, ChannelStats, capture_activations, channel_stats, class_probabilities, conv_filters,
)
from .evaluation import Evaluation, confusion_matrix, evaluate
from .gradcam import grad_cam, saliency

__all__ = [
    "Activation", "ChannelStats", "Evaluation", "capture_activations", "channel_stats",
    "class_probabilities", "confusion_matrix", "conv_filters", "evaluate", "grad_cam", "saliency",
]
