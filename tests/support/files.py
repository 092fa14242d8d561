"""Files the tests make themselves: PDFs (text, image-only, encrypted, truncated, a bomb), DOCX.

The PDFs are written object by object (a catalog, a page tree, one content stream per
page, Helvetica), small enough to read and exactly what a generator would write; pypdf
encrypts one, python-docx writes the DOCX.
"""

from __future__ import annotations

import io
import zlib


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _text_stream(text: str) -> bytes:
    lines = [f"({_escape(line)}) Tj T*" for line in text.splitlines() or [""]]
    return ("BT /F1 12 Tf 14 TL 72 720 Td " + " ".join(lines) + " ET").encode("latin-1")


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF of ``objects`` (object 1 is the catalog), with its xref table and trailer."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, xref))
    return out.getvalue()


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def _document(contents: list[bytes], resources: bytes, extra_objects: list[bytes]) -> bytes:
    """Catalog 1, pages 2, then each page and its content stream, then ``extra_objects``."""
    first_page = 3
    kids = " ".join(f"{first_page + 2 * i} 0 R" for i in range(len(contents)))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids.encode(), len(contents))]
    for i, content in enumerate(contents):
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       b"/Resources %s /Contents %d 0 R >>" % (resources, first_page + 2 * i + 1))
        objects.append(content)
    return _pdf(objects + extra_objects)


def pdf_with_text(pages: list[str]) -> bytes:
    """One page per string, each line of it a line of Helvetica."""
    font = 3 + 2 * len(pages)
    return _document([_stream(_text_stream(text)) for text in pages],
                     b"<< /Font << /F1 %d 0 R >> >>" % font,
                     [b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"])


def pdf_image_only(pages: int = 2) -> bytes:
    """A scan: each page shows one small grey image and holds no text at all."""
    image = 3 + 2 * pages
    pixels = bytes(range(0, 256, 4)) * 64  # 64x64 grey
    draw = _stream(b"q 400 0 0 400 100 200 cm /Im1 Do Q")
    return _document([draw] * pages, b"<< /XObject << /Im1 %d 0 R >> >>" % image, [
        _stream(pixels, b"/Type /XObject /Subtype /Image /Width 64 /Height 64 "
                        b"/ColorSpace /DeviceGray /BitsPerComponent 8 "),
    ])


def pdf_bomb(expanded_bytes: int = 64 * 1024 * 1024) -> bytes:
    """One page whose content stream is a few KB of Flate that inflates to ``expanded_bytes``."""
    packed = zlib.compress(b" " * expanded_bytes, 9)
    font = 5
    return _document([_stream(packed, b"/Filter /FlateDecode ")],
                     b"<< /Font << /F1 %d 0 R >> >>" % font,
                     [b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"])


def pdf_encrypted(pages: list[str], password: str = "s3cret") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_with_text(pages))))
    writer.encrypt(user_password=password, owner_password=password + "-owner",
                   algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def truncated(data: bytes) -> bytes:
    """The first half of a file, as a download cut off midway leaves it."""
    return data[: len(data) // 2]


def docx_with(paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
