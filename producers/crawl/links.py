"""What a crawled page says about itself: its links, its canonical URL, its robots meta."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

from producers.crawl.urls import UnsupportedUrl, canonical_url


@dataclass
class PageLinks:
    links: list[str] = field(default_factory=list)
    canonical: str | None = None
    title: str = ""
    noindex: bool = False
    nofollow: bool = False


class _LinkParser(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.page = PageLinks()
        self._in_title = False

    def _resolve(self, href: str | None) -> str | None:
        if not href or href.startswith(("mailto:", "javascript:", "tel:", "data:")):
            return None
        try:
            return canonical_url(href, self.base)
        except (UnsupportedUrl, ValueError):
            return None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): value or "" for name, value in attrs}
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
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.page.title += data


def page_links(html: str, base: str) -> PageLinks:
    """Canonical absolute links in document order, without duplicates."""
    parser = _LinkParser(base)
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # a parser bug must not fail the page; keep what was read
        pass
    page = parser.page
    page.links = list(dict.fromkeys(page.links))
    page.title = " ".join(page.title.split())
    if page.nofollow:
        page.links = []
    return page
