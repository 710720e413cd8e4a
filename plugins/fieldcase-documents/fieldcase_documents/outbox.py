"""Sending, offline: each letter or message written as a file into an outbox folder.

A letter becomes a PDF (the institution, the date, the recipient's name and
address, the subject, the text); an email an ``.eml`` file any mail program
opens or sends; any other message (SMS, WeChat...) a ``.txt`` file holding
exactly the text sent, so that its SHA-256 is the one the contact recorded.
The folder is ``FIELDCASE_OUTBOX``, else ``outbox`` in the working folder;
a file is never overwritten (each contact has its own).
"""

from __future__ import annotations

import email.policy
import email.utils
import os
import re
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from fieldcase.errors import FieldcaseError
from fieldcase.model import Case, OutgoingMessage
from fpdf.enums import WrapMode, XPos, YPos

from .pdf import FAMILY, GREY, Document

#: The variable naming the outbox folder, and the folder without it.
OUTBOX_VARIABLE = "FIELDCASE_OUTBOX"
DEFAULT_OUTBOX = "outbox"

#: What a name part of a file keeps: letters, digits, dot, dash, underscore (ASCII).
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class OutboxRefused(FieldcaseError):
    """The message could not be written to the outbox."""


def outbox() -> Path:
    """The outbox folder, created if need be."""
    folder = Path(os.environ.get(OUTBOX_VARIABLE, "").strip() or DEFAULT_OUTBOX)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutboxRefused(
            f"cannot create the outbox folder {folder} ({exc.strerror}); set "
            f"{OUTBOX_VARIABLE} to a folder you may write"
        ) from None
    return folder


def file_name(case: Case, message: OutgoingMessage, suffix: str) -> str:
    """``<institution>-<reference>-<contact id>-<channel><suffix>``, safe on any disk."""
    parts = [case.institution, case.reference, str(message.contact_id), message.channel]
    safe = [_UNSAFE.sub("_", part).strip("._") or "_" for part in parts]
    return "-".join(part[:60] for part in safe) + suffix


def write_message(message: OutgoingMessage, case: Case) -> Path:
    """Write ``message`` into the outbox; the file written."""
    if message.channel == "letter":
        suffix, content = ".pdf", _letter(message, case)
    elif message.channel == "email":
        suffix, content = ".eml", _email(message, case)
    else:
        suffix, content = ".txt", message.text.encode("utf-8")
    path = outbox() / file_name(case, message, suffix)
    try:
        # Never over another message's file, nor through a link; readable by its
        # owner only, as the files fieldcase writes with -o are: it names the borrower.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        with os.fdopen(os.open(path, flags, 0o600), "wb") as out:
            out.write(content)
    except FileExistsError:
        raise OutboxRefused(
            f"{path} exists already: contact {message.contact_id} was sent before; "
            "move the file away to send it again"
        ) from None
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise OutboxRefused(f"cannot write {path}: {exc.strerror}") from None
    return path


def _letter(message: OutgoingMessage, case: Case) -> bytes:
    local = message.at.astimezone(ZoneInfo(case.borrower.timezone))
    pdf = Document(f"{case.label} · contact {message.contact_id} · sha256 {message.sha256[:16]}")
    pdf.set_title(message.subject or f"Letter {case.label}")
    pdf.set_creation_date(message.at)
    pdf.add_page()
    pdf.set_font(FAMILY, size=14)
    pdf.cell(0, 7, pdf.text_of(case.institution), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FAMILY, size=9)
    pdf.set_text_color(*GREY)
    pdf.cell(0, 5, pdf.text_of(f"Loan {case.reference}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.cell(0, 5, f"{local:%Y-%m-%d}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0)
    pdf.ln(8)
    pdf.set_font(FAMILY, size=11)
    pdf.multi_cell(
        90, 5.5, pdf.text_of(f"{case.borrower.name}\n{message.recipient}"),
        wrapmode=WrapMode.WORD, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT,
    )  # fmt: skip
    pdf.ln(10)
    if message.subject:
        pdf.set_font(FAMILY, size=12)
        pdf.multi_cell(
            0, 6, pdf.text_of(message.subject), wrapmode=WrapMode.WORD, align="L",
            new_x=XPos.LMARGIN, new_y=YPos.NEXT,
        )  # fmt: skip
        pdf.ln(4)
    pdf.set_font(FAMILY, size=11)
    pdf.multi_cell(
        0, 6, pdf.text_of(message.text), wrapmode=WrapMode.WORD, align="L",
        new_x=XPos.LMARGIN, new_y=YPos.NEXT,
    )  # fmt: skip
    return bytes(pdf.output())


def _email(message: OutgoingMessage, case: Case) -> bytes:
    # Lines up to RFC 5322's limit: the fingerprint header stays whole on one line.
    mail = EmailMessage(policy=email.policy.default.clone(max_line_length=998))
    mail["To"] = email.utils.formataddr((case.borrower.name, message.recipient))
    mail["Subject"] = message.subject or f"{case.institution} {case.reference}"
    mail["Date"] = email.utils.format_datetime(message.at)
    mail["X-Fieldcase-Case"] = case.label
    mail["X-Fieldcase-Contact"] = str(message.contact_id)
    mail["X-Fieldcase-SHA256"] = message.sha256
    mail.set_content(message.text, charset="utf-8")
    return bytes(mail)
