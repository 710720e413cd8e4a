"""The built-in reports, registered the way an institution's would be."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fieldcase import hookimpl
from fieldcase.reports import ReportFilter

if TYPE_CHECKING:
    from fieldcase.services import Services


def compliance(services: Services, filters: ReportFilter) -> list[dict[str, Any]]:
    """Refusals by rule, staff member and institution."""
    return services.store.refusal_counts(filters.institution, filters.start, filters.end)


@hookimpl
def register_reports(register: Callable[..., None]) -> None:
    register(
        "compliance",
        compliance,
        ("rule", "staff", "institution", "refusals"),
        "Refused actions counted by rule, staff member and institution.",
    )
