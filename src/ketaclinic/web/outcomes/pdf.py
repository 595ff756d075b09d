"""A small portrait A4 PDF writer (fpdf2) for outcome reports: headings, paragraphs, tables and vector charts.

Uses DejaVu Sans when installed (every character prints), else the Latin-1 core font with replacements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


class ReportPdf:
    def __init__(self, title: str, subtitle: Sequence[str]) -> None:
        from fpdf import FPDF

        self.pdf = FPDF(orientation="P", unit="mm", format="A4")
        self.pdf.set_auto_page_break(auto=True, margin=14)
        self.pdf.set_title(title)
        self.pdf.set_creator("ketaclinic")
        regular, bold = _FONT_DIR / "DejaVuSans.ttf", _FONT_DIR / "DejaVuSans-Bold.ttf"
        self.unicode = regular.exists() and bold.exists()
        if self.unicode:
            self.pdf.add_font("kc", "", str(regular))
            self.pdf.add_font("kc", "B", str(bold))
        self.family = "kc" if self.unicode else "helvetica"
        self.pdf.add_page()
        self.pdf.set_font(self.family, "B", 14)
        self.pdf.multi_cell(0, 7, self.text(title), new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font(self.family, "", 9)
        for line in subtitle:
            self.pdf.multi_cell(0, 4.6, self.text(line), new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(2)

    def text(self, s: str) -> str:
        return s if self.unicode else s.encode("latin-1", "replace").decode("latin-1")

    def heading(self, s: str) -> None:
        self.pdf.ln(2)
        self.pdf.set_font(self.family, "B", 11)
        self.pdf.multi_cell(0, 6, self.text(s), new_x="LMARGIN", new_y="NEXT")

    def para(self, s: str, *, bold: bool = False, size: float = 9) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", size)
        self.pdf.multi_cell(0, 4.6, self.text(s), new_x="LMARGIN", new_y="NEXT")

    def table(
        self, headers: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float] | None = None
    ) -> None:
        self.pdf.set_font(self.family, "", 8)
        with self.pdf.table(
            col_widths=tuple(widths) if widths else None,
            text_align="LEFT",
            line_height=4,
            first_row_as_headings=True,
            repeat_headings=1,
        ) as table:
            head = table.row()
            for h in headers:
                head.cell(self.text(h))
            for r in rows:
                row = table.row()
                for c in r:
                    row.cell(self.text(c))
        self.pdf.ln(1)

    def line_chart(
        self,
        points: Sequence[tuple[float, float]],
        *,
        x_range: tuple[float, float],
        y_range: tuple[float, float],
        x_labels: Sequence[tuple[float, str]] = (),
        markers: Sequence[float] = (),
        threshold: tuple[float, str] | None = None,
        band: Sequence[tuple[float, float, float]] = (),
        height: float = 50,
    ) -> None:
        """A vector line chart: axes, optional band (x, lo, hi), dashed markers at x, a labelled threshold."""
        pdf = self.pdf
        if pdf.get_y() + height + 10 > pdf.h - pdf.b_margin:
            pdf.add_page()
        left, top = pdf.l_margin + 10, pdf.get_y() + 2
        width = pdf.w - pdf.l_margin - pdf.r_margin - 12
        (x0, x1), (y0, y1) = x_range, y_range

        def px(x: float) -> float:
            return left + width * (x - x0) / ((x1 - x0) or 1)

        def py(y: float) -> float:
            y = min(max(y, y0), y1)
            return top + height * (1 - (y - y0) / ((y1 - y0) or 1))

        pdf.set_font(self.family, "", 7)
        pdf.set_draw_color(120, 120, 120)
        pdf.set_line_width(0.2)
        pdf.line(left, top, left, top + height)
        pdf.line(left, top + height, left + width, top + height)
        for v in (y0, (y0 + y1) / 2, y1):
            pdf.text(pdf.l_margin, py(v) + 1, self.text(f"{v:g}"))
        for x, label in x_labels:
            pdf.text(px(x) - 4, top + height + 4, self.text(label))
        if len(band) > 1:
            pdf.set_fill_color(200, 225, 250)
            poly = [(px(x), py(hi)) for x, _, hi in band] + [(px(x), py(lo)) for x, lo, _ in reversed(band)]
            pdf.polygon(poly, style="F")
        pdf.set_draw_color(106, 27, 154)
        with pdf.local_context(dash_pattern={"dash": 1, "gap": 1}):
            for m in markers:
                pdf.line(px(m), top, px(m), top + height)
        if threshold is not None:
            value, label = threshold
            pdf.set_draw_color(46, 125, 50)
            with pdf.local_context(dash_pattern={"dash": 2, "gap": 1.5}):
                pdf.line(left, py(value), left + width, py(value))
            pdf.text(left + width - 40, py(value) - 1, self.text(label))
        pdf.set_draw_color(21, 101, 192)
        pdf.set_line_width(0.5)
        if len(points) > 1:
            pdf.polyline([(px(x), py(y)) for x, y in points])
        pdf.set_fill_color(21, 101, 192)
        for x, y in points:
            pdf.circle(px(x), py(y), 0.8, style="F")
        pdf.set_line_width(0.2)
        pdf.set_draw_color(0, 0, 0)
        pdf.set_y(top + height + 7)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def local_day(t: dt.datetime, tz: dt.tzinfo) -> str:
    return t.astimezone(tz).strftime("%Y-%m-%d")


def local_minute(t: dt.datetime, tz: dt.tzinfo) -> str:
    return t.astimezone(tz).strftime("%Y-%m-%d %H:%M")
