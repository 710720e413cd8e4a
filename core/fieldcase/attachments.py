"""Attachments: photos and documents attached to a case, kept in the database itself.

Where the files live: in the table ``attachment_blobs`` of the same database
(a BLOB on SQLite, ``bytea`` on PostgreSQL), keyed by the SHA-256 of their
bytes, each content once however many cases hold it. The records of what was
attached (table ``attachments``: kind, type, size, fingerprint, the visit, the
file's name, a note, and for photos when and where EXIF says they were taken)
are state like any other, rebuilt from the events; each ``attachment_added``
event carries the fingerprint, never the bytes. So a replay rebuilds the
records and leaves the files alone, and ``audit verify`` checks every file
against its fingerprint (:func:`verify_files`). A purge, or a void of the
event that added it, removes a file no live attachment holds any longer (the
store does it as it writes their rows).

What a file is comes from its bytes (``filetype``), never its name; its EXIF
from ``exifread``. What may be attached is the rules' to judge (action
``attach``; the built-in ``default.attachments`` holds the institution's
``attachment_max_bytes`` and ``attachment_types``): a refused file writes
nothing but its refusal event. Every attachment is personal data (faces,
homes, documents): its file is handed only to those who may see the case's
personal data (:func:`attachment_content`), its name, note and place masked
for others.

The actions run through the shared steps of :class:`fieldcase.services.Services`
(``begin``, ``guard``, ``notify``); several files attached at once are saved
together, one event each, in one transaction with their files (so the store's
``commit_many`` rather than ``save``), or, one refused, none of them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import attrs
import filetype

from .errors import FieldcaseError, InvalidInput, NotPermitted, PolicyDenied, Refused
from .lifecycle import ATTACHMENT_KINDS
from .model import ActionContext, Attachment, Case, Staff
from .privacy import mask_attachments, sees_in_clear
from .store import Change
from .suggest import choice
from .text import clean

if TYPE_CHECKING:
    from .services import Services

#: The media types a file's bytes can be told to be (what ``attachment_types`` may name).
SNIFFED_TYPES: tuple[str, ...] = tuple(dict.fromkeys(kind.mime for kind in filetype.types))

#: The largest file read whole: no policy allows more (``attachment_max_bytes``), so a
#: larger one is only fingerprinted, to be refused.
LARGEST = 200 * 10**6
#: How much of a file its type is told from.
HEAD = 8192
_CHUNK = 1 << 20
#: Degrees to six places: about 11 cm, more than a phone's GPS knows.
DEGREES = Decimal("0.000001")

# exifread warns, through logging, of every photo without EXIF or with a damaged
# one: what such a photo lacks is simply not recorded, nothing to warn of.
logging.getLogger("exifread").setLevel(logging.ERROR)


@attrs.frozen
class Upload:
    """One file offered for attaching, as read from its bytes."""

    #: Its name as given (personal: it may name the borrower).
    filename: str
    sha256: str
    size: int
    #: What its bytes are (``image/jpeg``); empty when they are no type known.
    media_type: str
    #: The bytes; None for a file larger than any policy allows (it is refused).
    content: bytes | None = attrs.field(repr=False)
    #: EXIF DateTimeOriginal, aware when EXIF gives its offset, else naive.
    taken: dt.datetime | None = None
    lat: Decimal | None = None
    lon: Decimal | None = None


def read_upload(path: Path) -> Upload:
    """The file at ``path`` as an :class:`Upload`: fingerprint, size, type and EXIF."""
    digest = hashlib.sha256()
    chunks: list[bytes] = []
    size = 0
    head = b""
    try:
        # A pipe would wait for a writer, a device never end: neither is a file.
        if not path.is_file():
            raise InvalidInput(
                f"{path} is not a regular file (a device, pipe or socket): attach the file itself"
            )
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                head = head or chunk[:HEAD]
                if size <= LARGEST:
                    chunks.append(chunk)
                else:
                    chunks = []
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot be read ({exc.strerror or exc})") from None
    content = b"".join(chunks) if size <= LARGEST else None
    return upload_of(clean(path.name, "filename"), content, head, digest.hexdigest(), size)


def upload_of(filename: str, content: bytes | None, head: bytes, sha256: str, size: int) -> Upload:
    """An upload from its bytes (or, too large to keep, their first ones and digest)."""
    found = filetype.guess(head) if head else None
    media_type = str(found.mime) if found is not None else ""
    taken, lat, lon = (None, None, None)
    if content is not None and media_type.startswith("image/"):
        taken, lat, lon = photo_exif(content)
    return Upload(filename, sha256, size, media_type, content, taken, lat, lon)


def photo_exif(content: bytes) -> tuple[dt.datetime | None, Decimal | None, Decimal | None]:
    """(when, latitude, longitude) a photo's EXIF says it was taken; None for each it
    does not say, or says in a form that cannot be read."""
    import exifread

    try:
        tags = exifread.process_file(io.BytesIO(content), details=False, extract_thumbnail=False)
    except Exception:  # a damaged EXIF block says nothing: the photo is attached all the same
        return None, None, None
    return (
        _taken(tags.get("EXIF DateTimeOriginal"), tags.get("EXIF OffsetTimeOriginal")),
        _degrees(tags.get("GPS GPSLatitude"), tags.get("GPS GPSLatitudeRef"), "S", 90),
        _degrees(tags.get("GPS GPSLongitude"), tags.get("GPS GPSLongitudeRef"), "W", 180),
    )


def _text(tag: Any) -> str:
    return "" if tag is None else str(tag.values).strip().strip("\x00").strip()


def _taken(when: Any, offset: Any) -> dt.datetime | None:
    try:
        taken = dt.datetime.strptime(_text(when), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    try:
        zone = dt.datetime.strptime(_text(offset), "%z").tzinfo
    except ValueError:
        return taken  # no offset: the caller puts it in the borrower's time zone
    return taken.replace(tzinfo=zone)


def _degrees(tag: Any, ref: Any, negative: str, bound: int) -> Decimal | None:
    """Degrees, minutes and seconds (EXIF rationals) as signed decimal degrees."""
    try:
        parts = [Decimal(part.numerator) / Decimal(part.denominator) for part in tag.values]
    except (AttributeError, TypeError, ZeroDivisionError, InvalidOperation):
        return None
    if not 1 <= len(parts) <= 3 or any(part < 0 for part in parts):
        return None
    degrees = sum((part / 60**place for place, part in enumerate(parts)), Decimal(0))
    if _text(ref).upper() == negative:
        degrees = -degrees
    if abs(degrees) > bound:
        return None
    return degrees.quantize(DEGREES)


# -- attaching ------------------------------------------------------------------------------


class FileRefused(Refused):
    """One of the files of an ``attach`` was refused by the rules: which one, and why.

    Its refusal event was written (with its reasons); nothing else was.
    """

    def __init__(self, filename: str, count: int, cause: PolicyDenied) -> None:
        self.filename, self.cause = filename, cause
        others = (
            f"; none of the {count} files was attached: attach the others again without it"
            if count > 1
            else "; nothing was attached"
        )
        super().__init__(f"{filename}: {cause.explain()}{others}", cause.rule)

    @property
    def reasons(self) -> list[tuple[str, str]]:
        return self.cause.reasons

    def explain(self) -> str:
        return str(self)


def event_data(attachment: Attachment) -> dict[str, Any]:
    """What an ``attachment_added`` event says (and its refusal tried): no bytes."""
    return {
        "filename": attachment.filename,
        "kind": attachment.kind,
        "sha256": attachment.sha256,
        "size": attachment.size,
        "media_type": attachment.media_type,
        "visit": attachment.visit_number,
        "taken_at": None if attachment.taken_at is None else attachment.taken_at.isoformat(),
        "lat": None if attachment.lat is None else str(attachment.lat),
        "lon": None if attachment.lon is None else str(attachment.lon),
        "note": attachment.note,
    }


def attach(
    services: Services,
    ref: str | int,
    uploads: Sequence[Upload],
    *,
    actor: str,
    at: dt.datetime,
    kind: str | None = None,
    visit: int | None = None,
    note: str = "",
) -> list[Attachment]:
    """Attach files to the case, if the rules allow each: all of them, or none.

    ``kind`` None: a photo for an image, else ``other``. ``visit``: the number of
    one of the case's visits the files belong to. Each file is judged (action
    ``attach``, its fingerprint, size, type and kind in ``context.extra``) before
    any is saved; the first refused writes its refusal event and stops the rest.
    """
    if not uploads:
        raise InvalidInput("give at least one FILE to attach")
    if kind is not None:
        choice(kind, ATTACHMENT_KINDS, "--kind")
    staff, case = services.begin(ref, actor, at)
    assert case.id is not None
    store = services.store
    visits = store.visits(case.id, case.currency)
    if visit is not None and visit not in {v.number for v in visits}:
        numbers = ", ".join(str(v.number) for v in visits)
        raise InvalidInput(
            f"--visit {visit}: case {case.id} has no visit {visit}"
            + (f" (its visits: {numbers})" if numbers else " (none is planned yet)")
        )
    visiting = sorted({member for v in visits for member in v.staff})
    context = ActionContext(at=at, actor=staff.id, staff_members=(staff,), visits=tuple(visits))
    attachments: list[Attachment] = []
    for upload in uploads:
        attachment = Attachment(
            case_id=case.id,
            kind=kind or ("photo" if upload.media_type.startswith("image/") else "other"),
            sha256=upload.sha256,
            size=upload.size,
            media_type=upload.media_type,
            at=at,
            staff=staff.id,
            visit_number=visit,
            filename=upload.filename,
            note=note,
            taken_at=_aware(upload.taken, case.borrower.zone),
            lat=upload.lat,
            lon=upload.lon,
        )
        try:
            services.guard(
                case,
                staff,
                "attach",
                at,
                attempted=event_data(attachment),
                context=context,
                also_permitted=visiting,
            )
        except PolicyDenied as exc:
            raise FileRefused(upload.filename, len(uploads), exc) from None
        attachments.append(attachment)
    return _save(services, case, staff, at, attachments, uploads)


def _aware(taken: dt.datetime | None, zone: ZoneInfo) -> dt.datetime | None:
    """The EXIF time, aware; None where it is no time at all in UTC (a camera clock at
    year 1 or 9999 with its offset), as for a damaged EXIF."""
    if taken is None:
        return None
    aware = taken if taken.tzinfo is not None else taken.replace(tzinfo=zone)
    try:
        aware.astimezone(dt.UTC)
    except OverflowError:
        return None
    return aware


def _save(
    services: Services,
    case: Case,
    staff: Staff,
    at: dt.datetime,
    attachments: Sequence[Attachment],
    uploads: Sequence[Upload],
) -> list[Attachment]:
    """Each attachment with its own event, and their files, in one transaction."""
    policy_version = services.institution_of(case).policy_version
    changes = []
    for step, attachment in enumerate(attachments):
        version = case.version + step
        updated = attrs.evolve(case, version=version + 1, updated_at=at)
        changes.append(
            Change(
                "attachment_added",
                staff.id,
                at,
                (updated, attachment),
                event_data(attachment),
                case.id,
                version,
                services.recorded_at(),
                policy_version,
            )
        )
    files = {}
    for upload in uploads:
        # Judged allowed, so no larger than any policy allows: read whole.
        assert upload.content is not None
        files[upload.sha256] = upload.content
    results = services.store.commit_many(changes, files=list(files.items()))
    saved: list[Attachment] = []
    for event, (saved_case, record) in results:
        assert isinstance(saved_case, Case) and isinstance(record, Attachment)
        services.notify(saved_case, event)
        saved.append(record)
    return saved


# -- reading back -----------------------------------------------------------------------------


def case_attachments(
    services: Services, ref: str | int, viewer: str | None
) -> tuple[Case, list[Attachment], bool]:
    """(the case, its attachments oldest first, whether they were masked for ``viewer``)."""
    store = services.store
    case = store.get_case(ref)
    assert case.id is not None
    found = store.attachments(case.id)
    if sees(services, case, viewer):
        return case, found, False
    return case, mask_attachments(found), True


def sees(services: Services, case: Case, viewer: str | None) -> bool:
    """Whether ``viewer`` may see the case's personal data, attachments' files among it."""
    case_id = case.id
    assert case_id is not None
    staff = services.actor(viewer) if viewer is not None else None
    return sees_in_clear(staff, case, lambda: services.store.visits(case_id, case.currency))


def stored_attachment(services: Services, attachment_id: int) -> Attachment:
    """The attachment as stored, or an error naming where attachments are listed."""
    found = services.store.attachment(attachment_id)
    if found is None:
        raise FieldcaseError(
            f"no attachment {attachment_id}: 'fieldcase attachment list CASE' lists a case's"
        )
    return found


def attachment_content(
    services: Services, attachment: Attachment | int, viewer: str | None
) -> bytes:
    """The attached file's bytes, checked against its fingerprint, for a ``viewer`` who
    may see the case's personal data; :class:`NotPermitted` for anyone else."""
    attachment_id = attachment if isinstance(attachment, int) else attachment.id
    if attachment_id is None:
        raise ValueError("the attachment has no id: it is not stored")
    stored = stored_attachment(services, attachment_id)
    case = services.store.get_case(stored.case_id)
    if not sees(services, case, viewer):
        raise NotPermitted(
            f"attachment {attachment_id} of case {case.id} is personal data: its file goes "
            "only to supervisors, the staff member assigned "
            f"({case.assigned_to or 'nobody'}) and the case's visiting staff"
            + ("" if viewer else "; pass --as"),
            "privacy.attachments",
        )
    if stored.purged_at is not None:
        raise FieldcaseError(
            f"attachment {attachment_id}'s file was removed with case {case.id}'s personal "
            f"data (purged {stored.purged_at:%Y-%m-%d}); its fingerprint stays in the log"
        )
    content = services.store.attachment_file(stored.sha256)
    if content is None:
        raise FieldcaseError(
            f"attachment {attachment_id}'s file is missing from the database: run "
            "'fieldcase audit verify' and restore the database from a backup"
        )
    if hashlib.sha256(content).hexdigest() != stored.sha256:
        raise FieldcaseError(
            f"attachment {attachment_id}'s stored file does not match its fingerprint "
            f"(sha256 {stored.sha256}): it was replaced or damaged, and is not handed out; "
            "run 'fieldcase audit verify' and restore the database from a backup"
        )
    return content


# -- checking the files -----------------------------------------------------------------------


def verify_files(services: Services) -> tuple[int, list[str]]:
    """(files checked, what is wrong): every stored file against its fingerprint, every
    live attachment's file there, and each attachment's fingerprint as its event says.

    A file the reader may not see (PostgreSQL's views give them none) is checked by
    those who may; a purged attachment has no file to check.
    """
    store = services.store
    with store.read_snapshot():
        attachments = store.attachments()
        recorded = store.recorded_fingerprints()
        kept = store.file_keys()
        holders: dict[str, list[Attachment]] = {}
        for attachment in attachments:
            holders.setdefault(attachment.sha256, []).append(attachment)
        problems: list[str] = []
        checked = 0
        for sha256, size in sorted(kept.items()):
            content = store.attachment_file(sha256)
            if content is None:
                continue
            checked += 1
            if hashlib.sha256(content).hexdigest() == sha256 and len(content) == size:
                continue
            named = _named(holders.get(sha256, [])) or f"a file held by no attachment ({sha256})"
            problems.append(
                f"{named}: the stored file does not match its fingerprint sha256 {sha256}: it "
                "was replaced or damaged; restore the database from a backup"
            )
        for attachment in attachments:
            named = _named([attachment])
            if attachment.purged_at is None and attachment.sha256 not in kept:
                problems.append(
                    f"{named}: its file (sha256 {attachment.sha256}) is missing from the "
                    "database; restore the database from a backup"
                )
            written = recorded.get(attachment.id or 0)
            if written is not None and written != attachment.sha256:
                problems.append(
                    f"{named}: its fingerprint {attachment.sha256} is not the {written} its "
                    "event recorded: the table was edited; rebuild it ('audit verify --replay' "
                    "shows every difference)"
                )
    return checked, problems


def _named(attachments: Sequence[Attachment]) -> str:
    return ", ".join(f"attachment {a.id} of case {a.case_id}" for a in attachments)
