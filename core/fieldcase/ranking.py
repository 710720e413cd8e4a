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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Case

#: What a planned visit today, and each broken promise, add to a case's priority.
VISIT_TODAY = 1_000_000
BROKEN_PROMISE = 10_000
MAX_BROKEN = 99
#: log10(1 + amount) for the largest amount a row can hold (2**63 minor units).
MAX_LOG_AMOUNT = 19.0


def default_priority(case: Case, at: dt.datetime, visit_today: bool, broken_promises: int) -> float:
    """The built-in priority of ``case`` at ``at``: what the worklist uses unless a plugin
    implements ``case_priority``. A plugin may call it and adjust the result::

        @hookimpl
        def case_priority(case, at, visit_today, broken_promises):
            score = default_priority(case, at, visit_today, broken_promises)
            return score + 50 if case.attributes.get("branch") == "Harbor-East" else score
    """
    return priority(
        case.days_past_due(at), float(case.overdue_amount), visit_today, broken_promises
    )


def priority(days_past_due: int, amount: float, visit_today: bool, broken_promises: int) -> float:
    """Boosts (a visit today, broken promises) plus days past due and log10(1 + amount)."""
    arrears = days_past_due + math.log10(1 + amount)
    boost = (VISIT_TODAY if visit_today else 0) + BROKEN_PROMISE * min(broken_promises, MAX_BROKEN)
    return boost + arrears


def arrears_key(amount: float, overdue_since: dt.date) -> float:
    """``priority`` less the boosts and the day number of the borrower's today."""
    return math.log10(1 + amount) - overdue_since.toordinal()
