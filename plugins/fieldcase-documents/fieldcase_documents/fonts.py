"""The font documents are set in, and text made printable in it.

Noto Sans SC (package pylopdf-fonts-zh-cn, SIL OFL 1.1) covers Chinese and
Latin text; ``FIELDCASE_CJK_FONT=/path/font.otf`` (or .ttf) sets another.
fpdf2 embeds only the glyphs a document uses. A character the font has no
glyph for would vanish from the page without a word: currency signs are
written as their ISO codes instead (₹ as INR), anything else as "?".
"""

from __future__ import annotations

import os
from collections.abc import Container
from importlib import resources
from pathlib import Path

from fieldcase.errors import FieldcaseError

#: The variable that names a font file to use instead of the bundled one.
FONT_VARIABLE = "FIELDCASE_CJK_FONT"

#: The package that ships the default font, and the font's file in it.
FONT_PACKAGE = "pylopdf_fonts_zh_cn"
FONT_FILE = "NotoSansSC-Regular.otf"

#: Currency signs by the ISO code written when the font lacks the sign.
CURRENCY_SIGNS = {
    "₹": "INR",
    "₱": "PHP",
    "฿": "THB",
    "₦": "NGN",
    "₺": "TRY",
    "₴": "UAH",
    "₸": "KZT",
    "₼": "AZN",
    "₾": "GEL",
    "₵": "GHS",
    "₲": "PYG",
    "₡": "CRC",
    "₭": "LAK",
    "₮": "MNT",
    "₪": "ILS",
    "৳": "BDT",
    "₽": "RUB",
}


class FontMissing(FieldcaseError):
    """No font to set Chinese text in."""


def document_font() -> Path:
    """The font file: ``FIELDCASE_CJK_FONT``, else the bundled Noto Sans SC."""
    named = os.environ.get(FONT_VARIABLE, "").strip()
    if named:
        path = Path(named)
        if not path.is_file() or path.suffix.lower() not in (".otf", ".ttf"):
            raise FontMissing(
                f"{FONT_VARIABLE}={named} is not an .otf or .ttf font file; name one, or unset "
                f"it to use Noto Sans SC from pylopdf-fonts-zh-cn"
            )
        return path
    try:
        bundled = resources.files(FONT_PACKAGE) / FONT_FILE
    except ModuleNotFoundError:
        bundled = None
    if bundled is not None and bundled.is_file():
        return Path(str(bundled))
    raise FontMissing(
        "no font for Chinese text: install one with 'pip install pylopdf-fonts-zh-cn', "
        f"or set {FONT_VARIABLE}=/path/to/font.otf (a font with CJK glyphs)"
    )


def printable(text: str, glyphs: Container[int]) -> str:
    """``text`` with each character the font has no glyph for written another way:
    a currency sign as its code, a control or other character as "?"."""
    if all(ord(c) in glyphs or c in "\n\t" for c in text):
        return text
    shown = []
    for char in text:
        if ord(char) in glyphs or char == "\n":
            shown.append(char)
        elif char == "\t":
            shown.append(" ")
        elif char in CURRENCY_SIGNS:
            shown.append(CURRENCY_SIGNS[char] + " ")
        else:
            shown.append("?")
    return "".join(shown)
