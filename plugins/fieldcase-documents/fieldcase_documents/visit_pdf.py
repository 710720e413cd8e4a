"""The visit report as an A4 PDF: one page or two a lender files.

It draws what the report holds and nothing else: fieldcase has masked what
the person running the report may not see before the report reaches here.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from fieldcase.checkins import REFERENCES
from fieldcase.money import format_money
from fieldcase.visit_report import ReportAttachment, VisitReport
from fpdf.enums import XPos, YPos

from .pdf import FAMILY, GREY, MONO, RULE, WARN, Document

if TYPE_CHECKING:
    from PIL.Image import Image

#: Thumbnails: so many to a row, each in a box this high (mm).
THUMBNAILS_PER_ROW = 4
THUMBNAIL_HEIGHT = 34.0
#: The longest side, in pixels, a photo is scaled down to before it is embedded.
THUMBNAIL_PIXELS = 480


def draw_visit_report(report: VisitReport, path: Path) -> None:
    """Write ``report`` as a PDF to ``path``."""
    case, visit = report.case, report.visit
    zone = ZoneInfo(report.borrower.timezone)

    def local(at: dt.datetime | None) -> str:
        return "" if at is None else at.astimezone(zone).strftime("%Y-%m-%d %H:%M %z")

    def short(at: dt.datetime | None) -> str:  # in tables: the zone is the borrower's
        return "" if at is None else at.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    def money(amount: Decimal | None) -> str:
        return "" if amount is None else format_money(amount, case.currency)

    pdf = Document(
        f"{case.label} · visit {visit.number} · prepared {local(report.prepared_at)}"
        + (f" for {report.viewer}" if report.viewer else "")
    )
    pdf.set_title(f"Visit report {case.label} visit {visit.number}")
    pdf.set_creation_date(report.prepared_at)  # the same --at, the same file
    pdf.add_page()

    pdf.set_font(FAMILY, size=16)
    pdf.cell(0, 8, pdf.text_of(f"Visit report · {case.institution_name}"))
    pdf.ln(8)
    pdf.set_font(FAMILY, size=10)
    pdf.set_text_color(*GREY)
    pdf.cell(
        0, 5, pdf.text_of(f"Case {case.id} · {case.label} · visit {visit.number}"),
        new_x=XPos.LMARGIN, new_y=YPos.NEXT,
    )  # fmt: skip
    pdf.cell(
        0, 5, pdf.text_of(f"Times in the borrower's time zone, {report.borrower.timezone}"),
        new_x=XPos.LMARGIN, new_y=YPos.NEXT,
    )  # fmt: skip
    pdf.set_text_color(0)
    if report.masked:
        pdf.paragraph(
            f"Personal data masked: prepared for {report.viewer or 'nobody named'}, who may "
            "not see this case's personal data; photos and event hashes withheld.",
            colour=WARN,
        )

    pdf.heading("Case")
    pdf.fields(
        [
            ("Institution", f"{case.institution_name} ({case.institution})"),
            ("Reference", case.reference),
            ("Jurisdiction", case.jurisdiction),
            ("Currency", case.currency),
            ("Principal", money(case.principal)),
            ("Overdue", f"{money(case.overdue_amount)} since {case.overdue_since}"),
            ("Days past due", f"{case.days_past_due} on the day of the visit"),
            ("Balance", f"{money(case.balance_at_visit)} at the visit"),
            ("Stage", case.stage + (f" ({case.resolution})" if case.resolution else "")),
            ("Assigned to", case.assigned_to),
        ]
    )

    borrower = report.borrower
    pdf.heading("Borrower")
    pdf.fields(
        [
            ("Name", borrower.name),
            ("National id", borrower.national_id),
            ("Phone", borrower.phone),
            ("Time zone", borrower.timezone),
            ("Address", borrower.address),
            ("Confirmed address", borrower.confirmed_address),
        ]
    )

    pdf.heading(f"Visit {visit.number}: {visit.status}")
    lenders = "" if visit.lenders is None else str(visit.lenders)
    if visit.multi_lender is not None:
        lenders = f"{lenders} (borrows from several)" if visit.multi_lender else lenders or "one"
    pdf.fields(
        [
            ("Planned", f"{visit.date} {visit.window} ({visit.timezone})"),
            ("Visited at", local(visit.visited_at)),
            ("Staff", ", ".join(f"{p.name} ({p.id})" for p in visit.staff)),
            ("Recorded by", visit.recorded_by),
            ("Met", visit.met),
            (
                "Reason",
                f"{visit.reason_label} ({visit.reason_code})" if visit.reason_code else "",
            ),
            ("Employment", visit.employment),
            ("Industry", visit.industry),
            ("Employer", visit.employer),
            ("Monthly income", money(visit.monthly_income)),
            ("Other debts", money(visit.other_debts)),
            ("Repayments", money(visit.monthly_repayments)),
            ("Lenders", lenders),
            ("Attitude", visit.attitude),
        ]
    )
    if visit.notes:
        pdf.fields([("Notes", visit.notes)], columns=1)

    if report.checkins:
        pdf.heading("Check-ins")
        pdf.grid(
            ["at", "staff", "place", "accuracy", "distance", "limit", ""],
            [
                [
                    short(c.at),
                    c.staff,
                    f"{c.lat}, {c.lon}" if c.lat and c.lon else "",
                    "" if c.accuracy_m is None else f"{c.accuracy_m} m",
                    ""
                    if c.distance_m is None
                    else f"{c.distance_m:,} m from {REFERENCES.get(c.reference, c.reference)}",
                    "" if c.limit_m is None else f"{c.limit_m:,} m",
                    "FAR" if c.far else "",
                ]
                for c in report.checkins
            ],
            [28, 22, 32, 14, 54, 14, 16],
        )

    if report.attachments:
        pdf.heading("Photos and documents")
        _thumbnails(pdf, report.attachments, short)

    pdf.heading("Offers presented")
    if report.offers:
        pdf.grid(
            ["offer", "terms", "payable", "saving", "status", "accepted"],
            [
                [
                    o.code,
                    o.label,
                    money(o.total_payable),
                    money(o.saving),
                    o.status,
                    short(o.accepted_at),
                ]
                for o in report.offers
            ],
            [24, 54, 27, 25, 18, 32],
        )
    else:
        pdf.paragraph("None.", colour=GREY)
    accepted = report.accepted
    if accepted:
        pdf.paragraph(
            "Accepted: " + "; ".join(f"{o.label} ({money(o.total_payable)})" for o in accepted)
        )

    pdf.heading("Recommendation and review")
    if report.feedback:
        for f in report.feedback:
            review = f.review_status
            if f.reviewed_by:
                review += f" by {f.reviewed_by} at {local(f.reviewed_at)}"
            pdf.fields(
                [
                    ("Recommendation", f.recommendation),
                    ("Submitted", f"{local(f.submitted_at)} by {f.submitted_by}"),
                    ("Summary", f.summary),
                    ("Review", review),
                    ("Review note", f.review_note),
                ],
                columns=1,
            )
            pdf.ln(1)
    else:
        pdf.paragraph("No feedback submitted yet.", colour=GREY)

    pdf.heading("Events that prove it")
    pdf.paragraph(
        "Each event's SHA-256 hash in the case's chain: fieldcase audit verify checks them."
        if not report.masked
        else "Event hashes withheld: they are shown to those who may see the case.",
        size=7.5,
        colour=GREY,
    )
    pdf.grid(
        ["event", "type", "at", "actor", "hash"],
        [[e.id, e.type, short(e.at), e.actor or "", e.hash or "(withheld)"] for e in report.events],
        [10, 30, 26, 20, 94],
        size=6.5,
        family=MONO,
    )
    pdf.output(str(path))


def _thumbnails(
    pdf: Document,
    attachments: tuple[ReportAttachment, ...],
    when: Callable[[dt.datetime | None], str],
) -> None:
    """Photos as thumbnails; anything else, or a photo not shown, as a labelled box."""
    width = (pdf.w - pdf.l_margin - pdf.r_margin) / THUMBNAILS_PER_ROW
    for start in range(0, len(attachments), THUMBNAILS_PER_ROW):
        if pdf.get_y() + THUMBNAIL_HEIGHT + 8 > pdf.page_break_trigger:
            pdf.add_page()
        top = pdf.get_y()
        for n, attachment in enumerate(attachments[start : start + THUMBNAILS_PER_ROW]):
            x = pdf.l_margin + n * width
            box_w, box_h = width - 3, THUMBNAIL_HEIGHT
            image = _thumbnail(attachment)
            if image is not None:
                scale = min(box_w / image.width, box_h / image.height)
                w, h = image.width * scale, image.height * scale
                pdf.image(
                    image, x=x + (box_w - w) / 2, y=top + (box_h - h) / 2, w=w, h=h,
                    alt_text=f"attachment {attachment.id}",
                )  # fmt: skip
            else:
                pdf.set_draw_color(*RULE)
                pdf.rect(x, top, box_w, box_h)
                pdf.set_xy(x, top + box_h / 2 - 4)
                pdf.set_font(FAMILY, size=7)
                pdf.set_text_color(*GREY)
                pdf.multi_cell(
                    box_w, 3.5, pdf.text_of(_placeholder(attachment)), align="C",
                    new_x=XPos.RIGHT, new_y=YPos.TOP,
                )  # fmt: skip
                pdf.set_text_color(0)
            pdf.set_xy(x, top + box_h + 0.5)
            pdf.set_font(FAMILY, size=6.5)
            taken = f" · {when(attachment.taken_at)}" if attachment.taken_at else ""
            caption = f"#{attachment.id} {attachment.kind}{taken} · {attachment.sha256[:12]}"
            pdf.cell(box_w, 3, pdf.text_of(caption))
            if attachment.note:
                pdf.set_xy(x, top + box_h + 3.5)
                pdf.cell(box_w, 3, pdf.text_of(attachment.note))
        pdf.set_xy(pdf.l_margin, top + THUMBNAIL_HEIGHT + 8)
    pdf.set_font(FAMILY, size=9)


def _placeholder(attachment: ReportAttachment) -> str:
    kind = attachment.media_type
    if attachment.content is None:
        return f"{kind}\nnot shown (withheld)"
    if attachment.is_image:
        return f"{kind}\nno preview"
    return f"{kind}\n{attachment.size:,} bytes"


def _thumbnail(attachment: ReportAttachment) -> Image | None:
    """The photo scaled down, upright, as RGB; None if it is no image Pillow can read."""
    if attachment.content is None or not attachment.is_image:
        return None
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(attachment.content)) as opened:
            opened.draft("RGB", (THUMBNAIL_PIXELS, THUMBNAIL_PIXELS))  # JPEG: decode smaller
            image = ImageOps.exif_transpose(opened).convert("RGB")
            image.thumbnail((THUMBNAIL_PIXELS, THUMBNAIL_PIXELS))
            return image
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        return None  # HEIC and anything else Pillow cannot decode
