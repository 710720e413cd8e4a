"""Stored text as fieldcase shows it: control characters escaped.

:func:`visible`: whatever fieldcase shows of stored text (in a terminal, a
workbook, a rejects file) has its control characters and direction
overrides escaped (``\\x1b``). So a stored escape sequence cannot clear a
screen, ring a bell or reverse a line.
"""

from __future__ import annotations

import re

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
