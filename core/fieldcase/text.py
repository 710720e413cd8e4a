"""Text coming in and going out: one gate each way.

In, :func:`clean`: every identifier and free text that a person types or a file
brings goes through it before it is looked up or stored. The command line
passes every string parameter of every command through it (using the
parameter's name, see :data:`FIELDS`), and the importer passes every column.

- Identifiers (case references, staff and institution ids, national ids,
  phones, payment references) are normalised to NFKC, so a reference typed in
  full width is the ASCII one. They may not hold an invisible, control or
  format character: it could make two ids that look the same differ.
- Free text (names, addresses, notes, summaries, reasons) is normalised to NFC.
  It may not hold a NUL, a control character (except a line break or a tab
  where text may span lines) or a text-direction override, which would show
  it in a different order from the one it is stored in. The joiners that
  scripts and emoji need stay.
- Every field has a length limit.

Services take what they are given: a plugin that calls them with text from
elsewhere passes it through :func:`clean` itself.

Out, :func:`visible`: whatever fieldcase shows of stored text (in a terminal,
a workbook, a rejects file) has its control characters and direction
overrides escaped (``\\x1b``). So text stored before these checks cannot
clear a screen, ring a bell or reverse a line.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from typing import NamedTuple

from .errors import InvalidInput


class Kind(enum.Enum):
    IDENTIFIER = "identifier"  # NFKC; printable characters and spaces only
    LINE = "line"  # NFC; one line, no control characters
    TEXT = "text"  # NFC; line breaks and tabs too
    VALUE = "value"  # checked as a line, left as given: codes, amounts, times, paths


class Field(NamedTuple):
    """What a text is, for its checks: a label people know it by, its kind, its limit."""

    label: str
    kind: Kind
    limit: int


_STAFF = Field("staff id", Kind.IDENTIFIER, 64)
_INSTITUTION = Field("institution id", Kind.IDENTIFIER, 64)
_CASE = Field("case", Kind.IDENTIFIER, 200)
_CODE = Field("code", Kind.IDENTIFIER, 64)
_NAME = Field("name", Kind.LINE, 200)
_ATTRIBUTE = Field("attribute", Kind.LINE, 250)

#: Each field by the name it has as a command's parameter and as an import column.
FIELDS: dict[str, Field] = {
    "reference": Field("reference", Kind.IDENTIFIER, 64),
    "national_id": Field("national id", Kind.IDENTIFIER, 64),
    "phone": Field("phone", Kind.IDENTIFIER, 64),
    "badge": Field("identity number", Kind.IDENTIFIER, 64),
    "staff_id": _STAFF,
    "actor": _STAFF,
    "staff": _STAFF,
    "to": _STAFF,
    "companions": _STAFF,
    "assign_to": _STAFF,
    "institution": _INSTITUTION,
    "institution_id": _INSTITUTION,
    # A case id (42) or INSTITUTION/REFERENCE.
    "case_ref": _CASE,
    "case_refs": _CASE,
    "target": _CASE,
    "offer_code": _CODE,
    "items": _CODE,
    "name": _NAME,
    "borrower_name": _NAME,
    "search": Field("search", Kind.LINE, 200),
    # An institution's own attribute: its value, or NAME=VALUE on the command line.
    "attribute": _ATTRIBUTE,
    "attribute_pairs": _ATTRIBUTE,
    "where_pairs": _ATTRIBUTE,
    # What the interview learns of the borrower's work: one line each.
    "industry": Field("industry", Kind.LINE, 64),
    "employer": Field("employer", Kind.LINE, 200),
    "suppliers": Field("suppliers", Kind.LINE, 500),
    "buyers": Field("buyers", Kind.LINE, 500),
    "address": Field("address", Kind.TEXT, 500),
    # RFC 5321's limit on an address as mail carries it.
    "email": Field("email", Kind.IDENTIFIER, 254),
    "relationship": _CODE,
    "source": _CODE,
    "note": Field("note", Kind.TEXT, 4000),
    "notes": Field("note", Kind.TEXT, 4000),
    "summary": Field("summary", Kind.TEXT, 4000),
    "reason": Field("reason", Kind.TEXT, 4000),
    "description": Field("description", Kind.TEXT, 1000),
    # amend --set FIELD=VALUE: free text here, then checked as the field it names.
    "assignments": Field("FIELD=VALUE", Kind.TEXT, 4100),
    # A letter's or message's template (policy templates.<name>.text/subject.<language>).
    "template_text": Field("template text", Kind.TEXT, 8000),
    "template_subject": Field("template subject", Kind.LINE, 200),
}
#: Any other text: codes, amounts, dates, times, file names, policy values.
OTHER = Field("value", Kind.VALUE, 1000)


def field_for(name: str) -> Field:
    return FIELDS.get(name, OTHER)


class TextRefused(InvalidInput):
    """A text :func:`clean` refused: the field, the text as shown, and why."""

    def __init__(self, field: Field, shown: str, reason: str) -> None:
        self.field, self.shown, self.reason = field, shown, reason
        super().__init__(f"{field.label} {shown} {reason}")


#: Embeddings, overrides and isolates: they reorder what is displayed.
DIRECTION_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: The names Unicode gives control characters only as aliases.
_CONTROL_NAMES = {
    0x00: "NULL",
    0x07: "BELL",
    0x08: "BACKSPACE",
    0x09: "CHARACTER TABULATION",
    0x0A: "LINE FEED",
    0x0B: "LINE TABULATION",
    0x0C: "FORM FEED",
    0x0D: "CARRIAGE RETURN",
    0x1B: "ESCAPE",
    0x7F: "DELETE",
}


def clean(value: str, name: str) -> str:
    """``value`` normalised as field ``name`` (see :data:`FIELDS`), or :class:`TextRefused`."""
    field = FIELDS.get(name, OTHER)
    if value.isascii() and value.isprintable() and len(value) <= field.limit:
        # Most of what an import brings: in every normal form, nothing to refuse.
        return value if field.kind is Kind.VALUE else value.strip()
    text = normalise(value, field.kind)
    if _suspect(text, field.kind):
        # The common case never gets here: imports check millions of values.
        for index, char in enumerate(text):
            what = _refused(char, field.kind)
            if what is not None:
                raise TextRefused(field, _excerpt(text, index), f"contains {what}")
    if len(text) > field.limit:
        raise TextRefused(
            field,
            _excerpt(text, 0),
            f"is {len(text):,} characters long; {_article(field.label)} {field.label} holds "
            f"at most {field.limit:,} characters: shorten it",
        )
    return text


def _article(word: str) -> str:
    return "an" if word[:1] in ("a", "e", "i", "o", "u") else "a"


def normalise(value: str, kind: Kind) -> str:
    """NFKC for identifiers, NFC for free text (its line breaks as LF), outer spaces off."""
    if kind is Kind.VALUE:
        return value
    if kind is Kind.TEXT and "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    if value.isascii():  # already in every normal form
        return value.strip()
    return unicodedata.normalize("NFKC" if kind is Kind.IDENTIFIER else "NFC", value).strip()


#: Every character free text may not hold (a superset, for a quick first look).
_FREE_TEXT_SUSPECT = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\ufeff\ufffe\uffff\ud800-\udfff]"
)


def _suspect(text: str, kind: Kind) -> bool:
    """Whether ``text`` may hold a character ``kind`` refuses (quick; :func:`_refused` is exact)."""
    if text.isprintable():  # every character refused anywhere is unprintable
        return False
    if kind is Kind.IDENTIFIER:
        return True
    if kind is Kind.TEXT:
        return _FREE_TEXT_SUSPECT.search(text.replace("\n", "")) is not None
    return "\t" in text or _FREE_TEXT_SUSPECT.search(text) is not None


def _refused(char: str, kind: Kind) -> str | None:
    """What ``char`` is and what to do about it, if ``kind`` of text may not hold it."""
    category = unicodedata.category(char)
    if category == "Cs":
        return f"{describe(char)}, half of a character that is not whole; fix the text's encoding"
    if kind is Kind.IDENTIFIER:
        if char == " " or char.isprintable():
            return None
        if category == "Cc":
            return f"a control character ({describe(char)}); remove it"
        if category == "Co":
            return f"a private-use character ({describe(char)}); remove it"
        if category == "Cn":
            return f"{describe(char)}, which is no character in Unicode; remove it"
        return f"an invisible character ({describe(char)}); remove it"
    if char in "\n\t" and kind is Kind.TEXT:
        return None
    if char in "\n\u2028\u2029" and kind is not Kind.TEXT:
        return f"a line break ({describe(char)}); write it on one line"
    if category == "Cc":
        return f"a control character ({describe(char)}); remove it"
    if char in DIRECTION_CONTROLS:
        return (
            f"a text-direction control ({describe(char)}), which shows text in another "
            "order than it is stored; remove it"
        )
    if char == "\ufeff":
        return f"an invisible character ({describe(char)}); remove it"
    if char in "\ufffe\uffff":
        return f"{describe(char)}, which is no character (nor can a workbook hold it); remove it"
    return None


def describe(char: str) -> str:
    """``U+200B ZERO WIDTH SPACE``; control characters by their usual alias."""
    code = ord(char)
    name = _CONTROL_NAMES.get(code) or unicodedata.name(char, "")
    return f"U+{code:04X} {name}".rstrip()


def _excerpt(text: str, index: int, width: int = 16) -> str:
    """Up to ``width`` characters either side of ``index``, as Python writes a string."""
    start, end = max(index - width, 0), min(index + width + 1, len(text))
    shown = repr(text[start:end])
    return ("…" if start else "") + shown + ("…" if end < len(text) else "")


# -- out ---------------------------------------------------------------------------

#: What :func:`visible` escapes: control characters other than line break and tab,
#: direction controls, lone surrogates (no file or terminal takes them) and the two
#: noncharacters XML cannot hold.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` safe to show: ESC as ``\\x1b``, U+202E as ``\\u202e``; lines and tabs kept."""
    return _UNSAFE.sub(_escaped, text) if _UNSAFE.search(text) else text


def _json_escaped(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def visible_json(document: str) -> str:
    """A JSON document with the same characters written as ``\\u`` escapes: the same data.

    ``json.dumps`` escapes C0 control characters but not DEL, the C1 controls
    (U+009B starts a terminal command too) or direction controls.
    """
    return _UNSAFE.sub(_json_escaped, document) if _UNSAFE.search(document) else document
