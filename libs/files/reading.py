"""Read a PDF, DOCX or text file into pages of text, refusing what cannot be read safely.

Libraries, chosen by licence and speed: ``pypdf`` (BSD-3, pure Python, one dependency-free
package; its text extraction was several times faster than pdfminer.six's layout analysis
on our generated PDFs, and its configurable decompression limits are what the bomb check
builds on) and ``python-docx`` (MIT, on lxml, which the project has already).

What is refused, with the reason a person reads in the dead job (:class:`UnreadableFile`):
an encrypted PDF (one that opens with the empty password is read), a malformed or truncated
file, more pages than ``files_max_pages``, and a decompression bomb: streams (or a DOCX's
parts) that would expand past ``files_max_expansion_ratio`` times the file's size. A PDF
whose pages hold no text at all is not refused: it is returned with ``needs_ocr``.

Call this through :func:`libs.files.bounded.read_file`, which runs it in a child process
with a memory and time limit; it is only as safe as the limits it is given.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import asdict, dataclass, field
from typing import Any

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# Never let a file decompress to more than this, whatever its size and the ratio allow.
MAX_DECOMPRESSED_BYTES = 512 * 1024 * 1024


class UnreadableFile(ValueError):
    """The file cannot be read; ``reason`` says why, in words for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ReadLimits:
    max_pages: int = 2000
    max_expansion_ratio: float = 100.0
    seconds: float = 120.0
    memory_bytes: int = 1024 * 1024 * 1024

    def decompressed_budget(self, size: int) -> int:
        """How many bytes a file of ``size`` bytes may decompress to, in all."""
        return int(min(MAX_DECOMPRESSED_BYTES, max(size, 64 * 1024) * self.max_expansion_ratio))


@dataclass(frozen=True)
class Page:
    # 1-based page number; None for a file without pages (DOCX, text).
    number: int | None
    text: str


@dataclass(frozen=True)
class FileText:
    pages: list[Page] = field(default_factory=list)
    # A PDF with pages but no text layer: scanned images, for OCR.
    needs_ocr: bool = False

    @property
    def text(self) -> str:
        return "\n\n".join(page.text for page in self.pages if page.text.strip())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileText:
        return cls(pages=[Page(**page) for page in data["pages"]],
                   needs_ocr=bool(data.get("needs_ocr")))


def read_file(data: bytes, content_type: str, limits: ReadLimits) -> FileText:
    """The file's text, in this process (see the module's note on limits). Imports nothing
    of Sluice's but this module: the child process that calls it starts in a blink."""
    if content_type == PDF:
        return read_pdf(data, limits)
    if content_type == DOCX:
        return read_docx(data, limits)
    try:
        return FileText(pages=[Page(None, data.decode("utf-8-sig"))])
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"the text is not UTF-8: {exc}") from None


def read_pdf(data: bytes, limits: ReadLimits) -> FileText:
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import LimitReachedError

    budget = limits.decompressed_budget(len(data))
    if b"%%EOF" not in data[-2048:]:
        # pypdf would rebuild what it can of a cut file; a person should see it whole instead.
        raise UnreadableFile("the PDF is truncated: it has no %%EOF marker at its end")
    caps: dict[str, Any] = {name: budget for name in (
        "zlib_maximum_output_length", "lzw_maximum_output_length",
        "run_length_maximum_output_length", "maximum_declared_stream_length",
        "stream_decoding_work_maximum_length", "array_based_stream_maximum_output_length",
    )}
    try:
        with apply_configuration(None, **caps):
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted and not _opens_without_password(reader):
                raise UnreadableFile("the PDF is encrypted with a password")
            count = len(reader.pages)
            if count == 0:
                raise UnreadableFile("the PDF has no pages")
            if count > limits.max_pages:
                raise UnreadableFile(
                    f"the PDF has {count} pages, above the limit of {limits.max_pages}"
                )
            pages, expanded = [], 0
            for number, page in enumerate(reader.pages, start=1):
                contents = page.get_contents()
                expanded += len(contents.get_data()) if contents is not None else 0
                if expanded > budget:
                    raise LimitReachedError(f"page streams expand to over {budget} bytes")
                pages.append(Page(number, page.extract_text() or ""))
    except UnreadableFile:
        raise
    except LimitReachedError as exc:
        raise UnreadableFile(
            f"the PDF is a decompression bomb: it expands past {budget} bytes "
            f"({limits.max_expansion_ratio:g} times its size): {exc}"
        ) from None
    except MemoryError:
        raise
    except Exception as exc:  # pypdf raises many kinds on a broken file; each is the file's fault
        raise UnreadableFile(f"the PDF is malformed: {type(exc).__name__}: {exc}") from None
    needs_ocr = not any(page.text.strip() for page in pages)
    return FileText(pages=pages, needs_ocr=needs_ocr)


def _opens_without_password(reader: Any) -> bool:
    """An owner-password-only PDF (printing restricted, say) is readable by anyone."""
    try:
        return bool(reader.decrypt(""))
    except Exception:  # an unsupported cipher is as closed as a password
        return False


def read_docx(data: bytes, limits: ReadLimits) -> FileText:
    import docx

    budget = limits.decompressed_budget(len(data))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
        if expanded > budget:
            raise UnreadableFile(
                f"the DOCX is a decompression bomb: its parts expand to {expanded} bytes, "
                f"above {budget} ({limits.max_expansion_ratio:g} times its size)"
            )
        document = docx.Document(io.BytesIO(data))
        lines = [paragraph.text for paragraph in document.paragraphs]
        for table in document.tables:
            for row in table.rows:
                lines.append("\t".join(cell.text for cell in row.cells))
    except UnreadableFile:
        raise
    except MemoryError:
        raise
    except Exception as exc:
        raise UnreadableFile(f"the DOCX is malformed: {type(exc).__name__}: {exc}") from None
    return FileText(pages=[Page(None, "\n".join(line for line in lines if line.strip()))])
