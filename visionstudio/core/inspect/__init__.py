"""Looking inside a network: activations, filters, Grad-CAM, evaluation. No Qt here."""

from visionstudio.core.inspect.activations import (
    Activation,
    ChannelStats,
    capture_activations,
    channel_stats,
    class_probabilities,
    conv_filters,
)
from visionstudio.core.inspect.evaluation import Evaluation, confusion_matrix, evaluate
from visionstudio.core.inspect.gradcam import grad_cam, saliency
from visionstudio.core.inspect.samples import (
    IMAGE_SUFFIXES,
    Sample,
    SampleError,
    load_image_file,
    prepare_batch,
    prepare_sample,
)
from visionstudio.core.inspect.source import ModelSource, inspection_model, read_run_weights
from visionstudio.core.inspect.timelapse import TimeLapse

__all__ = [
    "Activation", "ChannelStats", "Evaluation", "capture_activations", "channel_stats",
    "class_probabilities", "confusion_matrix", "conv_filters", "evaluate", "grad_cam", "saliency",
    "IMAGE_SUFFIXES", "ModelSource", "Sample", "SampleError", "TimeLapse", "inspection_model",
    "load_image_file", "prepare_batch", "prepare_sample", "read_run_weights",
]
