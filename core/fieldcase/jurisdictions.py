"""Where a case is: its jurisdiction and its time zone, checked.

Jurisdictions are ISO 3166-1 alpha-2 codes, optionally with an ISO 3166-2 subdivision.

``CN``, ``US-IL``, ``IN-MH``: validated against pycountry's copy of the ISO
tables (Debian's iso-codes), normalised to capitals, and refused otherwise
with a suggestion where one can be found (``China`` -> ``CN``, ``chn`` -> ``CN``).
"""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidInput


@cache
def _country(code: str) -> str | None:
    import pycountry

    country = pycountry.countries.get(alpha_2=code)
    return None if country is None else str(country.name)


@cache
def _subdivision(code: str) -> str | None:
    import pycountry

    found = pycountry.subdivisions.get(code=code)
    return None if found is None else str(found.name)


def suggestion(text: str) -> str | None:
    """The code ``text`` names (a country's name, alpha-3 or number), or None."""
    import pycountry

    try:
        country = pycountry.countries.lookup(text.strip())
    except LookupError:
        return None
    return f"{country.alpha_2} ({country.name})"


def normalise(text: str, field: str = "jurisdiction") -> str:
    """``text`` as a valid, capitalised jurisdiction code, or :class:`InvalidInput` saying why."""
    code = text.strip().upper()
    country, dash, _ = code.partition("-")
    if (
        text.strip().isascii()
        and len(country) == 2
        and country.isalpha()
        and _country(country) is not None
    ):
        if not dash or _subdivision(code) is not None:
            return code
        raise InvalidInput(
            f"{field}: {text!r}: {country} ({_country(country)}) has no subdivision {code} "
            "in ISO 3166-2; give the country alone or a subdivision such as US-IL"
        )
    hint = suggestion(text) if text.strip() else None
    raise InvalidInput(
        f"{field}: {text!r} is not an ISO 3166 code such as CN, US-IL or IN"
        + (f"; did you mean {hint}?" if hint else "")
    )


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA time zone, else InvalidInput saying what to give."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(
            f"unknown time zone {name!r}; use an IANA name such as Asia/Shanghai"
        ) from None
    return name
