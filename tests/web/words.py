"""A check that a rendered page speaks to people in words: no internal codes in the text a person reads.

`visible_text(html)` keeps what a reader sees (text nodes, the labels of buttons, placeholders) and drops what
they do not (tags' attributes such as title= tooltips, <script>, <style>, <template>); `raw_codes(text)` lists
what a reader should never meet: snake_case codes, UCUM units in brackets (mm[Hg]), durations as raw seconds
("5400 s") and references into the repository's files ("clinical.md §6"). `assert_human_text(html)` fails
naming each one with the text around it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_HIDDEN = {"script", "style", "template", "noscript"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

#: What a reader should never meet, by name (the name appears in the failure).
RULES: dict[str, re.Pattern[str]] = {
    # word_word, also with digits (item_1); an e-mail address or a URL is not a code.
    "snake_case code": re.compile(r"(?<![\w@/.:-])[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+(?![\w@-]|\.\w)"),
    "UCUM code in brackets": re.compile(r"[A-Za-z0-9/]+\[[A-Za-z_%.]+\]"),
    "duration in raw seconds": re.compile(r"\b(?:[6-9]\d|\d{3,})\s?(?:s|sec|secs|seconds)\b"),
    "reference to a repository file": re.compile(
        r"\b[\w./-]+\.(?:md|ya?ml|py|csv)\b(?:\s*§\s*[\d.]+)?", re.IGNORECASE
    ),
}


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden_depth += 1
            return
        if self._hidden_depth:
            return
        a = dict(attrs)
        if (
            tag == "input"
            and (a.get("type") or "").lower() in {"submit", "button", "reset"}
            and a.get("value")
        ):
            self.parts.append(f" {a['value']} ")
        if tag in {"input", "textarea"} and a.get("placeholder"):
            self.parts.append(f" {a['placeholder']} ")
        if tag not in _VOID:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden_depth = max(0, self._hidden_depth - 1)
            return
        if not self._hidden_depth:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """The text a reader sees on the page, whitespace collapsed."""
    parser = _Visible()
    parser.feed(html)
    parser.close()
    return re.sub(r"\s+", " ", "".join(parser.parts)).strip()


def raw_codes(text: str) -> list[str]:
    """Each code found in `text`, as 'rule: "match" in "...context..."'."""
    found = []
    for name, pattern in RULES.items():
        for m in pattern.finditer(text):
            context = text[max(0, m.start() - 40) : m.end() + 40]
            found.append(f'{name}: "{m.group(0)}" in "…{context}…"')
    return found


def assert_human_text(html: str | bytes, *, where: str = "page") -> None:
    """Fail when the visible text of `html` holds a code a person should not have to read."""
    if isinstance(html, bytes):
        html = html.decode()
    found = raw_codes(visible_text(html))
    assert not found, f"{where} shows codes instead of words:\n  " + "\n  ".join(found)
