"""Documents for fieldcase: the visit report as PDF, letters as PDF, messages to an outbox.

Drawn with fpdf2 (pure Python; embeds a subset of an OpenType font, CFF
outlines included, and images through Pillow) in Noto Sans SC, so Chinese
text prints; see :mod:`fieldcase_documents.fonts` for the font and
:mod:`fieldcase_documents.outbox` for where messages go.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fieldcase import hookimpl
from fieldcase.model import Case, OutgoingMessage
from fieldcase.visit_report import VisitReport


@hookimpl
def render_visit_report(report: VisitReport, path: Path) -> bool | None:
    """Draw the visit report as a PDF into a ``.pdf`` path; other formats are not ours."""
    if path.suffix.lower() != ".pdf":
        return None
    from .visit_pdf import draw_visit_report

    draw_visit_report(report, path)
    return True


@hookimpl
def send_message(message: OutgoingMessage, case: Case, settings: Mapping[str, Any]) -> str | None:
    """Write the letter (PDF), email (.eml) or message (.txt) into the outbox; its path."""
    from .outbox import write_message

    return str(write_message(message, case))
