"""Parameter tables of a two-level model: block 0 the within level (no means: a session's
deviation from its patient's mean has mean 0), block 1 the between level (the items' means as
intercepts, latent means 0), as lavaan sets them. The unrestricted and the independence model
are tables of the same shape, so one likelihood fits all three."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from instrument.syntax import ModelSyntaxError, split_levels

from ..partable import ModelError, Parameter, ParTable, build_partable

LEVELS = ("within", "between")


def model_table(model: str) -> ParTable:
    try:
        levels = split_levels(model)
    except ModelSyntaxError as exc:
        raise ModelError(str(exc)) from None
    within = build_partable(levels.within, meanstructure=False)
    between = build_partable(levels.between, meanstructure=True)
    only = set(within.observed) ^ set(between.observed)
    if only:
        raise ModelError(
            f"{', '.join(sorted(only))}: every item is modelled at both levels (an item at one "
            "level only is not supported yet)."
        )
    latent = within.latent + tuple(f for f in between.latent if f not in within.latent)
    params = within.parameters + tuple(replace(p, group=1) for p in between.parameters)
    return ParTable(params, latent, within.observed, LEVELS, meanstructure=True)


def unrestricted_table(observed: tuple[str, ...]) -> ParTable:
    """Every variance and covariance free at both levels, and the means."""
    return _table(observed, covariances=True)


def independence_table(observed: tuple[str, ...]) -> ParTable:
    """lavaan's baseline: the variances at both levels and the means, nothing correlated."""
    return _table(observed, covariances=False)


def _table(observed: tuple[str, ...], covariances: bool) -> ParTable:
    params: list[Parameter] = []
    for level in (0, 1):
        for r, a in enumerate(observed):
            for b in observed[: r + 1] if covariances else (a,):
                params.append(Parameter(b, "~~", a, "theta", True, np.nan, group=level))
        if level == 1:
            params += [Parameter(a, "~1", "", "nu", True, np.nan, group=1) for a in observed]
    return ParTable(tuple(params), (), observed, LEVELS, meanstructure=True)
