"""An email's readable attachments as child documents of the message, linked both ways.

Each PDF, DOCX or text attachment (:func:`libs.files.attachments.attached_files`) becomes a
warehouse document of its own, ``doc_id`` ``<message key>/attachment/<n>``, whose metadata
names its parent (``parent_document_id``); the message's metadata lists its children
(``attachment_documents``). Each is embedded like any document, so search finds it and
cites its file and page. The extract job of the message gets each attachment's text (read
here, in a bounded child process) as ``input.attachments``: the acceptance gate sees them
as ``attachment`` regions, which a schema field may allow.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from celery import Celery

from libs.documents.warehouse import DocumentStore, document_id, put_document
from libs.files.attachments import AttachedFile, attached_files, attachment_text
from libs.files.bounded import limits_of
from libs.files.reading import UnreadableFile
from sluice.settings import Settings
from sluice.stores import JobStore


@dataclass(frozen=True)
class Child:
    attached: AttachedFile
    doc_id: str
    document_id: str

    def link(self) -> dict[str, Any]:
        """How the parent names this child in its metadata."""
        return {"document_id": self.document_id, "doc_id": self.doc_id,
                "filename": self.attached.filename,
                "content_type": self.attached.content_type.value}


def children_of(raw: bytes, *, source: str, key: str, settings: Settings) -> list[Child]:
    """The message's readable attachments and the warehouse ids they will have."""
    children = []
    for attached in attached_files(raw, max_bytes=settings.files_max_bytes):
        doc_id = f"{key}/attachment/{attached.index}"
        children.append(Child(attached, doc_id, document_id(source, doc_id)))
    return children


def store_children(
    children: list[Child],
    *,
    parent_id: str,
    source: str,
    documents: DocumentStore,
    store: JobStore,
    celery: Celery,
    settings: Settings,
) -> list[dict[str, Any]]:
    """Write each child (its embed job queued when new); returns what the extract job
    reads of them: name, id, and the text, or why there is none."""
    read: list[dict[str, Any]] = []
    limits = limits_of(settings)
    for child in children:
        attached = child.attached
        content = (base64.b64encode(attached.data).decode() if attached.content_type.is_file
                   else attached.data.decode("utf-8-sig", errors="replace"))
        put_document(
            documents, store=store, celery=celery, settings=settings, source=source,
            doc_id=child.doc_id, content=content, content_type=attached.content_type,
            metadata={"filename": attached.filename, "size": len(attached.data),
                      "parent_document_id": parent_id, "attachment_index": attached.index},
        )
        entry: dict[str, Any] = child.link()
        try:
            text = attachment_text(attached, limits).text
        except UnreadableFile as exc:
            entry["error"] = exc.reason
        else:
            entry["text"] = text[: settings.email_max_text_chars]
        read.append(entry)
    return read
