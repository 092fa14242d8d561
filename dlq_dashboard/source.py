"""The original email or page, made safe to look at.

HTML is re-serialised with its nesting bounded (linear time on hostile markup), then
cleaned by an allow-list sanitizer (``nh3``, the Rust ``ammonia`` library: no
scripts, no event handlers, no ``javascript:`` URLs, no forms or frames) and then shown in
an ``<iframe sandbox="" srcdoc="...">``: the empty sandbox forbids scripts, forms, popups
and top navigation even if something slipped through, and the document carries its own
Content-Security-Policy that forbids every fetch (remote images are tracking pixels);
image sources other than inline ``data:`` ones are removed before that, so nothing
depends on the browser reading the policy in time.
Text is escaped into a ``<pre>``. Jinja escapes the whole document once more into the
``srcdoc`` attribute.
"""

from __future__ import annotations

import dataclasses
import html
from dataclasses import dataclass
from typing import Any

import nh3

from libs.text.email_parsing import EmailContent, read_email
from libs.text.html_text import shallow_markup
from schemas.job import Job

FRAME_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
RAW_EMAIL_KEYS = ("email", "raw_email", "message", "rfc822")
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}


@dataclass(frozen=True)
class SourceView:
    kind: str  # email | html | text | none
    subject: str | None
    sender: str | None
    date: str | None
    url: str | None
    document: str  # a whole HTML document for srcdoc, already sanitized
    # The message's attached files: filename, content_type, document_id, text or error.
    attachments: tuple[dict[str, Any], ...] = ()


def _drop_fetching_sources(element: str, attribute: str, value: str) -> str | None:
    # The frame's CSP already forbids fetches, but Chromium's preload scanner can issue a
    # request before it reads the <meta> policy: a source that could fetch is removed here.
    if attribute in {"src", "srcset"} and not value.lower().startswith("data:image/"):
        return None
    return value


def sanitize_html(markup: str) -> str:
    # shallow_markup first: nh3's HTML5 parser is quadratic in nesting depth, lxml is not.
    return nh3.clean(
        shallow_markup(markup),
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        attribute_filter=_drop_fetching_sources,
    )


def _document(body: str) -> str:
    return (
        "<!doctype html><html><head><meta charset=\"utf-8\">"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{FRAME_CSP}\">"
        "</head><body>" + body + "</body></html>"
    )


def _text_body(text: str) -> str:
    # No <pre>: the page's CSP blocks inline styles, and unwrapped lines are unreadable.
    return "<div>" + html.escape(text).replace("\n", "<br>\n") + "</div>"


def _email_parts(raw: str) -> tuple[EmailContent, str]:
    content = read_email(raw)  # any charset: unknown ones decode with replacement characters
    if content.html is not None:
        return content, sanitize_html(content.html)
    if content.plain is not None:
        return content, _text_body(content.plain)
    return content, _text_body(raw)


def _first(values: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = values.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def source_view(job: Job) -> SourceView:
    view = _source_view(job)
    return dataclasses.replace(view, attachments=attachments_of(job))


def attachments_of(job: Job) -> tuple[dict[str, Any], ...]:
    """What the job says of the message's attachments: the producer's reading of each
    (``input.attachments``), else a raw message's attachment list (names, no text)."""
    listed = job.input.get("attachments")
    if isinstance(listed, list):
        return tuple(item for item in listed if isinstance(item, dict) and item.get("filename"))
    raw_email = _first(job.input, RAW_EMAIL_KEYS)
    if raw_email is None:
        return ()
    return tuple({"filename": item.filename or "(unnamed)", "content_type": item.content_type}
                 for item in read_email(raw_email).attachments)


def _source_view(job: Job) -> SourceView:
    data = job.input
    raw_email = _first(data, RAW_EMAIL_KEYS)
    if raw_email is not None:
        content, body = _email_parts(raw_email)
        return SourceView(
            "email",
            content.subject or None,
            content.header("from") or None,
            content.header("date") or None,
            None,
            _document(body),
        )
    url = _first(data, ("url",))
    markup = _first(data, ("html",))
    if markup is not None:
        document = _document(sanitize_html(markup))
        return SourceView("html", data.get("title"), None, None, url, document)
    text = _first(data, ("text", "body", "content"))
    if text is not None:
        sender = data.get("sender")
        return SourceView(
            "text", data.get("subject"), sender if isinstance(sender, str) else None, None, url,
            _document(_text_body(text)),
        )
    return SourceView("none", None, None, None, url, _document(_text_body("(no source text)")))


def source_text(job: Job) -> str:
    """The source as plain text, for the training export."""
    data = job.input
    raw_email = _first(data, RAW_EMAIL_KEYS)
    if raw_email is not None:
        return raw_email
    return _first(data, ("text", "body", "content", "html")) or ""
