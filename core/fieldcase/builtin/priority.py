"""The default worklist priority.

Visits planned for today come first, then cases with broken promises, then
the longer and larger the arrears, the sooner.
"""

from __future__ import annotations

import datetime as dt
import math

from fieldcase import hookimpl
from fieldcase.model import Case


@hookimpl(trylast=True)
def case_priority(case: Case, at: dt.datetime, visit_today: bool, broken_promises: int) -> float:
    # Days past due dominate among the rest; the amount breaks ties on a log
    # scale so a huge balance cannot bury a very old case.
    amount = float(case.overdue_amount)
    arrears = case.days_past_due(at) + math.log10(1 + amount)
    return (1_000_000 if visit_today else 0) + 10_000 * min(broken_promises, 99) + arrears
