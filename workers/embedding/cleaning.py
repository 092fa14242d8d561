"""Raw document -> the text that gets chunked: HTML through trafilatura, emails parsed."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage

import trafilatura

from libs.documents.warehouse import ContentType

_BLANK_RUNS = re.compile(r"\n{3,}")


def html_to_text(html: str) -> str:
    """The main text of a page (boilerplate, navigation and scripts dropped).

    trafilatura returns None for pages it finds no main content in; the page's visible
    text is better than nothing then, so fall back to a plain tag strip of it.
    """
    text = trafilatura.extract(
        html, include_comments=False, include_tables=True, favor_recall=True
    )
    if text:
        return text
    stripped = re.sub(r"(?is)<(script|style)[^>]*>.*?</\1>", " ", html)
    stripped = re.sub(r"(?s)<[^>]+>", " ", stripped)
    return re.sub(r"[ \t]+", " ", stripped).strip()


def email_to_text(raw: str) -> str:
    """Subject and body of an RFC 822 message; an HTML-only body is cleaned like a page."""
    message = email.message_from_string(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    subject = str(message.get("Subject", "")).strip()
    body = message.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        content = body.get_content()
        text = html_to_text(content) if body.get_content_type() == "text/html" else content
    return f"{subject}\n\n{text}".strip() if subject else text.strip()


def clean(content: str, content_type: ContentType) -> str:
    if content_type is ContentType.HTML:
        text = html_to_text(content)
    elif content_type is ContentType.EMAIL:
        text = email_to_text(content)
    else:
        text = content
    return _BLANK_RUNS.sub("\n\n", text.replace("\r\n", "\n")).strip()
