"""A confirmatory factor analysis engine in lavaan's stages, checked against lavaan: how a model
is fitted (:mod:`.spec`), the stages in order (:mod:`.driver`), each estimator's information
and tests (:mod:`.families`), the result (:mod:`.result`) and invariance across groups
(:mod:`.invariance`)."""

from ..choices import ESTIMATORS
from .driver import fit_cfa, fit_model, prepare
from .partable import GROUP_EQUAL, ModelError, ParTable, build_partable, parse_partial
from .result import CFAResult
from .spec import FitRequest, FitSpec

__all__ = [
    "ESTIMATORS",
    "GROUP_EQUAL",
    "CFAResult",
    "FitRequest",
    "FitSpec",
    "ModelError",
    "ParTable",
    "build_partable",
    "fit_cfa",
    "fit_model",
    "parse_partial",
    "prepare",
]
