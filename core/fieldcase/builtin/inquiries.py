"""The built-in rule on how often the credit bureau is asked about one borrower.

- ``default.inquiries``: at most ``max_inquiries_per_year`` (policy, default 4)
  hard inquiries per case in any 365 days. A hard inquiry shows on the
  borrower's credit report and may lower the score other lenders see, so the
  institution bounds them; soft ones do not, and are not counted here. An
  inquiry recorded as a contact on channel ``bureau`` says no kind: it counts,
  and is judged, as a hard one.

It applies to every institution and jurisdiction, beside the rule packs,
which judge whether an inquiry may be made at all (the purpose the law allows,
an open credit relationship); the records are kept by :mod:`fieldcase.inquiries`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from fieldcase import hookimpl
from fieldcase.model import ActionContext, Case, Decision
from fieldcase.policy import default

#: The rolling window the limit counts over.
YEAR_DAYS = 365


@hookimpl
def check_action(
    case: Case | None, action: str, context: ActionContext, settings: Mapping[str, Any]
) -> Decision | None:
    # A dry run (fieldcase check) says no kind: judge it as the stricter, hard.
    if case is None or action != "inquiry" or context.extra.get("kind", "hard") != "hard":
        return None
    most = int(settings.get("max_inquiries_per_year", default("max_inquiries_per_year")))
    since = context.at - dt.timedelta(days=YEAR_DAYS)
    made = [q.at for q in context.inquiries if q.kind == "hard" and since < q.at <= context.at]
    made += [c.at for c in context.contacts if c.channel == "bureau" and since < c.at <= context.at]
    if len(made) < most:
        return Decision.allow("default.inquiries")
    first = min(made).astimezone(case.borrower.zone).date() if made else None
    earlier = f", the first on {first}" if first else ""
    soft = (
        "record a soft one with fieldcase inquiry --kind soft"
        if context.channel == "bureau"
        else "make a soft one (--kind soft)"
    )
    return Decision.deny(
        "default.inquiries",
        f"{len(made)} hard credit-bureau inquiries in the last {YEAR_DAYS} days{earlier}; "
        f"at most {most} (policy max_inquiries_per_year): {soft} or wait",
    )
