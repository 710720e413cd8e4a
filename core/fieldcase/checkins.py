"""Check-ins: where field staff were on site, and whether that was where the borrower is.

A check-in records a position (degrees to 6 places, personal data) with the
accuracy the device gave, on arrival (``fieldcase checkin``) or with the
interview (``interview --lat --lon``, in the interview's own event). It is
measured against the borrower's known location (:func:`reference_of`): the
coordinates the institution gave with the case (``imported``), or else the
first check-in of the first visit that met someone (``first-visit``). One
farther than the institution's ``checkin_max_distance_m`` even were its
position off by its whole accuracy is recorded ``far``, for a supervisor to
see in ``show`` and ``report staff``; it is never refused, since the record
may be wrong rather than the field worker. The distance itself is
:func:`fieldcase.geo.distance_m`'s.

The action runs through the shared steps of :class:`fieldcase.services.Services`
(``begin``, ``guard``, ``save`` with its event, ``notify``); ``Services``
offers it as a method of the same name.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from . import geo
from .errors import InvalidInput
from .model import ActionContext, Case, CheckIn
from .policy import default

if TYPE_CHECKING:
    from .services import Services

#: The largest accuracy a device may claim, in metres: beyond it a fix says nothing.
MAX_ACCURACY_M = 100_000

#: How ``show`` names each reference.
REFERENCES = {"imported": "imported location", "first-visit": "first-visit location"}


def position(
    lat: Any, lon: Any, accuracy_m: int | None = None
) -> tuple[Decimal, Decimal, int | None]:
    """The position given on the command line, checked: both coordinates, in range, and
    a whole number of metres of accuracy; InvalidInput naming the option otherwise."""
    if (lat is None) != (lon is None):
        given, missing = ("--lat", "--lon") if lon is None else ("--lon", "--lat")
        raise InvalidInput(f"{given} needs {missing} too: a position is both coordinates")
    if lat is None:
        given = "--accuracy is the accuracy of a position: it" if accuracy_m is not None else ""
        raise InvalidInput(f"{given or 'a check-in'} needs --lat and --lon")
    found = []
    for option, value, kind in (("--lat", lat, "latitude"), ("--lon", lon, "longitude")):
        try:
            found.append(geo.degrees(value, kind))
        except ValueError as exc:
            raise InvalidInput(f"{option}: {str(value)!r} {exc}") from None
    if accuracy_m is not None and (
        isinstance(accuracy_m, bool)
        or not isinstance(accuracy_m, int)
        or not 0 <= accuracy_m <= MAX_ACCURACY_M
    ):
        raise InvalidInput(
            f"--accuracy: {accuracy_m!r} is not an accuracy: give whole metres from 0 to "
            f"{MAX_ACCURACY_M:,}, as the device shows it"
        )
    return found[0], found[1], accuracy_m


def reference_of(services: Services, case: Case) -> tuple[str, Decimal, Decimal] | None:
    """Where the borrower is known to be, and how it is known: the case's own coordinates
    (``imported``), else the first check-in of the first visit that met someone
    (``first-visit``; a visit with no check-in is passed over); None if neither."""
    b = case.borrower
    if b.latitude is not None and b.longitude is not None:
        return "imported", b.latitude, b.longitude
    assert case.id is not None
    met = [v.number for v in services.store.visits(case.id, case.currency) if v.status == "done"]
    checkins = services.store.checkins(case.id)
    for number in met:
        for checkin in checkins:
            if checkin.visit_number == number and checkin.lat is not None:
                assert checkin.lon is not None
                return "first-visit", checkin.lat, checkin.lon
    return None


def is_far(distance_m: int | None, accuracy_m: int | None, limit_m: int | None) -> bool:
    """Beyond the limit even were the position off by its whole accuracy toward the
    borrower: a fix of 900 m give or take 450 m, against a limit of 500 m, is not far."""
    if distance_m is None or limit_m is None:
        return False
    return distance_m - (accuracy_m or 0) > limit_m


def measure(
    services: Services,
    case: Case,
    *,
    visit_number: int | None,
    staff: str,
    at: dt.datetime,
    lat: Decimal,
    lon: Decimal,
    accuracy_m: int | None,
) -> CheckIn:
    """A check-in at (``lat``, ``lon``), measured against the borrower's known location
    under the case's institution's policy; not yet saved."""
    assert case.id is not None
    key = "checkin_max_distance_m"
    limit = int(services.settings(case).get(key, default(key)))
    known = reference_of(services, case)
    distance = None if known is None else geo.distance_m(lat, lon, known[1], known[2])
    return CheckIn(
        case_id=case.id,
        visit_number=visit_number,
        at=at,
        staff=staff,
        lat=lat,
        lon=lon,
        accuracy_m=accuracy_m,
        distance_m=distance,
        reference="" if known is None else known[0],
        limit_m=limit or None,
        far=is_far(distance, accuracy_m, limit or None),
    )


def check_in(
    services: Services,
    ref: str | int,
    *,
    actor: str,
    at: dt.datetime,
    lat: Any,
    lon: Any,
    accuracy_m: int | None = None,
) -> CheckIn:
    """Record where ``actor`` is on the case's visit (the one planned, if any).

    Those who may act on the case check in: its assignee, the staff of the
    visit planned, supervisors. A far check-in is recorded as one, not refused.
    """
    staff, case = services.begin(ref, actor, at)
    assert case.id is not None
    lat, lon, accuracy_m = position(lat, lon, accuracy_m)
    visit = services.pending_visit(case)
    number = visit.number if visit is not None else None
    attempted = {"visit": number, "lat": str(lat), "lon": str(lon), "accuracy_m": accuracy_m}
    context = ActionContext(
        at=at,
        actor=staff.id,
        window=visit.window() if visit else None,
        staff=visit.staff if visit else (),
    )
    services.guard(
        case,
        staff,
        "checkin",
        at,
        attempted=attempted,
        context=context,
        also_permitted=visit.staff if visit else (),
    )
    checkin = measure(
        services,
        case,
        visit_number=number,
        staff=staff.id,
        at=at,
        lat=lat,
        lon=lon,
        accuracy_m=accuracy_m,
    )
    data = {**attempted, **measured(checkin)}
    _, saved = services.save("checked_in", case, staff.id, at, [checkin], data)
    result = saved[0]
    assert isinstance(result, CheckIn)
    return result


def measured(checkin: CheckIn) -> dict[str, Any]:
    """What a check-in's event says of its measure (its rows carry the rest)."""
    return {
        "distance_m": checkin.distance_m,
        "reference": checkin.reference,
        "limit_m": checkin.limit_m,
        "far": checkin.far,
    }


def describe(checkin: CheckIn) -> str:
    """The check-in's measure as people read it:
    ``check-in 1,234 m from imported location (limit 500 m): FAR``."""
    if checkin.distance_m is None:
        return "check-in: no known location to compare with"
    limit = "no limit" if checkin.limit_m is None else f"limit {checkin.limit_m:,} m"
    far = ": FAR" if checkin.far else ""
    return f"check-in {checkin.distance_m:,} m from {REFERENCES[checkin.reference]} ({limit}){far}"


def where(checkin: CheckIn) -> str:
    """Where it was made, with the accuracy: ``31.230416, 121.473701 ±20 m`` (empty when
    the position is masked or purged)."""
    if checkin.lat is None or checkin.lon is None:
        return ""
    accuracy = "" if checkin.accuracy_m is None else f" ±{checkin.accuracy_m:,} m"
    return f"{checkin.lat}, {checkin.lon}{accuracy}"
