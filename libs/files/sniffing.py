"""What a file is, from its bytes: the name and the declared type are only hints.

``filetype`` (MIT, no dependencies) reads the magic numbers, and tells a DOCX from any other
zip by its parts. A file with no magic number is text when it decodes as UTF-8 and holds no
NUL byte. Anything else is refused with the type that was found, so a PNG named
``invoice.pdf`` is a 415, not a parse error later.
"""

from __future__ import annotations

import filetype

from libs.documents.model import ContentType

# Enough for every magic number filetype knows, and for a DOCX's first part names.
SNIFF_BYTES = 8192
_BY_MIME = {
    "application/pdf": ContentType.PDF,
    ContentType.DOCX.value: ContentType.DOCX,
}
_HTML_NAMES = (".html", ".htm", ".xhtml")


class UnsupportedFile(ValueError):
    """The bytes are not a PDF, DOCX or UTF-8 text; ``found`` is what they looked like."""

    def __init__(self, found: str, filename: str | None) -> None:
        self.found = found
        self.filename = filename
        named = f"{filename!r} " if filename else ""
        super().__init__(
            f"file {named}is {found}; Sluice reads PDF, DOCX and UTF-8 text files"
        )


def sniff(data: bytes, filename: str | None = None) -> ContentType:
    """The content type of ``data``; :class:`UnsupportedFile` when Sluice cannot read it."""
    found = filetype.guess_mime(data[:SNIFF_BYTES])
    if found in _BY_MIME:
        return _BY_MIME[found]
    if found is not None:
        raise UnsupportedFile(found, filename)
    if b"\x00" in data:
        raise UnsupportedFile("binary data", filename)
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnsupportedFile("text that is not UTF-8", filename) from None
    if filename and filename.lower().endswith(_HTML_NAMES):
        return ContentType.HTML
    return ContentType.TEXT
