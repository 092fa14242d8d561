"""``POST /v1/documents`` as ``multipart/form-data``: a file, sniffed, sized and stored.

The form has ``file`` (the file), ``source``, and optionally ``doc_id`` and ``metadata`` (a
JSON object). What the file is comes from its bytes (:func:`libs.files.sniffing.sniff`),
not from its name or the part's declared type: a PDF or a DOCX is kept raw (base64) and read
into text by the embed job, page by page; a text or HTML file is stored as text. A file over
``SLUICE_FILES_MAX_BYTES`` is a 413, one Sluice cannot read a 415, both as problem details
that name the file; nothing is stored for either.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile

from libs.files.sniffing import UnsupportedFile, sniff
from sluice.settings import Settings

# Parts of the form other than the file: a source, an id, a small metadata object.
MAX_FIELD_BYTES = 64 * 1024
# What a multipart body may add to its file (boundaries, part headers, the other fields).
FORM_OVERHEAD_BYTES = 4 * MAX_FIELD_BYTES


class DocumentUpload(BaseModel):
    """The form of a file upload (``multipart/form-data``), as the OpenAPI shows it."""

    file: bytes = Field(json_schema_extra={"format": "binary"},
                        description="A PDF, DOCX, or UTF-8 text or HTML file.")
    source: str = Field(min_length=1, max_length=200)
    doc_id: str | None = Field(None, min_length=1, max_length=500,
                               description="Unset: a hash of the file.")
    metadata: str | None = Field(None, description="A JSON object stored with the document.")


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("body", field), "msg": message, "type": "value_error"}]
    )


async def read_upload(request: Request, settings: Settings) -> dict[str, Any]:
    """The upload as the fields of a JSON document request (content, type, metadata)."""
    try:
        form = await request.form(max_files=1, max_fields=8, max_part_size=MAX_FIELD_BYTES)
    except Exception as exc:  # python-multipart's and starlette's refusals alike
        raise HTTPException(status.HTTP_400_BAD_REQUEST,
                            detail=f"unreadable multipart body: {exc}") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise _invalid("file", "a file part named `file` is required")
    name = upload.filename or None
    data = await upload.read(settings.files_max_bytes + 1)
    if len(data) > settings.files_max_bytes:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            detail=f"file {name!r} is larger than {settings.files_max_bytes} bytes "
            f"(SLUICE_FILES_MAX_BYTES)",
        )
    if not data:
        raise _invalid("file", "the file is empty")
    try:
        kind = sniff(data, name)
    except UnsupportedFile as exc:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, detail=str(exc)) from None
    metadata = _metadata(form.get("metadata"))
    metadata.update(filename=name, size=len(data))
    content = base64.b64encode(data).decode() if kind.is_file else data.decode("utf-8-sig")
    return {"source": form.get("source"), "doc_id": form.get("doc_id") or None,
              "content": content, "content_type": kind.value, "metadata": metadata}


def _metadata(raw: Any) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    try:
        value = json.loads(str(raw))
    except ValueError:
        raise _invalid("metadata", "metadata must be a JSON object") from None
    if not isinstance(value, dict):
        raise _invalid("metadata", "metadata must be a JSON object")
    return value


def validated(model: type[BaseModel], fields: dict[str, Any] | bytes) -> Any:
    """``model`` from a form's fields or a JSON body, with 422s shaped like FastAPI's."""
    try:
        if isinstance(fields, bytes):
            return model.model_validate_json(fields)
        return model.model_validate(fields)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors) from None


def is_upload(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("multipart/form-data")


