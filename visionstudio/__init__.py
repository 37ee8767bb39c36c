"""VisionStudio: design convolutional neural networks visually, train them, look inside."""

__version__ = "0.1.0"
