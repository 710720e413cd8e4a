"""The default worklist priority: see :mod:`fieldcase.ranking`.

While this is the only ``case_priority`` implementation, the worklist is read
in this order straight from an index; a plugin that implements the hook is
asked about every matching case instead.
"""

from __future__ import annotations

import datetime as dt

from fieldcase import hookimpl
from fieldcase.model import Case
from fieldcase.ranking import default_priority


@hookimpl(trylast=True)
def case_priority(case: Case, at: dt.datetime, visit_today: bool, broken_promises: int) -> float:
    return default_priority(case, at, visit_today, broken_promises)
