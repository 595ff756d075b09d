"""Printable registers and inventories: PDF (fpdf2) and CSV renderings of the ledger selectors' output."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from ketaclinic.core.ledger import Register, register_csv
from ketaclinic.web.clinics.models import Site
from ketaclinic.web.ledger.selectors import InventoryLine, _tz

_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"),)


def _num(q: Decimal) -> str:
    text = format(q.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


class _Pdf:
    """A landscape A4 table writer with a Unicode font when one is installed (else Latin-1 core font)."""

    def __init__(self, title: str, subtitle: list[str]) -> None:
        from fpdf import FPDF

        self.pdf = FPDF(orientation="L", unit="mm", format="A4")
        self.pdf.set_auto_page_break(auto=True, margin=12)
        self.pdf.set_title(title)
        self.unicode = False
        for d in _FONT_DIRS:
            regular, bold = d / "DejaVuSans.ttf", d / "DejaVuSans-Bold.ttf"
            if regular.exists() and bold.exists():
                self.pdf.add_font("kc", "", str(regular))
                self.pdf.add_font("kc", "B", str(bold))
                self.unicode = True
                break
        self.family = "kc" if self.unicode else "helvetica"
        self.title = title
        self.subtitle = subtitle
        self.pdf.add_page()
        self._heading()

    def text(self, s: str) -> str:
        return s if self.unicode else s.encode("latin-1", "replace").decode("latin-1")

    def _heading(self) -> None:
        self.pdf.set_font(self.family, "B", 12)
        self.pdf.multi_cell(0, 6, self.text(self.title), new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font(self.family, "", 9)
        for line in self.subtitle:
            self.pdf.multi_cell(0, 5, self.text(line), new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(2)

    def table(
        self, headers: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[int] | None = None
    ) -> None:
        self.pdf.set_font(self.family, "", 7)
        with self.pdf.table(
            col_widths=tuple(widths) if widths else None,
            text_align="LEFT",
            line_height=3.6,
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

    def line(self, s: str, *, bold: bool = False) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", 9)
        self.pdf.multi_cell(0, 5, self.text(s), new_x="LMARGIN", new_y="NEXT")

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def _site_line(site: Site) -> str:
    regs = "; ".join(f"{r.get_kind_display()} {r.number}" for r in site.registrations.all())
    addr = ", ".join(x for x in (site.address_line, site.city, site.region, site.postal_code) if x)
    return f"{site.clinic.name}: {site.name}{', ' + addr if addr else ''}{' | ' + regs if regs else ''}"


def register_pdf(register: Register, *, site: Site) -> bytes:
    tz = _tz(site)
    period = (
        f"Period: {register.start.astimezone(tz):%Y-%m-%d %H:%M} to {register.end.astimezone(tz):%Y-%m-%d %H:%M} "
        f"({tz.key})"
    )
    doc = _Pdf(
        register.title,
        [
            _site_line(site),
            f"Drug, form and strength: {register.heading}",
            period,
            f"Quantities in {register.unit}. Entries are chained by SHA-256 and cannot be edited.",
        ],
    )
    doc.line(f"Opening balance: {_num(register.opening_balance)} {register.unit}", bold=True)
    if register.rows:
        doc.table(register.headers, [r.cells for r in register.rows])
    else:
        doc.line("No entries in this period.")
    doc.line(f"Closing balance: {_num(register.closing_balance)} {register.unit}", bold=True)
    return doc.output()


def register_csv_bytes(register: Register) -> bytes:
    return register_csv(register).encode("utf-8")


INVENTORY_HEADERS = (
    "Product (name, form, strength)",
    "Code",
    "Lot / expiry",
    "Location",
    "Units per container",
    "Quantity counted",
    "Containers",
    "Book balance",
    "Counted at",
    "Inventory",
    "Opening / close",
    "Counted by",
)


def _inventory_rows(lines: Sequence[InventoryLine], site: Site) -> list[list[str]]:
    tz = _tz(site)
    return [
        [
            f"{ln.product.name}, {ln.product.form}, {ln.product.strength_label}",
            f"{ln.product.get_code_system_display()} {ln.product.code}",
            f"{ln.lot.lot_number} exp {ln.lot.expires_on.isoformat()}",
            ln.location.name,
            f"{_num(ln.product.container_size)} {ln.product.unit}",
            f"{_num(ln.counted)} {ln.product.unit}",
            _num(ln.containers.quantize(Decimal("0.01"))),
            "" if ln.expected is None else f"{_num(ln.expected)} {ln.product.unit}",
            f"{ln.counted_at.astimezone(tz):%Y-%m-%d %H:%M}",
            ln.kind,
            ln.timing,
            ln.counted_by,
        ]
        for ln in lines
    ]


def inventory_csv(lines: Sequence[InventoryLine], *, site: Site, title: str) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([title])
    w.writerow([_site_line(site)])
    w.writerow(INVENTORY_HEADERS)
    w.writerows(_inventory_rows(lines, site))
    return buf.getvalue().encode("utf-8")


def inventory_pdf(lines: Sequence[InventoryLine], *, site: Site, title: str) -> bytes:
    doc = _Pdf(
        title,
        [_site_line(site), "21 CFR 1304.11: Schedule III open containers by estimated count or measure."],
    )
    if lines:
        doc.table(INVENTORY_HEADERS, _inventory_rows(lines, site))
    else:
        doc.line("No inventory counts recorded in this period.")
    return doc.output()
