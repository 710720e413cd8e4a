"""The default overdue-reason taxonomy."""

from __future__ import annotations

from fieldcase import hookimpl
from fieldcase.model import Reason

DEFAULT_REASONS = (
    Reason("financial-management", "Poor financial management"),
    Reason("medical", "Medical emergency"),
    Reason("income-loss", "Unemployment or income loss"),
    Reason("business-failure", "Business failure"),
    Reason("misunderstood-terms", "Misunderstood product terms"),
    Reason("dispute", "Dispute or not the borrower's fault (e.g. failed automatic deduction)"),
    Reason("fraud", "Fraud or identity theft"),
    Reason("over-borrowing", "Multi-lender over-borrowing"),
    Reason("wilful-default", "Wilful default"),
    Reason("other", "Other"),
)


@hookimpl
def overdue_reasons() -> list[Reason]:
    return list(DEFAULT_REASONS)
