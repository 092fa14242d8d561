"""What a crawled page says about itself: its links, its canonical URL, its robots meta.

Read from libxml2's tree (:func:`libs.text.html_text.parse_html`), linear in the page
whatever it holds; ``html.parser`` is quadratic on malformed markup before Python 3.13.6.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from libs.text.html_text import parse_html
from producers.crawl.urls import UnsupportedUrl, canonical_url


@dataclass
class PageLinks:
    links: list[str] = field(default_factory=list)
    canonical: str | None = None
    title: str = ""
    noindex: bool = False
    nofollow: bool = False


class _LinkReader:
    def __init__(self, base: str) -> None:
        self.base = base
        self.page = PageLinks()

    def _resolve(self, href: str | None) -> str | None:
        if not href or href.startswith(("mailto:", "javascript:", "tel:", "data:")):
            return None
        try:
            return canonical_url(href, self.base)
        except (UnsupportedUrl, ValueError):
            return None

    def element(self, tag: str, element: etree._Element) -> None:
        values = {str(name).lower(): str(value or "") for name, value in element.items()}
        if tag == "base" and values.get("href"):
            self.base = self._resolve(values["href"]) or self.base
        elif tag == "a":
            rel = values.get("rel", "").lower().split()
            link = self._resolve(values.get("href"))
            if link and "nofollow" not in rel:
                self.page.links.append(link)
        elif tag == "link" and "canonical" in values.get("rel", "").lower().split():
            self.page.canonical = self._resolve(values.get("href"))
        elif tag == "meta" and values.get("name", "").lower() in ("robots", "sluicebot"):
            directives = {d.strip().lower() for d in values.get("content", "").split(",")}
            self.page.noindex |= bool(directives & {"noindex", "none"})
            self.page.nofollow |= bool(directives & {"nofollow", "none"})
        elif tag == "title":
            self.page.title += "".join(element.itertext())


def page_links(html: str, base: str) -> PageLinks:
    """Canonical absolute links in document order, without duplicates."""
    reader = _LinkReader(base)
    root = parse_html(html)
    if root is not None:
        # Document order, so a <base> applies to the links after it, as in a browser.
        for element in root.iter("base", "a", "link", "meta", "title"):
            reader.element(str(element.tag), element)
    page = reader.page
    page.links = list(dict.fromkeys(page.links))
    page.title = " ".join(page.title.split())
    if page.nofollow:
        page.links = []
    return page
