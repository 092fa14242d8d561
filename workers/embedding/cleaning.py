"""Raw document -> the text that gets chunked: HTML and emails through libs/text, files
(PDF, DOCX) through libs/files, page by page, so each chunk knows its page."""

from __future__ import annotations

import base64
import binascii
import re

from libs.documents.warehouse import ContentType, Document
from libs.files.bounded import limits_of, read_file
from libs.files.reading import FileText, Page, UnreadableFile
from libs.text.email_parsing import read_email
from libs.text.html_text import html_to_text
from sluice.settings import Settings

_BLANK_RUNS = re.compile(r"\n{3,}")


def email_to_text(raw: str) -> str:
    """Subject and body of an RFC 822 message; an HTML-only body is cleaned like a page."""
    content = read_email(raw)
    return f"{content.subject}\n\n{content.text}".strip() if content.subject else content.text


def tidy(text: str) -> str:
    return _BLANK_RUNS.sub("\n\n", text.replace("\r\n", "\n")).strip()


def clean(content: str, content_type: ContentType) -> str:
    if content_type is ContentType.HTML:
        text = html_to_text(content)
    elif content_type is ContentType.EMAIL:
        text = email_to_text(content)
    else:
        text = content
    return tidy(text)


def file_bytes(document: Document) -> bytes:
    """A file document's raw bytes (the warehouse keeps them in base64)."""
    try:
        return base64.b64decode(document.content, validate=True)
    except (binascii.Error, ValueError):
        raise UnreadableFile("the stored file is not valid base64") from None


def sections(document: Document, settings: Settings) -> FileText:
    """The document's text in pages: a file's real pages, anything else one page-less
    section. :class:`UnreadableFile` when a file cannot be read (the caller dead-letters)."""
    if not document.content_type.is_file:
        return FileText(pages=[Page(None, clean(document.content, document.content_type))])
    read = read_file(file_bytes(document), document.content_type, limits_of(settings))
    return FileText(pages=[Page(page.number, tidy(page.text)) for page in read.pages],
                    needs_ocr=read.needs_ocr)
