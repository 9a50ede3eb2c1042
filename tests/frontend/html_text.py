"""Read the text of an element by id from rendered HTML (stdlib only)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


class _ElementText(HTMLParser):
    def __init__(self, element_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.element_id = element_id
        self.depth = 0
        self.found = False
        self.parts: list[str] = []
        self.attrs: dict[str, str | None] = {}

    def handle_starttag(self, tag, attrs):
        if self.depth:
            self.depth += tag not in VOID
        elif dict(attrs).get("id") == self.element_id:
            self.found, self.attrs = True, dict(attrs)
            self.depth = 0 if tag in VOID else 1

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def element(html: str, element_id: str) -> tuple[str, dict[str, str | None]] | None:
    """Return (whitespace-collapsed text, attributes) of the element, None when absent."""
    parser = _ElementText(element_id)
    parser.feed(html)
    if not parser.found:
        return None
    return re.sub(r"\s+", " ", "".join(parser.parts)).strip(), parser.attrs


def text_of(html: str, element_id: str) -> str:
    """Return the text of the element with ``element_id``; AssertionError when absent."""
    found = element(html, element_id)
    assert found is not None, f"no element with id {element_id!r}"
    return found[0]
