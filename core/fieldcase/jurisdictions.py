"""Where a case is: its jurisdiction and its time zone, checked.

Jurisdictions are ISO 3166-1 alpha-2 codes, optionally with an ISO 3166-2 subdivision.

``CN``, ``US-IL``, ``IN-MH``: validated against pycountry's copy of the ISO
tables (Debian's iso-codes), normalised to capitals, and refused otherwise
with a suggestion where one can be found (``China`` -> ``CN``, ``chn`` -> ``CN``).

Time zones are names in the IANA time zone database, as the ``tzdata``
package lists them (``Asia/Shanghai``, ``UTC``, ``Etc/GMT-8``): not what a
machine happens to have under its zoneinfo folder (``localtime``,
``posixrules``, ``right/...``), nor offsets and POSIX TZ rules (``UTC+8``,
``CST-8``), which would make a case's local time depend on the machine or miss
daylight saving.
"""

from __future__ import annotations

import re
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


@cache
def iana_zones() -> frozenset[str]:
    """Every name in the IANA time zone database (the ``tzdata`` package's list)."""
    from importlib.resources import files

    names = files("tzdata").joinpath("zones").read_text(encoding="utf-8").split()
    # "Factory" is in the database only to say that no zone was set.
    return frozenset(names) - {"Factory"}


#: Names a machine's zoneinfo folder has that stand for its own setting.
_MACHINE = frozenset({"localtime", "posixrules", "Factory"})
_OFFSET = re.compile(r"\d")


def timezone_problem(name: str) -> str | None:
    """Why ``name`` is not an IANA time zone (``"is not an IANA name; ..."``), or None."""
    if name in iana_zones():
        return None
    if name in _MACHINE:
        return (
            "is not an IANA name: it means whatever this machine is set to; name the "
            "place's zone, e.g. Asia/Shanghai"
        )
    near = _nearest_zone(name.removeprefix("posix/").removeprefix("right/"))
    if near is not None and (name.startswith(("posix/", "right/")) or near != name):
        return f"is not an IANA name; did you mean {near}?"
    if _OFFSET.search(name):
        return (
            "is not an IANA name: an offset or a POSIX TZ rule misses daylight saving; "
            "name the place, e.g. Asia/Shanghai (a fixed offset is Etc/GMT-8 for UTC+8: "
            "the sign is reversed)"
        )
    return "is not an IANA name; use one such as Asia/Shanghai or America/New_York"


def _nearest_zone(name: str) -> str | None:
    """The zone ``name`` was surely meant to be: another case, or one letter off."""
    import difflib

    folded = {zone.casefold(): zone for zone in iana_zones()}
    near = difflib.get_close_matches(name.casefold(), list(folded), n=1, cutoff=0.9)
    return folded[near[0]] if near else None


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA time zone, else InvalidInput saying what to give."""
    problem = timezone_problem(name)
    if problem is None:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            problem = "is in the IANA database but not on this machine; update tzdata"
    if problem is not None:
        raise InvalidInput(f"time zone {name!r} {problem}")
    return name
