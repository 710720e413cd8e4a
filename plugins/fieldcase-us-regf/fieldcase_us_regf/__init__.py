"""US FDCPA / Regulation F (12 CFR 1006): when, how often and whom a collector may contact;
and the FCRA's permissible purpose for a credit-bureau inquiry (15 U.S.C. 1681b)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fieldcase import hookimpl
from fieldcase.model import ActionContext, Case, Decision
from fieldcase.rules import (
    CONTACT_ACTIONS,
    Rule,
    RulePack,
    clock,
    inquiry_without_account,
    local_day,
    outside_hours,
    whole,
    within,
)

PACK = RulePack(
    name="us-regf",
    jurisdictions=("US",),
    rules=(
        Rule(
            "us.regf.hours",
            "12 CFR 1006.6(b)(1)(i)",
            "No contact or visit before 08:00 or after 21:00 at the borrower's location.",
            {"start": "08:00", "end": "21:00"},
        ),
        Rule(
            "us.regf.call_frequency",
            "12 CFR 1006.14(b)(2)(i)(A)",
            "At most 7 call attempts per debt within 7 consecutive days.",
            {"max_calls": 7, "days": 7},
        ),
        Rule(
            "us.regf.after_conversation",
            "12 CFR 1006.14(b)(2)(i)(B)",
            "No call within 7 days after a telephone conversation about the debt.",
            {"days": 7},
        ),
        Rule(
            "us.regf.cease",
            "12 CFR 1006.6(c)(1)",
            "No contact after a written request to cease communication.",
            {},
        ),
        Rule(
            "us.regf.attorney",
            "12 CFR 1006.6(b)(2)",
            "No contact with a borrower known to be represented by an attorney.",
            {},
        ),
        Rule(
            "us.regf.third_party",
            "12 CFR 1006.10; 15 U.S.C. 1692b",
            "A third party may be asked only for location information, once.",
            {"max_contacts": 1},
        ),
        Rule(
            "us.fcra.purpose",
            "15 U.S.C. 1681b(a)(3)(A) (review or collection of an account of the consumer); "
            "refusing purpose application on a case is the institution's choice",
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
    # An inquiry reaches the bureau, not the borrower: the FCRA judges it, not Regulation F.
    if action == "inquiry":
        return [PACK.verdict("us.fcra.purpose", inquiry_without_account(case, context))]
    if action not in CONTACT_ACTIONS:
        return None
    p = {rule.id: PACK.params(rule.id, settings) for rule in PACK.rules}
    verdicts = []
    hours = p["us.regf.hours"]
    verdicts.append(
        PACK.verdict(
            "us.regf.hours",
            outside_hours(case, context, action, clock(hours["start"]), clock(hours["end"])),
        )
    )
    verdicts.append(
        PACK.verdict(
            "us.regf.cease",
            (
                "the borrower asked in writing to cease communication"
                if "cease-communication" in case.flags
                else None
            ),
        )
    )
    verdicts.append(
        PACK.verdict(
            "us.regf.attorney",
            (
                "the borrower is represented by an attorney: contact the attorney instead"
                if "attorney" in case.flags
                else None
            ),
        )
    )
    # Call limits are per person: calls to the borrower about this debt.
    if action == "contact" and context.channel == "phone" and context.target != "third-party":
        rule = p["us.regf.call_frequency"]
        calls = [
            c
            for c in within(context.contacts, context.at, whole(rule["days"], "days"))
            if c.channel == "phone" and c.target == "borrower"
        ]
        verdicts.append(
            PACK.verdict(
                "us.regf.call_frequency",
                (
                    f"{len(calls)} call attempts in the last {rule['days']} days already; "
                    f"at most {rule['max_calls']}"
                    if len(calls) >= whole(rule["max_calls"], "max_calls")
                    else None
                ),
            )
        )
        rule = p["us.regf.after_conversation"]
        talks = [
            c
            for c in within(context.contacts, context.at, whole(rule["days"], "days"))
            if c.channel == "phone" and c.outcome == "reached" and c.target == "borrower"
        ]
        verdicts.append(
            PACK.verdict(
                "us.regf.after_conversation",
                (
                    f"a telephone conversation with the borrower on "
                    f"{local_day(case, talks[-1].at)}: no call for {rule['days']} days after it"
                    if talks
                    else None
                ),
            )
        )
    if action == "contact" and context.target == "third-party":
        rule = p["us.regf.third_party"]
        earlier = [c for c in context.contacts if c.target == "third-party"]
        purpose = context.extra.get("purpose", "collect")
        denial = None
        if purpose != "locate":
            denial = (
                "a third party may be asked only for the borrower's location (--purpose locate)"
            )
        elif len(earlier) >= whole(rule["max_contacts"], "max_contacts"):
            denial = "this debt's third parties were already contacted once"
        verdicts.append(PACK.verdict("us.regf.third_party", denial))
    return verdicts
