"""A confirmatory factor analysis engine in lavaan's stages, checked against lavaan."""

from .model import ESTIMATORS, CFAResult, fit_cfa, prepare
from .partable import GROUP_EQUAL, ModelError, ParTable, build_partable, parse_partial

__all__ = [
    "ESTIMATORS",
    "GROUP_EQUAL",
    "CFAResult",
    "ModelError",
    "ParTable",
    "build_partable",
    "fit_cfa",
    "parse_partial",
    "prepare",
]
