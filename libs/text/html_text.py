"""HTML to plain text, for mail bodies and crawled pages: trafilatura first, a tag stripper
when it finds nothing.

trafilatura looks for an article and returns None for short or odd markup (a two-line
HTML-only mail is common); the fallback keeps every text node but scripts and styles, so a
message is never sent to extraction empty just because it was not shaped like a web page.
"""

from __future__ import annotations

from html.parser import HTMLParser

import structlog
import trafilatura

log = structlog.get_logger(__name__)

SKIPPED_TAGS = frozenset({"script", "style", "head", "title", "noscript", "template"})
BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote",
     "pre", "section", "article", "hr"}
)


class _TextCollector(HTMLParser):
    def __init__(self, dropped: frozenset[str]) -> None:
        super().__init__(convert_charrefs=True)
        self._dropped = SKIPPED_TAGS | dropped
        self._depth = 0
        self.pieces: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._dropped:
            self._depth += 1
        elif tag in BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._dropped:
            self._depth = max(0, self._depth - 1)
        elif tag in BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._depth:
            self.pieces.append(data)


def strip_tags(html: str, *, drop: frozenset[str] = frozenset()) -> str:
    """Every text node outside scripts, styles and the ``drop`` tags, lines tidied."""
    collector = _TextCollector(drop)
    try:
        collector.feed(html)
        collector.close()
    except Exception:  # HTMLParser is lenient, but a parser bug must not lose the message
        log.warning("html tag stripper failed; keeping what it read")
    lines = (" ".join(line.split()) for line in "".join(collector.pieces).splitlines())
    return "\n".join(line for line in lines if line)


def html_to_text(html: str, *, drop_quotes: bool = False) -> str:
    """Readable text of an HTML body; ``drop_quotes`` leaves out ``<blockquote>`` replies."""
    if drop_quotes:
        # trafilatura has no notion of quoted replies; the stripper drops them by tag.
        return strip_tags(html, drop=frozenset({"blockquote"}))
    try:
        # fast: no justext/readability second opinion, which costs ~40 ms a page and
        # rarely changes a mail body; the tag stripper below is the fallback instead.
        text = trafilatura.extract(
            html, include_comments=False, include_tables=True, favor_recall=True, fast=True
        )
    except Exception:  # trafilatura raises on some malformed documents
        log.warning("trafilatura failed on an HTML body; falling back to the tag stripper")
        text = None
    return text.strip() if text and text.strip() else strip_tags(html)
