"""The built-in rules that hold collection while a borrower is protected.

- ``default.dispute``: while a dispute is open, no visit (planned for any
  date: a dispute has no last day) and no contact but about the dispute itself
  (``contact --purpose dispute``).
- ``default.hardship``: no visit on a day a hardship pause covers, and no
  collection contact during one (locating the borrower, passing a message and
  the dispute are allowed). A plan is judged by the visit's date, not the day
  it is made: one for after the pause is allowed during it.
- ``default.complaint``: after a complaint about contact frequency, at most
  ``complaint_max_contacts_per_week`` contacts with the borrower in any 7
  days, whatever their declared purpose (those about a dispute aside), until
  the case's ``fewer_contacts_until``.

They apply to every institution and jurisdiction, beside whatever rule packs
an institution enables; the records behind them are kept by
:mod:`fieldcase.protections`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from fieldcase import hookimpl
from fieldcase.model import ActionContext, Case, Decision
from fieldcase.policy import default
from fieldcase.rules import CONTACT_ACTIONS, action_day, within

VISITS = ("plan_visit", "start_visit")


@hookimpl
def check_action(
    case: Case | None, action: str, context: ActionContext, settings: Mapping[str, Any]
) -> list[Decision] | None:
    if case is None or action not in CONTACT_ACTIONS:
        return None
    purpose = context.extra.get("purpose", "collect")
    verdicts = []
    if case.dispute is None and purpose == "dispute":
        verdicts.append(
            _verdict(
                "default.dispute",
                f"no open dispute on case {case.id}: --purpose dispute is only for contacts "
                "about an open dispute",
            )
        )
    if case.dispute is not None:
        denial = None
        if action in VISITS:
            denial = (
                f"a dispute ({case.dispute}) is open: no visit until a supervisor decides it "
                f"(fieldcase dispute decide {case.id})"
            )
        elif purpose != "dispute":
            denial = (
                f"a dispute ({case.dispute}) is open: only contacts about the dispute itself "
                "(--purpose dispute) until a supervisor decides it"
            )
        verdicts.append(_verdict("default.dispute", denial))
    until = case.paused_until
    day = action_day(case, action, context)
    if until is not None and day <= until:
        denial = None
        if action in VISITS:
            denial = (
                f"hardship pause until {until}: no visit on {day}; plan one from "
                f"{until + dt.timedelta(days=1)}"
            )
        elif purpose == "collect":
            denial = (
                f"hardship pause until {case.paused_until}: no collection contact (to locate "
                "the borrower or pass a message, say --purpose locate or message)"
            )
        verdicts.append(_verdict("default.hardship", denial))
    limited = case.fewer_contacts_until
    # Every contact with the borrower counts, whatever purpose the caller declares:
    # a declared purpose is the caller's word (only the dispute's own are exempt).
    if (
        action == "contact"
        and purpose != "dispute"
        and context.target != "third-party"
        and limited is not None
        and case.local_date(context.at) <= limited
    ):
        most = int(
            settings.get(
                "complaint_max_contacts_per_week", default("complaint_max_contacts_per_week")
            )
        )
        made = [
            c
            for c in within(context.contacts, context.at, 7)
            if c.target == "borrower" and c.purpose != "dispute"
        ]
        verdicts.append(
            _verdict(
                "default.complaint",
                (
                    f"the borrower complained about contact frequency: at most {most} "
                    f"contacts with the borrower in 7 days until {limited}, and {len(made)} "
                    "were made already"
                    if len(made) >= most
                    else None
                ),
            )
        )
    return verdicts or None


def _verdict(rule: str, denial: str | None) -> Decision:
    return Decision.allow(rule) if denial is None else Decision.deny(rule, denial)
