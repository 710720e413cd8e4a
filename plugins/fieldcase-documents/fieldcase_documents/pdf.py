"""An A4 page set in the document font, with the small pieces every document draws."""

from __future__ import annotations

from collections.abc import Sequence

from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos
from fpdf.fonts import FontFace, TTFFont

from .fonts import document_font, printable

#: The family name the document font is registered under.
FAMILY = "document"
#: Hashes and ids: a monospaced PDF core font (no embedding; ASCII is all it sets).
MONO = "Courier"
MARGIN = 15
GREY = (110, 110, 110)
RULE = (200, 200, 200)
WARN = (170, 30, 30)


class Document(FPDF):
    """An A4 document in the document font; ``footer_text`` and the page number at the foot."""

    def __init__(self, footer_text: str = "") -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.add_font(FAMILY, "", str(document_font()))
        font = self.fonts[FAMILY]
        assert isinstance(font, TTFFont)
        #: The characters the font has glyphs for.
        self.glyphs = frozenset(font.cmap)
        self.footer_text = footer_text
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=MARGIN)
        self.set_creator("fieldcase-documents")
        self.set_font(FAMILY, size=10)

    def text_of(self, value: object) -> str:
        """``value`` as text the font can set (see :func:`fieldcase_documents.fonts.printable`)."""
        return printable("" if value is None else str(value), self.glyphs)

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font(FAMILY, size=7)
        self.set_text_color(*GREY)
        self.cell(0, 4, self.text_of(self.footer_text), align="L")
        self.set_x(self.l_margin)
        self.cell(0, 4, f"{self.page_no()}/{{nb}}", align="R")
        self.set_text_color(0)

    def heading(self, title: str, size: float = 12) -> None:
        """A section's title with a rule under it; a new page first if it would end one."""
        if self.get_y() > self.page_break_trigger - 25:
            self.add_page()
        self.ln(2)
        self.set_font(FAMILY, size=size)
        self.cell(0, 6, self.text_of(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(*RULE)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(1.5)
        self.set_font(FAMILY, size=9)

    def paragraph(
        self, text: str, size: float = 9, colour: tuple[int, int, int] = (0, 0, 0)
    ) -> None:
        self.set_font(FAMILY, size=size)
        self.set_text_color(*colour)
        self.multi_cell(
            0, size * 0.5, self.text_of(text), wrapmode=WrapMode.WORD, align="L",
            new_x=XPos.LMARGIN, new_y=YPos.NEXT,
        )  # fmt: skip
        self.set_text_color(0)

    def fields(self, pairs: Sequence[tuple[str, object]], columns: int = 2) -> None:
        """Labelled values, ``columns`` pairs to a row; empty values left out."""
        shown = [(label, value) for label, value in pairs if value not in (None, "")]
        if not shown:
            return
        width = self.w - self.l_margin - self.r_margin
        label_width = 30.0
        value_width = width / columns - label_width
        widths = (label_width, value_width) * columns
        label_face = FontFace(color=GREY, size_pt=8)
        with self.table(
            col_widths=widths, width=width, first_row_as_headings=False,
            borders_layout="NONE", line_height=4.6, wrapmode=WrapMode.WORD,
            text_align="LEFT", padding=(0.4, 1, 0.4, 0),
        ) as table:  # fmt: skip
            for start in range(0, len(shown), columns):
                row = table.row()
                for label, value in shown[start : start + columns]:
                    row.cell(self.text_of(label), style=label_face)
                    row.cell(self.text_of(value))
                for _ in range(columns - len(shown[start : start + columns])):
                    row.cell("")
                    row.cell("")

    def grid(
        self,
        headings: Sequence[str],
        rows: Sequence[Sequence[object]],
        widths: Sequence[float],
        *,
        size: float = 8,
        family: str = FAMILY,
    ) -> None:
        """A table with a row of headings and a rule under each row."""
        self.set_font(family, size=size)
        heading_face = FontFace(family=FAMILY, color=GREY, size_pt=size - 0.5)
        with self.table(
            col_widths=tuple(widths), width=sum(widths), align="LEFT",
            borders_layout="HORIZONTAL_LINES", line_height=size * 0.5, wrapmode=WrapMode.WORD,
            text_align="LEFT", headings_style=heading_face, padding=(0.6, 1, 0.6, 1),
        ) as table:  # fmt: skip
            table.row([self.text_of(h) for h in headings])
            for values in rows:
                table.row([self.text_of(v) for v in values])
        self.set_font(FAMILY, size=9)
