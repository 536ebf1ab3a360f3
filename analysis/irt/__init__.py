"""Item response theory for the item bank: the graded response model, its calibration by
marginal maximum likelihood, EAP scores, item fit, information, short forms and adaptive
testing."""

from .calibration import (
    DEFAULT_SHORT_ITEMS,
    Calibration,
    ItemParameters,
    ScaleCalibration,
    calibrate,
    calibrate_scale,
    load_calibration,
    save_calibration,
    short_form,
    theta_at_item_mean,
)
from .eap import eap, t_score

__all__ = [
    "DEFAULT_SHORT_ITEMS",
    "Calibration",
    "ItemParameters",
    "ScaleCalibration",
    "calibrate",
    "calibrate_scale",
    "eap",
    "load_calibration",
    "save_calibration",
    "short_form",
    "t_score",
    "theta_at_item_mean",
]
