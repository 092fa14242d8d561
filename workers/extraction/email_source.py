"""The document an extraction reads: plain text, or an RFC 822 email reduced to text.

Kept small on purpose: the body is the first ``text/plain`` part (else HTML with the tags
stripped), headers that matter to grounding (From, Subject, Date) are kept, attachments
are ignored. The producers' email parser does the full job for mailboxes.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date, datetime
from email import message_from_string, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

MAX_SOURCE_CHARS = 12000


@dataclass(frozen=True)
class SourceDocument:
    """What the model reads and what grounding checks against."""

    text: str
    message_date: date | None = None
    sender: str | None = None
    subject: str | None = None


class UnreadableEmail(ValueError):
    """The input claims to be an email but has no readable text body."""


def from_text(text: str, *, received_at: datetime | date | None = None) -> SourceDocument:
    day = received_at.date() if isinstance(received_at, datetime) else received_at
    return SourceDocument(text=text[:MAX_SOURCE_CHARS], message_date=day)


def from_email(raw: str, *, received_at: datetime | date | None = None) -> SourceDocument:
    message = message_from_string(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    body = _body(message)
    if body is None:
        raise UnreadableEmail("the email has no text/plain or text/html body")
    sender = str(message.get("From", "")) or None
    subject = str(message.get("Subject", "")) or None
    sent = _date(str(message.get("Date", "")))
    day = sent or (received_at.date() if isinstance(received_at, datetime) else received_at)
    header = []
    if sender:
        header.append(f"From: {sender}")
    if subject:
        header.append(f"Subject: {subject}")
    if sent:
        header.append(f"Date: {sent.isoformat()}")
    text = "\n".join(header) + ("\n\n" if header else "") + body.strip()
    return SourceDocument(text=text[:MAX_SOURCE_CHARS], message_date=day, sender=sender,
                          subject=subject)


def _body(message: EmailMessage) -> str | None:
    part = message.get_body(preferencelist=("plain",))
    if part is not None:
        return str(part.get_content())
    part = message.get_body(preferencelist=("html",))
    if part is not None:
        return _strip_html(str(part.get_content()))
    return None


def _strip_html(markup: str) -> str:
    markup = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", markup)
    markup = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", markup)
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def _date(value: str) -> date | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).date()
    except (TypeError, ValueError):
        return None
