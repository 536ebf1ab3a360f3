"""lavaan-style model syntax -> statements (the first stage of the CFA engine).

Supported: ``=~`` (measured by), ``~~`` (covariance), ``~`` (regression) and ``~ 1`` (intercept);
statements separated by newlines or ``;``; comments after ``#`` or ``!``; a statement continues on
the next line when a line ends with ``+`` or an operator, or the next line starts with ``+``.
Modifiers before a variable, joined by ``*``: a number fixes the parameter (``0.5*x1``), ``NA``
frees it, a name or quoted string labels it, ``start(0.3)`` sets a starting value, and
``c(...)`` gives one such modifier per group (``c(a1, a2)*x2``, ``c(1, NA)*x3``).

Errors say where: ``line 2, position 14: unknown operator '=-'``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

SUPPORTED_OPS = ("=~", "~~", "~")
KNOWN_UNSUPPORTED_OPS = (":=", "==", "<", ">", "<~", "~*~", "|")
_OP_CHARS = set("=~<>:|*-")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")

TokenKind = Literal[
    "ident", "number", "string", "op", "plus", "star", "lparen", "rparen", "comma", "sep"
]


class ModelSyntaxError(ValueError):
    """A model string that cannot be parsed, with the line and position of the problem."""

    def __init__(self, line: int, position: int, message: str) -> None:
        self.line = line
        self.position = position
        self.reason = message
        super().__init__(f"line {line}, position {position}: {message}")


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    line: int
    position: int


@dataclass(frozen=True)
class Term:
    """One right-hand-side variable with its modifiers."""

    name: str
    fixed: float | None = None
    label: str | None = None
    start: float | None = None
    free: bool = False  # NA*: free a parameter that would be fixed by default (a marker loading)
    per_group: tuple[Term, ...] = ()  # c(a1, a2)*x: one modifier per group, in group order

    def in_group(self, group: int, n_groups: int) -> Term:
        """The modifiers that hold in ``group`` (0-based) of ``n_groups``."""
        if not self.per_group:
            return self
        if len(self.per_group) != n_groups:
            raise ValueError(
                f"c(...) before {self.name!r} gives {len(self.per_group)} values for "
                f"{n_groups} group{'s' if n_groups != 1 else ''}"
            )
        return replace(self.per_group[group], name=self.name)


@dataclass(frozen=True)
class Statement:
    lhs: str
    op: str  # '=~', '~~', '~' or '~1' (intercept)
    rhs: tuple[Term, ...]
    line: int
    position: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    line, line_start, i, n = 1, 0, 0, len(text)
    while i < n:
        c = text[i]
        pos = i - line_start + 1
        if c in "#!":
            while i < n and text[i] != "\n":
                i += 1
            continue
        if c == "\n":
            tokens.append(Token("sep", "\\n", line, pos))
            i += 1
            line, line_start = line + 1, i
            continue
        if c == ";":
            tokens.append(Token("sep", ";", line, pos))
            i += 1
            continue
        if c.isspace():
            i += 1
            continue
        prev = tokens[-1].kind if tokens else "sep"
        signed = c == "-" and prev in ("op", "plus", "star", "lparen", "comma", "sep")
        if c.isdigit() or (c in ".-" and (c == "." or signed)):
            number = _NUMBER.match(text, i)
            if number:
                tokens.append(Token("number", number.group(), line, pos))
                i = number.end()
                continue
        ident = _IDENT.match(text, i)
        if ident:
            tokens.append(Token("ident", ident.group(), line, pos))
            i = ident.end()
            continue
        if c in "\"'":
            end = text.find(c, i + 1)
            if end < 0 or "\n" in text[i:end]:
                raise ModelSyntaxError(line, pos, "a quoted label is not closed")
            tokens.append(Token("string", text[i + 1 : end], line, pos))
            i = end + 1
            continue
        if c == "*" and not (i + 1 < n and text[i + 1] == "~"):
            tokens.append(Token("star", c, line, pos))
            i += 1
            continue
        if c in _OP_CHARS:
            j = i
            while j < n and text[j] in _OP_CHARS:
                j += 1
            tokens.append(Token("op", text[i:j], line, pos))
            i = j
            continue
        simple = {"+": "plus", "(": "lparen", ")": "rparen", ",": "comma"}
        if c in simple:
            kind: TokenKind = simple[c]  # type: ignore[assignment]
            tokens.append(Token(kind, c, line, pos))
            i += 1
            continue
        raise ModelSyntaxError(line, pos, f"unexpected character {c!r}")
    return tokens


def _statements(tokens: list[Token]) -> list[list[Token]]:
    """Group tokens into statements, joining lines that continue with '+' or an operator."""
    groups: list[list[Token]] = []
    current: list[Token] = []
    for k, tok in enumerate(tokens):
        if tok.kind != "sep":
            current.append(tok)
            continue
        if not current:
            continue
        if tok.text == "\\n":
            if current[-1].kind in ("plus", "op", "star"):
                continue
            nxt = next((t for t in tokens[k + 1 :] if t.kind != "sep"), None)
            if nxt is not None and nxt.kind == "plus":
                continue
        groups.append(current)
        current = []
    if current:
        groups.append(current)
    return groups


class _Cursor:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.k = 0

    def peek(self) -> Token | None:
        return self.tokens[self.k] if self.k < len(self.tokens) else None

    def take(self) -> Token:
        tok = self.tokens[self.k]
        self.k += 1
        return tok

    def end_position(self) -> tuple[int, int]:
        last = self.tokens[-1]
        return last.line, last.position + len(last.text)


def _modifier(cur: _Cursor, term: Term, tok: Token) -> Term:
    """Apply one modifier token (already taken) to a term being built."""
    if tok.kind == "number":
        return replace(term, fixed=float(tok.text))
    if tok.kind == "string":
        return replace(term, label=tok.text)
    if tok.text == "NA":
        return replace(term, free=True)
    nxt = cur.peek()
    if nxt is not None and nxt.kind == "lparen" and tok.text == "c":
        return replace(term, per_group=_vector(cur, tok))
    if nxt is not None and nxt.kind == "lparen":
        cur.take()
        arg = cur.peek()
        if arg is None or arg.kind not in ("number", "string"):
            line, pos = (arg.line, arg.position) if arg else cur.end_position()
            raise ModelSyntaxError(line, pos, f"{tok.text}() needs a number or a quoted name")
        cur.take()
        close = cur.peek()
        if close is None or close.kind != "rparen":
            line, pos = (close.line, close.position) if close else cur.end_position()
            raise ModelSyntaxError(line, pos, f"expected ')' to close {tok.text}(")
        cur.take()
        if tok.text == "start" and arg.kind == "number":
            return replace(term, start=float(arg.text))
        if tok.text in ("label", "equal") and arg.kind == "string":
            return replace(term, label=arg.text)
        raise ModelSyntaxError(tok.line, tok.position, f"unknown modifier {tok.text}()")
    return replace(term, label=tok.text)


def _vector(cur: _Cursor, opener: Token) -> tuple[Term, ...]:
    """``c(m1, m2, ...)``, after the ``c``: one plain modifier (number, NA, name) per group."""
    cur.take()  # (
    out: list[Term] = []
    while True:
        arg = cur.peek()
        if arg is None or arg.kind not in ("number", "string", "ident"):
            line, pos = (arg.line, arg.position) if arg else cur.end_position()
            raise ModelSyntaxError(line, pos, "c() holds numbers, NA or labels, one per group")
        cur.take()
        if arg.kind == "number":
            out.append(Term("", fixed=float(arg.text)))
        elif arg.text == "NA":
            out.append(Term("", free=True))
        else:
            out.append(Term("", label=arg.text))
        sep = cur.peek()
        if sep is not None and sep.kind == "comma":
            cur.take()
            continue
        if sep is not None and sep.kind == "rparen":
            cur.take()
            return tuple(out)
        line, pos = (sep.line, sep.position) if sep else cur.end_position()
        raise ModelSyntaxError(line, pos, f"expected ',' or ')' in {opener.text}(")


def _term(cur: _Cursor, op: Token, previous: Token) -> Term:
    """One term: modifiers joined by '*', then a variable; ``previous`` is the token before it."""
    term = Term(name="")
    while True:
        tok = cur.peek()
        if tok is None:
            line, pos = cur.end_position()
            raise ModelSyntaxError(line, pos, f"expected a variable name after {previous.text!r}")
        if tok.kind not in ("ident", "number", "string"):
            raise ModelSyntaxError(
                tok.line, tok.position, f"expected a variable name; got {tok.text!r}"
            )
        cur.take()
        nxt = cur.peek()
        if nxt is not None and nxt.kind == "lparen":
            term = _modifier(cur, term, tok)
            nxt = cur.peek()
            if nxt is None or nxt.kind != "star":
                line, pos = (nxt.line, nxt.position) if nxt else cur.end_position()
                raise ModelSyntaxError(line, pos, "expected '*' and a variable after a modifier")
            previous = cur.take()
            continue
        if nxt is not None and nxt.kind == "star":
            previous = cur.take()
            term = _modifier(cur, term, tok)
            continue
        if tok.kind == "string":
            raise ModelSyntaxError(
                tok.line, tok.position, "a quoted label needs '*' and a variable"
            )
        if tok.kind == "number":
            if op.text == "~" and float(tok.text) == 1.0:
                return replace(term, name="1")
            raise ModelSyntaxError(
                tok.line, tok.position, f"{tok.text} needs '*' and a variable name after it"
            )
        return replace(term, name=tok.text)


def _statement(tokens: list[Token]) -> Statement:
    cur = _Cursor(tokens)
    first = cur.take()
    if first.kind != "ident":
        raise ModelSyntaxError(
            first.line,
            first.position,
            f"a statement starts with a variable name; got {first.text!r}",
        )
    op = cur.peek()
    if op is None:
        line, pos = cur.end_position()
        raise ModelSyntaxError(line, pos, f"expected an operator such as '=~' after {first.text!r}")
    if op.kind != "op":
        raise ModelSyntaxError(
            op.line, op.position, f"expected an operator such as '=~'; got {op.text!r}"
        )
    cur.take()
    if op.text not in SUPPORTED_OPS:
        if op.text in KNOWN_UNSUPPORTED_OPS:
            raise ModelSyntaxError(op.line, op.position, f"operator {op.text!r} is not supported")
        raise ModelSyntaxError(op.line, op.position, f"unknown operator {op.text!r}")
    terms = [_term(cur, op, op)]
    while (tok := cur.peek()) is not None:
        if tok.kind != "plus":
            raise ModelSyntaxError(tok.line, tok.position, f"expected '+'; got {tok.text!r}")
        terms.append(_term(cur, op, cur.take()))
    names = [t.name for t in terms]
    for k, name in enumerate(names):
        if name in names[:k]:
            raise ModelSyntaxError(first.line, first.position, f"{name!r} is listed twice")
    if op.text == "~" and names == ["1"]:
        return Statement(
            first.text, "~1", (replace(terms[0], name=""),), first.line, first.position
        )
    if "1" in names:
        raise ModelSyntaxError(first.line, first.position, "an intercept ('~ 1') stands alone")
    return Statement(first.text, op.text, tuple(terms), first.line, first.position)


def parse_model(text: str) -> list[Statement]:
    """Parse lavaan-style model syntax into statements, in order.

    Raises
    ------
    ModelSyntaxError
        With line and position, e.g. ``line 2, position 14: unknown operator '=-'``.
    """
    if not isinstance(text, str):
        raise TypeError(f"'model' must be a string; got {type(text).__name__}.")
    statements = [_statement(group) for group in _statements(tokenize(text))]
    if not statements:
        raise ModelSyntaxError(1, 1, "the model is empty")
    return statements


_LEVEL = re.compile(r"^\s*level\s*:\s*(\S+)\s*$", re.IGNORECASE)
_LEVEL_NAMES = {"1": 1, "within": 1, "2": 2, "between": 2}


@dataclass(frozen=True)
class Levels:
    """lavaan's level blocks: ``level: 1`` (or ``within``), the model of the sessions'
    deviations from their cluster's mean, and ``level: 2`` (or ``between``), the model of the
    cluster means. Each is the whole text with the other level's lines blanked, so that an
    error names the line of the model as written."""

    within: str
    between: str


def has_levels(text: str) -> bool:
    return any(_LEVEL.match(line) for line in text.splitlines())


def split_levels(text: str) -> Levels:
    """The two blocks of a two-level model. A level other than 1 and 2, a level given twice, a
    line before the first level or a level without a measurement line is refused by line."""
    lines = text.splitlines()
    level_of: list[int] = []
    header = {1: 0, 2: 0}
    current = 0
    for number, line in enumerate(lines, start=1):
        match = _LEVEL.match(line)
        if match:
            name = match.group(1).lower()
            if name not in _LEVEL_NAMES:
                raise ModelSyntaxError(
                    number,
                    1,
                    f"level {match.group(1)!r}: a two-level model has 'level: 1' (within "
                    "clusters) and 'level: 2' (between clusters)",
                )
            current = _LEVEL_NAMES[name]
            if header[current]:
                raise ModelSyntaxError(number, 1, f"level {current} is given twice")
            header[current] = number
            level_of.append(0)
            continue
        if current == 0 and re.split(r"[#!]", line)[0].strip():
            raise ModelSyntaxError(
                number, 1, "a two-level model starts with 'level: 1'; this line comes before it"
            )
        level_of.append(current)

    def block(level: int) -> str:
        return "\n".join(
            line if where == level else "" for line, where in zip(lines, level_of, strict=True)
        )

    blocks = {level: block(level) for level in (1, 2)}
    for level, body in blocks.items():
        if "=~" not in body:
            raise ModelSyntaxError(
                header[level] or len(lines),
                1,
                f"level {level} has no measurement line ('factor =~ item1 + item2 + ...')",
            )
    return Levels(blocks[1], blocks[2])
