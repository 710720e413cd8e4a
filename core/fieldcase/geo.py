"""Coordinates: degrees read and checked, and the distance between two points.

A coordinate is a ``Decimal`` of degrees quantized to 6 places (about 0.1 m),
stored as text and carried in events as text, so that it reads back exactly.
The distance is the haversine great-circle distance on a sphere of the
Earth's mean radius, in whole metres: within half a percent of the true
distance, far finer than a phone's fix. What a distance means for a case (a
check-in too far from the borrower) is :mod:`fieldcase.checkins`'s to decide.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

#: Six decimal places of a degree: about 0.1 m on the ground.
PLACES = Decimal("0.000001")

#: The Earth's mean radius (IUGG), in metres.
EARTH_RADIUS_M = 6_371_008.8

#: How far each coordinate goes, in degrees either side of zero.
BOUNDS = {"latitude": 90, "longitude": 180}

#: What each looks like, for messages.
EXAMPLES = {"latitude": "31.230416", "longitude": "121.473701"}


def degrees(value: Any, kind: str) -> Decimal:
    """``value`` (text or a number) as a ``kind`` (``latitude`` or ``longitude``) in
    degrees, to 6 places; ValueError saying what a valid one is."""
    bound = BOUNDS[kind]
    why = (
        f"is not a {kind}: give degrees from -{bound} to {bound} as a decimal number, "
        f"e.g. {EXAMPLES[kind]}"
    )
    if isinstance(value, bool):
        raise ValueError(why)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(why) from None
    # Out of range before quantizing too: 1e400 has more digits than a Decimal
    # context quantizes to.
    if not number.is_finite() or number.copy_abs() > bound + 1:
        raise ValueError(why)
    quantized = number.quantize(PLACES, rounding=ROUND_HALF_UP)
    if not -bound <= quantized <= bound:
        raise ValueError(why)
    # No "-0.000000": a point on the equator or the meridian reads one way.
    return quantized if quantized else abs(quantized)


def latitude(value: Any) -> Decimal:
    return degrees(value, "latitude")


def longitude(value: Any) -> Decimal:
    return degrees(value, "longitude")


def distance_m(lat1: Decimal, lon1: Decimal, lat2: Decimal, lon2: Decimal) -> int:
    """Metres between two points (haversine), rounded to the nearest whole metre."""
    phi1, phi2 = math.radians(float(lat1)), math.radians(float(lat2))
    dphi = phi2 - phi1
    dlambda = math.radians(float(lon2) - float(lon1))
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return round(2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h))))
