"""Feature maps, filters, prediction, Grad-CAM and evaluation of the current network."""

from .feature_map_view import FeatureMapView

__all__ = ["FeatureMapView"]
