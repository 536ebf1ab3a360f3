"""lavaan-style model syntax: statements, modifiers, and errors that say where."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instrument import ModelSyntaxError, Term, parse_model

HS = """
# the lavaan tutorial's three-factor model
visual  =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed   =~ x7 + x8 + x9
"""


def test_holzinger_swineford_model() -> None:
    statements = parse_model(HS)
    assert [(s.lhs, s.op, [t.name for t in s.rhs], s.line) for s in statements] == [
        ("visual", "=~", ["x1", "x2", "x3"], 3),
        ("textual", "=~", ["x4", "x5", "x6"], 4),
        ("speed", "=~", ["x7", "x8", "x9"], 5),
    ]


def test_modifiers_fix_free_label_and_start() -> None:
    (s,) = parse_model("f =~ NA*x1 + 0.5*x2 + a*x3 + start(0.7)*x4 + 'b'*x5 + -1.5e-1*x6")
    assert s.rhs == (
        Term("x1", free=True),
        Term("x2", fixed=0.5),
        Term("x3", label="a"),
        Term("x4", start=0.7),
        Term("x5", label="b"),
        Term("x6", fixed=-0.15),
    )


def test_covariances_regressions_and_intercepts() -> None:
    statements = parse_model("x1 ~~ x2 + c*x3; y ~ x1 + x2\nx1 ~ 1 ; y ~ 0*1")
    assert [(s.lhs, s.op, [t.name for t in s.rhs]) for s in statements] == [
        ("x1", "~~", ["x2", "x3"]),
        ("y", "~", ["x1", "x2"]),
        ("x1", "~1", [""]),
        ("y", "~1", [""]),
    ]
    assert statements[-1].rhs[0].fixed == 0.0


def test_statements_continue_over_lines_and_comments_are_ignored() -> None:
    (a, b) = parse_model("f =~ x1 + x2 +  # first part\n   x3\ng =~ y1 ! comment\n  + y2\n")
    assert [t.name for t in a.rhs] == ["x1", "x2", "x3"]
    assert [t.name for t in b.rhs] == ["y1", "y2"]


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("f =~ x1\ng =- y1 + y2", "line 2, position 3: unknown operator '=-'"),
        ("f =~ x1\n  g  x1", "line 2, position 6: expected an operator such as '=~'; got 'x1'"),
        ("f =~", "line 1, position 5: expected a variable name after '=~'"),
        ("f =~ x1 +", "line 1, position 10: expected a variable name after '+'"),
        ("f =~ x1 + 0.5*", "line 1, position 15: expected a variable name after '*'"),
        ("=~ x1", "line 1, position 1: a statement starts with a variable name; got '=~'"),
        ("f =~ x1 x2", "line 1, position 9: expected '+'; got 'x2'"),
        ("f := a*b", "line 1, position 3: operator ':=' is not supported"),
        ("f =~ x1 + x1", "line 1, position 1: 'x1' is listed twice"),
        ("f =~ 0.5 + x1", "line 1, position 6: 0.5 needs '*' and a variable name after it"),
        ("f =~ x1 + 'lab", "line 1, position 11: a quoted label is not closed"),
        ("f =~ x1 + y$", "line 1, position 12: unexpected character '$'"),
        ("f =~ start(x)*x1", "line 1, position 12: start() needs a number or a quoted name"),
        ("# nothing\n\n", "line 1, position 1: the model is empty"),
        ("y ~ 1 + x", "line 1, position 1: an intercept ('~ 1') stands alone"),
    ],
)
def test_errors_name_line_and_position(model: str, message: str) -> None:
    with pytest.raises(ModelSyntaxError) as info:
        parse_model(model)
    assert str(info.value) == message


def test_a_model_must_be_text() -> None:
    with pytest.raises(TypeError, match="'model' must be a string; got int"):
        parse_model(3)  # type: ignore[arg-type]


names = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)


@st.composite
def measurement_models(draw: st.DrawFn) -> tuple[dict[str, list[str]], str]:
    factors = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    pool = draw(
        st.lists(
            names.filter(lambda n: n not in factors),
            min_size=len(factors),
            max_size=12,
            unique=True,
        )
    )
    spec: dict[str, list[str]] = {f: [] for f in factors}
    for k, item in enumerate(pool):
        spec[factors[k % len(factors)]].append(item)
    sep = draw(st.sampled_from(["\n", ";", " ;\n", "\n\n# note\n"]))
    plus = draw(st.sampled_from(["+", " + ", " +\n   "]))
    text = sep.join(f"{f} =~ {plus.join(items)}" for f, items in spec.items())
    return spec, text


@given(measurement_models())
@settings(max_examples=150, deadline=None)
def test_any_written_measurement_model_parses_back(case: tuple[dict[str, list[str]], str]) -> None:
    spec, text = case
    parsed = {s.lhs: [t.name for t in s.rhs] for s in parse_model(text)}
    assert parsed == spec


@given(st.text(max_size=80))
@settings(max_examples=400, deadline=None)
def test_arbitrary_text_parses_or_raises_a_located_syntax_error(text: str) -> None:
    try:
        statements = parse_model(text)
    except ModelSyntaxError as exc:
        assert exc.line >= 1 and exc.position >= 1
        assert str(exc).startswith(f"line {exc.line}, position {exc.position}: ")
    else:
        assert statements and all(s.op in ("=~", "~~", "~", "~1") for s in statements)
