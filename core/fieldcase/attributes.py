"""Custom case attributes: the institution's own fields, declared in its policy.

An institution keeps facts fieldcase has no column for (the branch that
granted the loan, the product, the sales channel). Its policy declares each
one and its kind, ``attributes.branch = "text"``; a case file's column maps
to it (``网点 = "attributes.branch"`` in ``--mapping``, or ``map_import_row``
returning ``{"attributes.branch": ...}``), ``create --attribute branch=...``
sets it by hand. The values live with the case (``Case.attributes``), travel
whole in its events, and are shown, filtered on (``--where branch=...``),
exported and reported like any other field. An attribute the policy does not
declare, or a value not of its kind, is refused with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import InvalidInput
from .text import TextRefused
from .text import clean as clean_text

#: How a field of a case file or a command line names an attribute.
PREFIX = "attributes."

NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")

#: The most characters an attribute's value may have.
MAX_LENGTH = 200


def _text(value: str) -> str:
    return value


def _integer(value: str) -> str:
    text = value.replace(",", "")
    if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 19:
        raise ValueError("a whole number, e.g. 12")
    return str(int(text))


def _decimal(value: str) -> str:
    try:
        number = Decimal(value.replace(",", ""))
    except InvalidOperation:
        raise ValueError("a number, e.g. 12.5") from None
    if not value.isascii() or not number.is_finite():
        raise ValueError("a number, e.g. 12.5")
    return str(number)


def _date(value: str) -> str:
    import datetime as dt

    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError("a date, YYYY-MM-DD") from None


#: Each kind an attribute may be declared as, and how a value of it is read.
KINDS: dict[str, Callable[[str], str]] = {
    "text": _text,
    "integer": _integer,
    "decimal": _decimal,
    "date": _date,
}


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise InvalidInput(
            f"attribute name {name!r} must be lower-case letters, digits and _, starting "
            "with a letter (at most 40), e.g. attributes.branch"
        )
    return name


def parse_declaration(name: str, kind: Any) -> str:
    """The kind ``attributes.<name> = kind`` declares, or InvalidInput saying why not."""
    check_name(name)
    if not isinstance(kind, str) or kind not in KINDS:
        raise InvalidInput(
            f"attributes.{name} = {kind!r} must be one of {', '.join(KINDS)} "
            f'(e.g. attributes.{name}="text")'
        )
    return kind


def declared(policy: Mapping[str, Any]) -> dict[str, str]:
    """The attributes ``policy`` declares: name -> kind."""
    table = policy.get("attributes") or {}
    return {str(name): str(kind) for name, kind in table.items()}


def clean(
    given: Mapping[str, Any], declarations: Mapping[str, str], institution: str
) -> dict[str, str]:
    """``given`` (name -> value) checked against ``declarations``; empty values dropped.

    Raises InvalidInput naming the attribute: undeclared (with how to declare
    it), too long, or not of its kind.
    """
    values: dict[str, str] = {}
    for name, raw in given.items():
        if name not in declarations:
            known = ", ".join(sorted(declarations)) or "none"
            raise InvalidInput(
                f"attribute {name!r} is not declared by {institution}'s policy (declared: "
                f"{known}); a supervisor declares it with 'fieldcase institution policy "
                f'{institution} --set attributes.{name}="text"\''
            )
        try:
            # Checked as any text that comes in: no control characters, NFC (fieldcase.text).
            text = "" if raw is None else clean_text(str(raw), "attribute")
        except TextRefused as exc:
            raise InvalidInput(f"attribute {name} = {exc.shown} {exc.reason}") from None
        if not text:
            continue
        if len(text) > MAX_LENGTH:
            raise InvalidInput(
                f"attribute {name}: {len(text)} characters is more than {MAX_LENGTH}"
            )
        kind = declarations[name]
        try:
            values[name] = KINDS[kind](text)
        except ValueError as exc:
            raise InvalidInput(f"attribute {name} = {text!r} must be {exc}") from None
    return dict(sorted(values.items()))


def split(row: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the row without attributes, its attributes by name) of a mapped import row.

    Attributes come as ``attributes.<name>`` keys, or as a mapping under
    ``attributes`` (what ``map_import_row`` may return).
    """
    rest: dict[str, Any] = {}
    found: dict[str, Any] = {}
    for key, value in row.items():
        if key.startswith(PREFIX):
            found[key.removeprefix(PREFIX)] = value
        elif key == "attributes" and isinstance(value, Mapping):
            found.update({str(k): v for k, v in value.items()})
        else:
            rest[key] = value
    return rest, found


def parse_pairs(pairs: Iterable[str], option: str = "--attribute") -> dict[str, str]:
    """``NAME=VALUE`` texts (from the command line) as a mapping."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip().removeprefix(PREFIX)
        if not sep or not name:
            raise InvalidInput(f"{option} {pair!r} must be NAME=VALUE, e.g. branch=Harbor-East")
        values[name] = value.strip()
    return values


def where_filter(pairs: Iterable[str]) -> dict[str, str]:
    """``--where NAME=VALUE`` options as a filter on attributes (names checked)."""
    wanted = parse_pairs(pairs, "--where")
    for name in wanted:
        check_name(name)
    return wanted
