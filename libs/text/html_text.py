"""HTML to plain text, for mail bodies, crawled pages and documents: trafilatura first, a
tag stripper when it finds nothing. Every package turns HTML into text through
:func:`html_to_text`; nothing else strips tags.

trafilatura looks for an article and returns None for short or odd markup (a two-line
HTML-only mail is common); the fallback keeps every text node but scripts and styles, so a
message is never sent to extraction empty just because it was not shaped like a web page.

Both steps run in time linear in the markup, whatever it holds: the HTML is untrusted
(mail, crawled pages, API input). The stripper walks libxml2's tree (lxml, which
trafilatura already uses); no regular expression and no ``html.parser`` (quadratic on
malformed input before Python 3.13.6) touches the markup. libxml2 stops nesting at
:data:`MAX_NESTING` levels; text nested deeper than that is not kept.
"""

from __future__ import annotations

import structlog
import trafilatura
from lxml import etree

log = structlog.get_logger(__name__)

SKIPPED_TAGS = frozenset({"script", "style", "head", "title", "noscript", "template"})
BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote",
     "pre", "section", "article", "hr"}
)
MAX_NESTING = 2048  # libxml2's depth limit with huge_tree (256 without it)
# Deeper elements lose their tags (their text stays) in :func:`shallow_markup`: an HTML5
# tree builder (nh3's html5ever) checks the stack of open elements on every tag, so deep
# nesting makes it quadratic. Real mail nests a few dozen levels.
MAX_MARKUP_DEPTH = 100
_FLATTENED = "sluice-flattened"


def parse_html(html: str) -> etree._Element | None:
    """libxml2's tree of ``html`` (linear time, lenient, comments dropped); None if empty."""
    # Bytes with a declared encoding: a str carrying its own <?xml encoding?> would be
    # refused by lxml. huge_tree lifts the 10 MB text-node and 256-level limits; the HTML
    # parser expands no entities, so it opens no entity-expansion attack.
    parser = etree.HTMLParser(
        encoding="utf-8", recover=True, no_network=True, remove_comments=True,
        remove_pis=True, huge_tree=True,
    )
    try:
        return etree.fromstring(html.encode("utf-8", "replace"), parser)
    except etree.LxmlError:  # "Document is empty" and friends
        return None


def shallow_markup(html: str, *, max_depth: int = MAX_MARKUP_DEPTH) -> str:
    """``html`` re-serialised well-formed, without tags nested deeper than ``max_depth``.

    For HTML that goes on to an HTML5 parser (the dashboard's sanitizer): linear here, and
    linear there once no element is deep. Text is kept; comments are dropped.
    """
    root = parse_html(html)
    if root is None:
        return ""
    depth = 0
    deep: list[etree._Element] = []
    for event, element in etree.iterwalk(root, events=("start", "end")):
        if event == "end":
            depth -= 1
            continue
        depth += 1
        if depth > max_depth:
            deep.append(element)
    for element in deep:
        element.tag = _FLATTENED
    if deep:
        etree.strip_tags(root, _FLATTENED)  # children and text move up into the parent
    return str(etree.tostring(root, method="html", encoding="unicode"))


def strip_tags(html: str, *, drop: frozenset[str] = frozenset()) -> str:
    """Every text node outside scripts, styles and the ``drop`` tags, lines tidied."""
    root = parse_html(html)
    if root is None:
        return ""
    dropped = SKIPPED_TAGS | drop
    pieces: list[str] = []
    hidden = 0  # how many dropped elements we are inside
    for event, element in etree.iterwalk(root, events=("start", "end")):
        tag = element.tag if isinstance(element.tag, str) else ""
        if event == "start":
            if tag in dropped:
                hidden += 1
            elif not hidden:
                if tag in BLOCK_TAGS:
                    pieces.append("\n")
                pieces.append(element.text or "")
            continue
        if tag in dropped:
            hidden -= 1
        elif not hidden and tag in BLOCK_TAGS:
            pieces.append("\n")
        if not hidden:
            pieces.append(element.tail or "")
    lines = (" ".join(line.split()) for line in "".join(pieces).splitlines())
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
