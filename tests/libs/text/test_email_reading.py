"""read_email: any input becomes a message's text, whatever its charset or shape."""

from __future__ import annotations

from datetime import UTC, datetime

from libs.text.email_parsing import MAX_PARSED_HEADER_CHARS, read_email

MIXED = (
    "From: Ann Example <ann@example.com>\r\nTo: help@shop.example\r\n"
    "Subject: Order 55211\r\nDate: Mon, 03 Mar 2025 09:12:00 +0000\r\n"
    "Content-Type: multipart/alternative; boundary=x\r\n\r\n"
    "--x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    "The kettle arrived cracked.\r\n\r\nOn Mon, Bob wrote:\r\n> old text\r\n"
    "--x\r\nContent-Type: text/html\r\n\r\n<p>The <b>kettle</b></p>\r\n--x--\r\n"
)


def test_headers_bodies_and_the_new_part_are_read() -> None:
    content = read_email(MIXED)
    assert content.subject == "Order 55211"
    assert content.header("From") == "Ann Example <ann@example.com>"
    assert content.addresses("from", "to") == ["ann@example.com", "help@shop.example"]
    assert content.sent_at == datetime(2025, 3, 3, 9, 12, tzinfo=UTC)
    assert content.body_type == "text/plain"
    assert "old text" in content.text and content.html is not None
    assert content.new_text() == "The kettle arrived cracked."


def test_bytes_and_str_read_the_same() -> None:
    as_bytes, as_str = read_email(MIXED.encode()), read_email(MIXED)
    assert (as_bytes.text, as_bytes.subject) == (as_str.text, as_str.subject)


def test_an_unknown_charset_decodes_with_replacement_characters() -> None:
    raw = (
        b"Subject: =?x-bogus?q?caf=E9?=\nContent-Type: text/plain; charset=x-bogus\n"
        b"Content-Transfer-Encoding: 8bit\n\ncaf\xe9 ok\n"
    )
    content = read_email(raw)
    assert content.text == "caf\ufffd ok"
    assert "caf" in content.subject


def test_a_str_message_keeps_its_already_decoded_8bit_text() -> None:
    content = read_email("Subject: x\nContent-Type: text/plain; charset=utf-8\n\ncafé crème\n")
    assert content.text == "café crème"


def test_an_html_only_message_is_read_through_html_to_text() -> None:
    content = read_email(
        "Subject: x\nContent-Type: text/html\n\n<p>new</p><script>bad()</script>"
        "<blockquote>quoted</blockquote>"
    )
    assert content.body_type == "text/html"
    assert "new" in content.text and "bad()" not in content.text
    assert content.new_text() == "new"


def test_text_without_headers_is_all_body_and_nothing_fails() -> None:
    assert read_email("just some words").text == "just some words"
    empty = read_email(b"")
    assert (empty.text, empty.subject, empty.sent_at, empty.body_type) == ("", "", None, "none")
    only_attachment = read_email(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: image/png\n"
        "Content-Disposition: attachment; filename=a.png\n\nAAAA\n--b--\n"
    )
    assert only_attachment.body_type == "none" and only_attachment.plain is None
    assert [a.filename for a in only_attachment.attachments] == ["a.png"]


def test_a_header_past_the_parse_limit_is_read_as_raw_text_with_every_address() -> None:
    recipients = [f"user{n}@shop.example" for n in range(200)]  # ~4,000 characters
    raw = ("To: " + ",\r\n ".join(recipients) + "\r\n\r\nbody").encode()
    content = read_email(raw)
    assert len(content.header("to")) > MAX_PARSED_HEADER_CHARS
    assert content.addresses("to") == recipients
    long_from = read_email(b"From: " + b"\xe9" * 2000 + b"\n\nbody").header("from")
    assert long_from == "\ufffd" * 2000
