"""Raw document -> the text that gets chunked: HTML and emails through libs/text."""

from __future__ import annotations

import re

from libs.documents.warehouse import ContentType
from libs.text.email_parsing import read_email
from libs.text.html_text import html_to_text

_BLANK_RUNS = re.compile(r"\n{3,}")


def email_to_text(raw: str) -> str:
    """Subject and body of an RFC 822 message; an HTML-only body is cleaned like a page."""
    content = read_email(raw)
    return f"{content.subject}\n\n{content.text}".strip() if content.subject else content.text


def clean(content: str, content_type: ContentType) -> str:
    if content_type is ContentType.HTML:
        text = html_to_text(content)
    elif content_type is ContentType.EMAIL:
        text = email_to_text(content)
    else:
        text = content
    return _BLANK_RUNS.sub("\n\n", text.replace("\r\n", "\n")).strip()
