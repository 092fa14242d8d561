"""Files to text (libs/files): every generated file ends as specified, read in a bounded child."""

from __future__ import annotations

import io
import zipfile

import pytest

from libs.documents.model import ContentType
from libs.files.bounded import read_file
from libs.files.reading import ReadLimits, UnreadableFile
from libs.files.sniffing import UnsupportedFile, sniff
from tests.support import files

LIMITS = ReadLimits(max_pages=50, max_expansion_ratio=100, seconds=60,
                    memory_bytes=1024 * 1024 * 1024)
PAGES = ["Welcome to the kettle manual.\nRead this first.",
         "Descaling: use citric acid once a month.",
         "Warranty: two years from the date of purchase."]


def test_a_multi_page_pdf_is_read_page_by_page() -> None:
    read = read_file(files.pdf_with_text(PAGES), ContentType.PDF, LIMITS)

    assert [page.number for page in read.pages] == [1, 2, 3]
    assert "citric acid" in read.pages[1].text and "citric" not in read.pages[0].text
    assert "Warranty" in read.pages[2].text
    assert read.needs_ocr is False


def test_a_pdf_with_only_images_needs_ocr() -> None:
    read = read_file(files.pdf_image_only(pages=2), ContentType.PDF, LIMITS)

    assert read.needs_ocr is True
    assert [page.number for page in read.pages] == [1, 2]
    assert not read.text


@pytest.mark.parametrize(("make", "reason"), [
    (lambda: files.pdf_encrypted(PAGES), "encrypted with a password"),
    (lambda: files.truncated(files.pdf_with_text(PAGES)), "truncated"),
    (lambda: files.pdf_bomb(64 * 1024 * 1024), "decompression bomb"),
    (lambda: b"%PDF-1.7\nnot a pdf at all\n%%EOF\n", "malformed"),
], ids=["encrypted", "truncated", "bomb", "malformed"])
def test_an_unreadable_pdf_is_refused_with_the_reason(make: object, reason: str) -> None:
    with pytest.raises(UnreadableFile) as refused:
        read_file(make(), ContentType.PDF, LIMITS)  # type: ignore[operator]

    assert reason in refused.value.reason


def test_too_many_pages_is_refused() -> None:
    strict = ReadLimits(max_pages=2, seconds=60)

    with pytest.raises(UnreadableFile, match="3 pages, above the limit of 2"):
        read_file(files.pdf_with_text(PAGES), ContentType.PDF, strict)


def test_a_docx_is_read_and_a_zip_bomb_docx_refused() -> None:
    read = read_file(files.docx_with(["Invoice 4711", "Total: 12 EUR"]), ContentType.DOCX,
                     LIMITS)
    assert read.text == "Invoice 4711\nTotal: 12 EUR"
    assert read.pages[0].number is None

    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b" " * (64 * 1024 * 1024))
    with pytest.raises(UnreadableFile, match="decompression bomb"):
        read_file(bomb.getvalue(), ContentType.DOCX, LIMITS)


def test_the_child_is_killed_at_its_time_limit_and_the_caller_lives_on() -> None:
    hurried = ReadLimits(seconds=0.01)

    with pytest.raises(UnreadableFile, match=r"longer than 0\.01 s"):
        read_file(files.pdf_with_text(PAGES), ContentType.PDF, hurried)


def test_the_child_runs_out_of_memory_not_the_caller() -> None:
    # A ratio cap this loose lets the bomb through: the memory limit is what stops it.
    loose = ReadLimits(max_expansion_ratio=1_000_000, memory_bytes=128 * 1024 * 1024,
                       seconds=60)

    with pytest.raises(UnreadableFile, match=r"needed more than 128 MiB|killed"):
        read_file(files.pdf_bomb(160 * 1024 * 1024), ContentType.PDF, loose)


def test_the_type_comes_from_the_bytes_not_the_name() -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

    assert sniff(files.pdf_with_text(PAGES), "notes.txt") is ContentType.PDF
    assert sniff(files.docx_with(["x"]), "x.bin") is ContentType.DOCX
    assert sniff("Grüße\n".encode(), "readme") is ContentType.TEXT
    assert sniff(b"<p>hi</p>", "page.html") is ContentType.HTML
    with pytest.raises(UnsupportedFile, match="image/png"):
        sniff(png, "invoice.pdf")
    with pytest.raises(UnsupportedFile, match="not UTF-8"):
        sniff("caf\xe9".encode("latin-1"), "menu.txt")
