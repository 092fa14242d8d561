"""The files attached to an email that Sluice can read (PDF, DOCX, text), with their bytes.

:mod:`libs.text.email_parsing` lists every attachment by name, type and size; this walks the
same message again for the bytes of those whose content, sniffed, is a file Sluice reads and
whose size is within ``files_max_bytes``. Images, archives and oversized files stay listed
and nothing more. Used by the email intake (child documents in the warehouse) and by the
extraction worker (the attachments' text as regions of the message).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser, Parser

from libs.documents.model import ContentType
from libs.files.bounded import read_file
from libs.files.reading import FileText, Page, ReadLimits, UnreadableFile
from libs.files.sniffing import UnsupportedFile, sniff
from libs.text.email_parsing import BOUNDED_POLICY

# Attachments read per message: a message with hundreds of files is not read file by file.
MAX_ATTACHMENTS = 20


@dataclass(frozen=True)
class AttachedFile:
    index: int  # position among the message's readable attachments, from 0
    filename: str
    content_type: ContentType  # sniffed from the bytes
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def attached_files(raw: bytes | str, *, max_bytes: int) -> list[AttachedFile]:
    """The message's readable attachments, in order (at most :data:`MAX_ATTACHMENTS`)."""
    try:
        message = (BytesParser(policy=BOUNDED_POLICY).parsebytes(raw) if isinstance(raw, bytes)
                   else Parser(policy=BOUNDED_POLICY).parsestr(raw))
        parts = [part for part in message.walk() if not part.is_multipart()]
    except Exception:  # an unwalkable message has no attachments we can name
        return []
    found: list[AttachedFile] = []
    for part in parts:
        if len(found) >= MAX_ATTACHMENTS:
            break
        if not _is_attachment(part):
            continue
        try:
            data = part.get_payload(decode=True)
            name = part.get_filename() or f"attachment-{len(found) + 1}"
        except Exception:
            continue
        if not isinstance(data, bytes) or not data or len(data) > max_bytes:
            continue
        try:
            kind = sniff(data, name)
        except UnsupportedFile:
            continue
        found.append(AttachedFile(len(found), name, kind, data))
    return found


def _is_attachment(part: Message) -> bool:
    disposition = (part.get("content-disposition") or "").split(";")[0].strip().lower()
    try:
        named = part.get_filename() is not None
    except Exception:
        named = False
    return disposition == "attachment" or (named and disposition != "inline")


def attachment_text(attached: AttachedFile, limits: ReadLimits) -> FileText:
    """The attachment's text: a file is read in a bounded child, text is decoded."""
    if attached.content_type.is_file:
        return read_file(attached.data, attached.content_type, limits)
    try:
        return FileText(pages=[Page(None, attached.data.decode("utf-8-sig"))])
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"the text is not UTF-8: {exc}") from None
