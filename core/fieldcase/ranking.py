"""The built-in worklist priority, and the stored key that lets SQL order by it.

Visits planned for today come first, then cases with broken promises, then
the longer and larger the arrears, the sooner. Days past due dominate; the
overdue amount breaks ties on a log scale, so a huge balance cannot bury a
very old case.

``days_past_due + log10(1 + amount)`` changes every day, but for the cases of
one time zone it is ``today - overdue_since + log10(1 + amount)``: the same
day number for all of them plus :func:`arrears_key`, which does not change
with time. The store keeps that key in ``cases.arrears_key`` (indexed), so a
worklist page is read from an index, zone by zone, instead of ranking every
case.
"""

from __future__ import annotations

import datetime as dt
import math

#: What a planned visit today, and each broken promise, add to a case's priority.
VISIT_TODAY = 1_000_000
BROKEN_PROMISE = 10_000
MAX_BROKEN = 99
#: log10(1 + amount) for the largest amount a row can hold (2**63 minor units).
MAX_LOG_AMOUNT = 19.0


def priority(days_past_due: int, amount: float, visit_today: bool, broken_promises: int) -> float:
    arrears = days_past_due + math.log10(1 + amount)
    boost = (VISIT_TODAY if visit_today else 0) + BROKEN_PROMISE * min(broken_promises, MAX_BROKEN)
    return boost + arrears


def arrears_key(amount: float, overdue_since: dt.date) -> float:
    """``priority`` less the boosts and the day number of the borrower's today."""
    return math.log10(1 + amount) - overdue_since.toordinal()
