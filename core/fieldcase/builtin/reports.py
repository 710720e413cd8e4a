"""The built-in reports, registered the way an institution's would be."""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from fieldcase import hookimpl
from fieldcase.lifecycle import AGING_BUCKETS, OPEN_STAGES, aging_bucket
from fieldcase.money import from_minor, ratio
from fieldcase.plugins import overdue_reasons
from fieldcase.reports import ReportFilter
from fieldcase.rows import from_iso

if TYPE_CHECKING:
    from fieldcase.services import Services

BUCKETS = ("current", *(label for label, _, _ in AGING_BUCKETS))


def _at(filters: ReportFilter) -> dt.datetime:
    return filters.at or filters.end or dt.datetime.now(dt.UTC)


def compliance(services: Services, filters: ReportFilter) -> list[dict[str, Any]]:
    """Refusals by rule, staff member and institution."""
    return services.store.refusal_counts(
        filters.institution, filters.start, filters.end, filters.where
    )


def pipeline(services: Services, filters: ReportFilter) -> list[dict[str, Any]]:
    """Open cases by stage and aging bucket, at --to (or now)."""
    rows = {str(stage): dict.fromkeys(BUCKETS, 0) for stage in OPEN_STAGES}
    for found in services.store.pipeline_counts(filters.institution, _at(filters), filters.where):
        rows[found["stage"]][aging_bucket(found["days"])] += found["n"]
    return [
        {"stage": stage, **counts, "total": sum(counts.values())} for stage, counts in rows.items()
    ]


def _promise_counts(services: Services, filters: ReportFilter) -> dict[str, dict[str, int]]:
    """Promises made in the window, kept and broken at --to, by who took them."""
    return services.store.promise_statuses(
        filters.institution, filters.start, filters.end, _at(filters), filters.where
    )


def staff(services: Services, filters: ReportFilter) -> list[dict[str, Any]]:
    """Per staff member: contacts, visits, borrowers met, promises, amount recovered, and
    check-ins too far from the borrower (``far``: see :mod:`fieldcase.checkins`)."""
    activity = services.store.staff_activity(
        filters.institution, filters.start, filters.end, filters.where
    )
    promises = _promise_counts(services, filters)
    rows = []
    for member in services.store.list_staff():
        found = activity.get(member.id, {})
        kept = promises.get(member.id, {"kept": 0, "broken": 0})
        recovered = found.get("recovered", {})
        rows.append(
            {
                "staff": member.id,
                "contacts": found.get("contacts", 0),
                "visits planned": found.get("visits planned", 0),
                "visits done": found.get("visits done", 0),
                "visits failed": found.get("visits failed", 0),
                "borrowers met": found.get("borrowers met", 0),
                "promises made": found.get("promises made", 0),
                "promises kept": kept["kept"],
                "promises broken": kept["broken"],
                "far check-ins": found.get("far check-ins", 0),
                "recovered": "; ".join(
                    f"{currency} {from_minor(minor, currency):,}"
                    for currency, minor in sorted(recovered.items())
                ),
            }
        )
    return rows


def reasons(services: Services, filters: ReportFilter) -> list[dict[str, Any]]:
    """The overdue reasons found at interviews, with their share."""
    found = services.store.reason_counts(
        filters.institution, filters.start, filters.end, filters.where
    )
    labels = overdue_reasons(services.pm)
    total = sum(row["visits"] for row in found)
    return [
        {
            "reason": row["code"],
            "label": labels[row["code"]].label if row["code"] in labels else "",
            "visits": row["visits"],
            "share": f"{row['visits'] / total:.1%}",
        }
        for row in found
    ]


def outcomes(services: Services, filters: ReportFilter) -> list[dict[str, Any]]:
    """Resolutions and days from referral to closure; recovery and promise-kept rates."""
    by_resolution: dict[str, list[float]] = {}
    for resolution, days in services.store.closing_days(
        filters.institution, filters.start, filters.end, filters.where
    ):
        by_resolution.setdefault(resolution, []).append(days)
    rows: list[dict[str, Any]] = [
        {
            "outcome": resolution,
            "cases": len(days),
            "days to close (mean)": f"{statistics.fmean(days):.1f}",
            "days to close (median)": f"{statistics.median(days):.1f}",
            "rate": "",
        }
        for resolution, days in sorted(by_resolution.items())
    ]
    for row in services.store.recovery_sums(
        filters.institution, filters.start, filters.end, filters.where
    ):
        rate = row["paid"] / row["overdue"] if row["overdue"] else 0
        rows.append(
            {
                "outcome": f"recovered, {row['currency']}",
                "cases": row["cases"],
                "rate": f"{rate:.1%}",
            }
        )
    promises = _promise_counts(services, filters)
    kept = sum(c["kept"] for c in promises.values())
    broken = sum(c["broken"] for c in promises.values())
    if kept + broken:
        rows.append(
            {
                "outcome": "promises kept (of kept or broken)",
                "cases": kept + broken,
                "rate": f"{kept / (kept + broken):.1%}",
            }
        )
    return rows


def _days(start: str, end: str) -> float:
    first, last = from_iso(start), from_iso(end)
    assert first is not None and last is not None
    return (last - first).total_seconds() / 86400


def _mean(values: list[float]) -> str:
    return f"{statistics.fmean(values):.1f}" if values else ""


def disputes(services: Services, filters: ReportFilter) -> list[dict[str, Any]]:
    """Disputes opened in the window by kind: their outcomes and days to decide."""
    found = services.store.protection_rows(
        "disputes", "opened_at", filters.institution, filters.start, filters.end, filters.where
    )
    rows = []
    for kind in sorted({r["kind"] for r in found}):
        mine = [r for r in found if r["kind"] == kind]
        decided = [_days(r["opened_at"], r["decided_at"]) for r in mine if r["decided_at"]]
        rows.append(
            {
                "kind": kind,
                "opened": len(mine),
                "open": sum(r["status"] == "open" for r in mine),
                "upheld": sum(r["status"] == "upheld" for r in mine),
                "rejected": sum(r["status"] == "rejected" for r in mine),
                "days to decide (mean)": _mean(decided),
                "days to decide (median)": f"{statistics.median(decided):.1f}" if decided else "",
            }
        )
    return rows


def hardship(services: Services, filters: ReportFilter) -> list[dict[str, Any]]:
    """Hardship pauses granted in the window by reason: length, ended early, running at --to."""
    found = services.store.protection_rows(
        "hardships", "granted_at", filters.institution, filters.start, filters.end, filters.where
    )
    at = _at(filters)
    rows = []
    for reason in sorted({r["reason"] for r in found}):
        mine = [r for r in found if r["reason"] == reason]
        lengths = [
            (dt.date.fromisoformat(r["until"]) - dt.date.fromisoformat(r["starts"])).days + 1
            for r in mine
        ]
        running = 0
        for r in mine:
            today = at.astimezone(ZoneInfo(r["timezone"])).date().isoformat()
            running += r["starts"] <= today <= (r["ended_on"] or r["until"])
        rows.append(
            {
                "reason": reason,
                "pauses": len(mine),
                "days granted (mean)": _mean([float(n) for n in lengths]),
                "ended early": sum(r["ended_on"] is not None for r in mine),
                "running": running,
            }
        )
    return rows


def complaints(services: Services, filters: ReportFilter) -> list[dict[str, Any]]:
    """Complaints made in the window, by subject, and the cases they came from."""
    found = services.store.protection_rows(
        "complaints", "at", filters.institution, filters.start, filters.end, filters.where
    )
    return [
        {
            "about": about,
            "complaints": sum(r["about"] == about for r in found),
            "cases": len({r["case_id"] for r in found if r["about"] == about}),
        }
        for about in sorted({r["about"] for r in found})
    ]


def indebtedness(services: Services, filters: ReportFilter) -> list[dict[str, Any]]:
    """Per institution, of interviews in the window: how many lenders borrowers owe,
    and their other debts as a multiple of monthly income."""
    found = services.store.interview_debts(
        filters.institution, filters.start, filters.end, filters.where
    )
    rows = []
    for institution in sorted({r["institution"] for r in found}):
        mine = [r for r in found if r["institution"] == institution]
        answered = [r for r in mine if r["multi_lender"] is not None]
        counts = [r["lenders"] for r in answered if r["lenders"] is not None]
        # Minor units of one case's currency on both sides: the ratio needs no currency.
        ratios = [
            Fraction(r["other_debts_minor"], r["monthly_income_minor"])
            for r in mine
            if r["other_debts_minor"] is not None and r["monthly_income_minor"]
        ]
        median = ratio(statistics.median(ratios), Fraction(1)) if ratios else None
        rows.append(
            {
                "institution": institution,
                "interviews": len(mine),
                "with answers": len(answered),
                "lenders (mean)": _mean([float(n) for n in counts]),
                "more than one lender": (
                    f"{sum(bool(r['multi_lender']) for r in answered) / len(answered):.1%}"
                    if answered
                    else ""
                ),
                "debt to income (median)": "" if median is None else str(median),
                "debt to income (answers)": len(ratios),
            }
        )
    return rows


def reviews(services: Services, filters: ReportFilter) -> list[dict[str, Any]]:
    """Post-loan reviews opened in the window, by trigger: what they found, how long
    they took, and how many went on to collection."""
    found = services.store.protection_rows(
        "reviews", "opened_at", filters.institution, filters.start, filters.end, filters.where
    )
    rows = []
    for trigger in sorted({r["trigger"] for r in found}):
        mine = [r for r in found if r["trigger"] == trigger]
        done = [_days(r["opened_at"], r["finished_at"]) for r in mine if r["finished_at"]]
        found_ = [r["recommendation"] for r in mine if r["recommendation"]]
        rows.append(
            {
                "trigger": trigger,
                "opened": len(mine),
                "open": sum(r["status"] == "open" for r in mine),
                "reviewed": sum(r["status"] == "reviewed" for r in mine),
                "to collection": sum(r["status"] == "referred" for r in mine),
                "withdrawn": sum(r["status"] == "withdrawn" for r in mine),
                "watch-list": found_.count("watch-list"),
                "limit cut or freeze": found_.count("limit-cut") + found_.count("freeze"),
                "days to finish (mean)": _mean(done),
            }
        )
    return rows


def inquiries(services: Services, filters: ReportFilter) -> list[dict[str, Any]]:
    """Credit-bureau inquiries made in the window, per institution, purpose and kind."""
    return services.store.inquiry_counts(
        filters.institution, filters.start, filters.end, filters.where
    )


@hookimpl
def register_reports(register: Callable[..., None]) -> None:
    register(
        "pipeline",
        pipeline,
        ("stage", *BUCKETS, "total"),
        "Open cases by stage and aging bucket (days past due), at --to or now.",
        where=True,
    )
    register(
        "staff",
        staff,
        (
            "staff",
            "contacts",
            "visits planned",
            "visits done",
            "visits failed",
            "borrowers met",
            "promises made",
            "promises kept",
            "promises broken",
            "far check-ins",
            "recovered",
        ),
        "Per staff member: contacts, visits, borrowers met, promises, far check-ins and "
        "money recovered.",
        where=True,
    )
    register(
        "reasons",
        reasons,
        ("reason", "label", "visits", "share"),
        "The overdue reasons found at interviews.",
        where=True,
    )
    register(
        "outcomes",
        outcomes,
        ("outcome", "cases", "days to close (mean)", "days to close (median)", "rate"),
        "Resolutions with days from referral to closure; recovery and promise-kept rates.",
        where=True,
    )
    register(
        "disputes",
        disputes,
        (
            "kind",
            "opened",
            "open",
            "upheld",
            "rejected",
            "days to decide (mean)",
            "days to decide (median)",
        ),
        "Disputes opened, by kind: how they were decided and how long it took.",
        where=True,
    )
    register(
        "hardship",
        hardship,
        ("reason", "pauses", "days granted (mean)", "ended early", "running"),
        "Hardship pauses granted, by reason: their length, how many ended early or still run.",
        where=True,
    )
    register(
        "reviews",
        reviews,
        (
            "trigger",
            "opened",
            "open",
            "reviewed",
            "to collection",
            "withdrawn",
            "watch-list",
            "limit cut or freeze",
            "days to finish (mean)",
        ),
        "Post-loan reviews opened, by trigger: their findings and how many went to collection.",
        where=True,
    )
    register(
        "complaints",
        complaints,
        ("about", "complaints", "cases"),
        "Borrowers' complaints, by subject.",
        where=True,
    )
    register(
        "indebtedness",
        indebtedness,
        (
            "institution",
            "interviews",
            "with answers",
            "lenders (mean)",
            "more than one lender",
            "debt to income (median)",
            "debt to income (answers)",
        ),
        "Per institution, of interviews: lenders owed and other debts to monthly income.",
        where=True,
    )
    register(
        "inquiries",
        inquiries,
        ("institution", "purpose", "kind", "inquiries", "cases"),
        "Credit-bureau inquiries, per institution, purpose and kind (soft or hard).",
        where=True,
    )
    register(
        "compliance",
        compliance,
        ("rule", "staff", "institution", "refusals"),
        "Refused actions counted by rule, staff member and institution.",
        where=True,
    )
