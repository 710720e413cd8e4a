"""The default worklist priority: the longer and larger the arrears, the sooner."""

from __future__ import annotations

import datetime as dt
import math

from fieldcase import hookimpl
from fieldcase.model import Case


@hookimpl(trylast=True)
def case_priority(case: Case, at: dt.datetime) -> float:
    # Days past due dominate; the amount breaks ties on a log scale so a huge
    # balance cannot bury a very old case.
    amount = float(case.overdue_amount)
    return case.days_past_due(at) + math.log10(1 + amount)
