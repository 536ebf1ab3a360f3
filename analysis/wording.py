"""Errors that name the user's options in the user's own words: in Python the parameter
(``'scale'``), on the command line the flag (``--scale``).

A message is written once, with each option between backticks::

    raise ValueError(worded("set `scale` to LOW-HIGH (e.g. 1-5)"))

``str()`` of it reads "set 'scale' to LOW-HIGH (e.g. 1-5)"; the command line, which knows its
flags, rewrites it with :meth:`Worded.with_flags`."""

from __future__ import annotations

import re
from collections.abc import Callable

_OPTION = re.compile(r"`([a-z][a-z_]*)`")


class Worded(str):
    """A message whose options are named as parameters, and that can name them as flags."""

    template: str

    def __new__(cls, template: str) -> Worded:
        text = super().__new__(cls, _OPTION.sub(r"'\1'", template))
        text.template = template
        return text

    def with_flags(self, flag: Callable[[str], str]) -> str:
        """The message with every option named by ``flag(parameter)``."""
        return _OPTION.sub(lambda found: flag(found.group(1)), self.template)


def worded(template: str) -> Worded:
    return Worded(template)
