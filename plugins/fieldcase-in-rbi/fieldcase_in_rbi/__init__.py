"""India: the RBI's fair practices for recovery agents, how often a borrower is contacted,
and credit-bureau inquiries under the Credit Information Companies (Regulation) Act."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fieldcase import hookimpl
from fieldcase.model import ActionContext, Case, Decision
from fieldcase.rules import (
    CONTACT_ACTIONS,
    Rule,
    RulePack,
    ceased,
    clock,
    inquiry_without_account,
    judged_by_frequency,
    outside_hours,
    too_frequent,
)

AGENTS = "RBI circular RBI/2022-23/108 on recovery agents (12 Aug 2022)"
GUIDELINES = "RBI guidelines on engagement of recovery agents (24 Apr 2008)"
#: The RBI's credit-card instructions ask a lender's own collection code to include its terms.
IBA_CODE = "IBA Model Policy on Collection of Dues and Repossession of Security"
CICRA = "Credit Information Companies (Regulation) Act 2005 (CICRA)"

PACK = RulePack(
    name="in-rbi",
    jurisdictions=("IN",),
    rules=(
        Rule(
            "in.rbi.hours",
            AGENTS,
            "No calls or visits before 08:00 or after 19:00.",
            {"start": "08:00", "end": "19:00"},
        ),
        Rule(
            "in.rbi.frequency",
            f"{AGENTS}: no persistent calls to the borrower; the limits are the "
            "institution's choice, the circular sets no number",
            "Contacts with the borrower (every channel but credit-report inquiries, answered "
            "or not, whatever their purpose) at most max_per_day a borrower-local calendar "
            "day and max_per_week in 7 days; contacts with third parties do not count. "
            "Visits made (met or not) at most max_visits within visit_days days.",
            {"max_per_day": 3, "max_per_week": 7, "max_visits": 2, "visit_days": 30},
        ),
        Rule(
            "in.rbi.cease",
            f"{IBA_CODE}: requests to avoid calls honoured as far as possible; stopping all "
            "contact is the institution's choice",
            "No contact or visit while the case carries the flag cease-communication "
            "(the borrower asked in writing for no more contact).",
            {},
        ),
        Rule(
            "in.rbi.third_party",
            GUIDELINES,
            "Family, referees and friends only to locate the borrower.",
            {},
        ),
        Rule(
            "in.rbi.agent_identity",
            GUIDELINES,
            "The visiting agent's identity (authorisation and identity card) recorded.",
            {},
        ),
        Rule(
            "in.cicra.purpose",
            f"{CICRA} s. 19 (no unauthorised access or use) and s. 20(b) (the purposes credit "
            "information may be used for); which purposes serve here is the institution's "
            "choice, the Act lists none",
            "A credit-bureau inquiry only while the borrower's account is open (no flag "
            "no-credit-relationship), and not for purpose application.",
            {},
        ),
    ),
)


@hookimpl
def register_rule_packs(register: Callable[[RulePack], None]) -> None:
    register(PACK)


@hookimpl
def check_action(
    case: Case | None, action: str, context: ActionContext, settings: Mapping[str, Any]
) -> list[Decision] | None:
    if case is None or not PACK.applies(case, settings):
        return None
    # An inquiry reaches the bureau, not the borrower: hours and frequency do not apply.
    if action == "inquiry":
        return [PACK.verdict("in.cicra.purpose", inquiry_without_account(case, context))]
    if action not in CONTACT_ACTIONS:
        return None
    hours = PACK.params("in.rbi.hours", settings)
    verdicts = [
        PACK.verdict(
            "in.rbi.hours",
            outside_hours(case, context, action, clock(hours["start"]), clock(hours["end"])),
        )
    ]
    # A credit-report inquiry reaches the bureau, not the borrower.
    if context.channel != "bureau":
        verdicts.append(
            PACK.verdict(
                "in.rbi.cease",
                ceased(case),
            )
        )
        frequency = PACK.params("in.rbi.frequency", settings)
        if judged_by_frequency(action, context):
            verdicts.append(
                PACK.verdict("in.rbi.frequency", too_frequent(case, action, context, frequency))
            )
    if action == "contact" and context.target == "third-party":
        purpose = context.extra.get("purpose", "collect")
        verdicts.append(
            PACK.verdict(
                "in.rbi.third_party",
                (
                    "family, referees and friends may be contacted only to locate the borrower "
                    "(--purpose locate)"
                    if purpose != "locate"
                    else None
                ),
            )
        )
    if action in ("plan_visit", "start_visit"):
        missing = [s.id for s in context.staff_members if not s.badge]
        verdicts.append(
            PACK.verdict(
                "in.rbi.agent_identity",
                (
                    f"no identity number on record for {', '.join(missing)}; "
                    "record it with fieldcase staff badge ID NUMBER"
                    if missing
                    else None
                ),
            )
        )
    return verdicts
