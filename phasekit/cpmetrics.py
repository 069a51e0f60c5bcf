"""Old import path of the change-point metrics: moved to :mod:`phasekit.changepoints.metrics`."""

from .changepoints.metrics import margin_f1, segmentation_covering, true_positives

__all__ = ["margin_f1", "segmentation_covering", "true_positives"]
