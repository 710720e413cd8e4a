"""The default visit checklist: what every visiting staff member carries."""

from __future__ import annotations

from fieldcase import hookimpl
from fieldcase.model import ChecklistItem

DEFAULT_CHECKLIST = (
    ChecklistItem("id-badge", "Staff ID badge"),
    ChecklistItem("authorisation", "Authorisation letter from the institution"),
    ChecklistItem("contract", "Copy of the loan contract"),
    ChecklistItem("statement", "Statement of account"),
    ChecklistItem("repayment-options", "Repayment options sheet", required=False),
)


@hookimpl
def visit_checklist() -> list[ChecklistItem]:
    return list(DEFAULT_CHECKLIST)
