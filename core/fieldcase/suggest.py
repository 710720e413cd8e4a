""" "Did you mean": the nearest of a set of names to a mistyped one."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The choice ``word`` most likely meant: the same letters in another case, else a near one."""
    options = list(choices)
    folded = word.strip().casefold()
    for choice in options:
        if choice.casefold() == folded:
            return choice
    near = difflib.get_close_matches(folded, [c.casefold() for c in options], n=1, cutoff=0.6)
    if not near:
        return None
    return next(c for c in options if c.casefold() == near[0])


def hint(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean X?"``, or nothing."""
    found = did_you_mean(word, choices)
    return f"; did you mean {found}?" if found else ""


def choice(value: str, allowed: Sequence[str], field: str) -> str:
    """``value`` itself, or InvalidInput naming ``field`` and what it may be."""
    from .errors import InvalidInput

    if value not in allowed:
        raise InvalidInput(f"{field}: {value!r} is not one of {', '.join(allowed)}")
    return value
