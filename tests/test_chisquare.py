"""The standard-library chi-square tail and quantile against scipy's."""

from __future__ import annotations

import pytest
from scipy import special

from analysis.chisquare import upper_quantile, upper_tail


@pytest.mark.parametrize("df", [1, 2, 3, 5, 12, 24, 47, 100, 265, 1000])
@pytest.mark.parametrize("p", [0.5, 0.05, 0.001, 1e-6, 1e-12])
def test_the_quantile_and_the_tail_match_scipy(df: int, p: float) -> None:
    x = upper_quantile(df, p)
    assert x == pytest.approx(special.chdtri(df, p), rel=1e-10)
    assert upper_tail(df, x) == pytest.approx(p, rel=1e-9)
    for point in (0.01 * df, 0.5 * df, df, 2 * df + 10):
        assert upper_tail(df, point) == pytest.approx(special.chdtrc(df, point), rel=1e-10)


def test_the_edges() -> None:
    assert upper_tail(3, 0) == 1.0 and upper_tail(3, -1) == 1.0
    with pytest.raises(ValueError, match="between 0 and 1"):
        upper_quantile(3, 0)
