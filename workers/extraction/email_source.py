"""The document an extraction reads: plain text, or an RFC 822 email reduced to text.

Kept small on purpose: the body is the first ``text/plain`` part (else the HTML's text),
headers that matter to grounding (From, Subject, Date) are kept; attached files' text is
carried beside the body (:func:`attachments_of`), never mixed into it.
The message is read by :func:`libs.text.email_parsing.read_email`, like everywhere else.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime

from libs.files.attachments import attached_files, attachment_text
from libs.files.bounded import limits_of
from libs.files.reading import UnreadableFile
from libs.text.email_parsing import read_email
from sluice.settings import Settings

MAX_SOURCE_CHARS = 12000


@dataclass(frozen=True)
class SourceDocument:
    """What the model reads and what grounding checks against."""

    text: str
    message_date: date | None = None
    sender: str | None = None
    subject: str | None = None
    # An email's body without the header lines ``text`` starts with (the acceptance gate
    # renders the headers itself); ``None`` for plain text, whose body is ``text``.
    body: str | None = None
    # (file name, text) of each readable file attached to the message.
    attachments: tuple[tuple[str, str], ...] = ()


class UnreadableEmail(ValueError):
    """The input claims to be an email but has no readable text body."""


def from_text(text: str, *, received_at: datetime | date | None = None) -> SourceDocument:
    day = received_at.date() if isinstance(received_at, datetime) else received_at
    return SourceDocument(text=text[:MAX_SOURCE_CHARS], message_date=day)


def from_email(raw: str, *, received_at: datetime | date | None = None) -> SourceDocument:
    content = read_email(raw)
    if content.plain is None and content.html is None:
        raise UnreadableEmail("the email has no text/plain or text/html body")
    sender = content.header("from") or None
    subject = content.subject or None
    sent = content.sent_at.date() if content.sent_at is not None else None
    day = sent or (received_at.date() if isinstance(received_at, datetime) else received_at)
    header = []
    if sender:
        header.append(f"From: {sender}")
    if subject:
        header.append(f"Subject: {subject}")
    if sent:
        header.append(f"Date: {sent.isoformat()}")
    text = "\n".join(header) + ("\n\n" if header else "") + content.text
    return SourceDocument(text=text[:MAX_SOURCE_CHARS], message_date=day, sender=sender,
                          subject=subject, body=content.text.strip()[:MAX_SOURCE_CHARS])


def attachments_of(raw: str, settings: Settings) -> tuple[tuple[str, str], ...]:
    """The text of a raw message's readable attachments, each read in a bounded child;
    one that cannot be read is left out (its own embed job says why)."""
    read = []
    for attached in attached_files(raw, max_bytes=settings.files_max_bytes):
        try:
            text = attachment_text(attached, limits_of(settings)).text
        except UnreadableFile:
            continue
        read.append((attached.filename, text[:MAX_SOURCE_CHARS]))
    return tuple(read)


def with_attachments(document: SourceDocument) -> SourceDocument:
    """The document as a schema-only extraction reads it: the attachments' text after the
    body, each under its file name, as the acceptance gate's source view renders them."""
    if not document.attachments:
        return document
    parts = [document.text, *(f"[Attachment: {' '.join(name.split())}]\n{text}"
                              for name, text in document.attachments)]
    return dataclasses.replace(document, text="\n\n".join(parts))
