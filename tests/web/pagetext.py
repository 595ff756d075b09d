"""Read one element of a rendered page by its id: its visible text (whitespace collapsed) and its attributes."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tests.web.words import visible_text

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Find(HTMLParser):
    def __init__(self, ident: str) -> None:
        super().__init__(convert_charrefs=False)
        self.ident = ident
        self.depth = 0
        self.attrs: dict[str, str | None] | None = None
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raw = self.get_starttag_text() or ""
        if self.depth:
            self.parts.append(raw)
            if tag not in _VOID:
                self.depth += 1
        elif dict(attrs).get("id") == self.ident and self.attrs is None:
            self.attrs = dict(attrs)
            self.depth = 0 if tag in _VOID else 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.parts.append(self.get_starttag_text() or "")
        elif dict(attrs).get("id") == self.ident and self.attrs is None:
            self.attrs = dict(attrs)

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1
            if self.depth:
                self.parts.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.parts.append(data)

    def handle_entityref(self, name: str) -> None:
        if self.depth:
            self.parts.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        if self.depth:
            self.parts.append(f"&#{name};")


def _find(html: str | bytes, ident: str) -> _Find:
    if isinstance(html, bytes):
        html = html.decode()
    f = _Find(ident)
    f.feed(html)
    f.close()
    assert f.attrs is not None, f"no element with id={ident!r} on the page"
    return f


def text_of(html: str | bytes, ident: str) -> str:
    """The visible text of the element with this id (fails when there is none)."""
    return visible_text("".join(_find(html, ident).parts))


def attrs_of(html: str | bytes, ident: str) -> dict[str, str | None]:
    return dict(_find(html, ident).attrs or {})


def has_id(html: str | bytes, ident: str) -> bool:
    if isinstance(html, bytes):
        html = html.decode()
    return re.search(rf'\bid="{re.escape(ident)}"', html) is not None
