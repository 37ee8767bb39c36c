"""Feature maps, filters, prediction, Grad-CAM and evaluation of the current network."""

from visionstudio.ui.features.feature_map_view import FeatureMapView

__all__ = ["FeatureMapView"]
