"""A confirmatory factor analysis engine in lavaan's stages, checked against lavaan."""

from .model import ESTIMATORS, CFAResult, fit_cfa
from .partable import ModelError, ParTable, build_partable

__all__ = ["ESTIMATORS", "CFAResult", "ModelError", "ParTable", "build_partable", "fit_cfa"]
