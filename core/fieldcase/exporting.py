"""Exporting visit records: one row per visit, streamed from one snapshot.

Who may export what (masked, their own visits, an institution's) is judged
before any row is read; the ``export`` event is recorded first and
``export_completed`` says how many rows went.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

import attrs

from .errors import NotPermitted
from .formats import exporter_for
from .rows import printable
from .store import EXPORT_COLUMNS, ExportFilter

if TYPE_CHECKING:
    from .services import Services

#: One row per visit: the case, what the visit found, the feedback and its review.
VISIT_COLUMNS = EXPORT_COLUMNS


@attrs.frozen
class ExportSummary:
    format: str
    rows: int
    masked: bool
    cursor: int
    event_id: int


def export_visits(
    services: Services,
    out: BinaryIO,
    *,
    fmt: str,
    actor: str,
    at: dt.datetime,
    filters: ExportFilter,
    unmasked: bool = False,
    output_name: str = "-",
    progress: Callable[[int], object] | None = None,
    progress_every: int = 10_000,
) -> ExportSummary:
    """Stream one row per visit to ``out``; then record an ``export`` event."""
    staff = services.actor(actor)
    services.begin_action()
    exporter = exporter_for(services.pm, fmt, None)
    attempted = {
        "format": fmt,
        "output": output_name,
        "masked": not unmasked,
        **{k: printable(v) for k, v in attrs.asdict(filters).items() if v is not None},
    }
    # An export of one institution's visits is judged, and refused, as that institution's.
    registered = services.institution(filters.institution) if filters.institution else None
    policy = registered.policy if registered else {}
    services.check_time(staff, at, policy, "export", attempted=attempted, institution=registered)
    if unmasked and not staff.is_supervisor:
        services.refuse_unscoped(
            staff.id,
            at,
            "export",
            NotPermitted(
                "only a supervisor may export unmasked personal data; export without --unmasked",
                "permission.unmasked",
            ),
            attempted,
            registered,
        )
    if not staff.is_supervisor:
        if filters.staff not in (None, staff.id):
            services.refuse_unscoped(
                staff.id,
                at,
                "export",
                NotPermitted(
                    f"field staff export their own visits only, not {filters.staff}'s",
                    "permission.export_staff",
                ),
                attempted,
                registered,
            )
        filters = attrs.evolve(filters, staff=staff.id)
    services.check_unscoped("export", staff.id, at, filters.institution, attempted)
    counted = 0

    def counting(rows: Iterator[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
        nonlocal counted
        for row in rows:
            counted += 1
            if progress is not None and counted % progress_every == 0:
                progress(counted)
            yield row

    # On the record before any row leaves: an export cut short (a closed pipe, a
    # full disk) has still been recorded; its completion says how many rows went.
    started = services.record_system_event("export", staff.id, at, attempted)
    assert started.id is not None
    with services.store.read_snapshot() as snapshot:
        cursor = snapshot.last_event_id()
        rows = snapshot.visit_rows(filters, cursor, masked=not unmasked)
        try:
            exporter.write(counting(rows), VISIT_COLUMNS, out)
        finally:  # closed here, cut short or not: not later by the collector, store closed
            if isinstance(rows, Generator):
                rows.close()
    out.flush()
    services.record_system_event(
        "export_completed",
        staff.id,
        at,
        {"export": started.id, "rows": counted, "cursor": cursor},
    )
    return ExportSummary(fmt, counted, not unmasked, cursor, started.id)
