"""Parsing real-world shaped messages, and fuzzing the parser: it never crashes."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.text.email_parsing import ParsedEmail, UnparsableEmail, parse_email
from libs.text.email_quoting import strip_quotes_and_signature

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "email"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_plain_text_is_preferred_and_the_quote_and_signature_are_cut_for_the_llm() -> None:
    parsed = parse_email(fixture("plain_reply.eml"))
    assert parsed.body_type == "text/plain"
    assert parsed.key == "mid:reply-5521@example.com"
    assert "order 5521 arrived with a cracked screen" in parsed.llm_text
    assert "Tracking: ZX81" not in parsed.llm_text
    assert "555-0100" not in parsed.llm_text
    # The original keeps everything.
    assert "Tracking: ZX81" in parsed.text and "555-0100" in parsed.text


def test_html_only_mail_becomes_text_without_scripts_styles_or_quoted_replies() -> None:
    parsed = parse_email(fixture("html_only.eml"))
    assert parsed.body_type == "text/html"
    assert parsed.subject == "Refund für Bestellung 7788"
    assert "refund for order 7788" in parsed.llm_text
    assert "order 1234" not in parsed.llm_text
    for markup in ("<p>", "alert(1)", "color: red"):
        assert markup not in parsed.text and markup not in parsed.llm_text


def test_undecodable_bytes_are_replaced_instead_of_failing() -> None:
    parsed = parse_email(fixture("non_utf8.eml"))
    assert "a fatura 4410 est\ufffd errada" in parsed.text
    unknown = parse_email(fixture("unknown_charset.eml"))
    assert "Order 99" in unknown.text and "\ufffd" in unknown.text


def test_attachments_are_recorded_by_name_type_and_size_but_not_extracted() -> None:
    parsed = parse_email(fixture("with_attachment.eml"))
    assert parsed.body_type == "text/plain"
    assert [(a.filename, a.content_type) for a in parsed.attachments] == [
        ("damage.png", "image/png"), ("invoice.pdf", "application/pdf"),
    ]
    assert all(a.size > 0 for a in parsed.attachments)
    assert "PDF" not in parsed.text and "iVBOR" not in parsed.text


def test_a_message_without_message_id_is_keyed_by_a_stable_header_hash() -> None:
    first = parse_email(fixture("no_message_id.eml"))
    again = parse_email(fixture("no_message_id.eml").replace(b"\n", b"\r\n"))
    assert first.message_id is None
    assert first.key.startswith("sha256:") and first.key == again.key
    other = parse_email(fixture("no_message_id.eml").replace(b"parcel?", b"parcel now?"))
    assert other.key != first.key


@pytest.mark.parametrize("raw", [b"", b"   \r\n", (FIXTURES / "malformed.bin").read_bytes()])
def test_input_without_a_message_is_unparsable(raw: bytes) -> None:
    with pytest.raises(UnparsableEmail):
        parse_email(raw)


def test_a_message_above_the_size_limit_is_refused_before_parsing() -> None:
    with pytest.raises(UnparsableEmail, match="above the limit"):
        parse_email(fixture("plain_reply.eml"), max_bytes=100)


def test_a_huge_attachment_is_listed_and_the_text_stays_small() -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@x.example", "b@x.example", "big"
    message["Message-ID"] = "<huge@x.example>"
    message.set_content("Order 42: invoice attached.")
    message.add_attachment(b"\0" * (8 * 1024 * 1024), maintype="application",
                           subtype="octet-stream", filename="dump.bin")
    parsed = parse_email(message.as_bytes())
    assert parsed.text == "Order 42: invoice attached."
    assert parsed.attachments[0].size == 8 * 1024 * 1024


def test_attribution_lines_wrapped_over_two_lines_start_the_quote() -> None:
    text = ("Please cancel order 77.\n\nOn Tue, 3 Jun 2025 at 10:00, Support Team\n"
            "<s@x.example> wrote:\n> old")
    assert strip_quotes_and_signature(text) == "Please cancel order 77."
    assert strip_quotes_and_signature("> only a quote") == "> only a quote"


def _check(raw: bytes) -> None:
    try:
        parsed = parse_email(raw)
    except UnparsableEmail:
        return
    assert isinstance(parsed, ParsedEmail)
    assert isinstance(parsed.text, str) and isinstance(parsed.llm_text, str)
    parsed.metadata()


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=4096))
def test_fuzz_arbitrary_bytes_never_crash_the_parser(raw: bytes) -> None:
    _check(raw)


@FUZZ
@given(
    st.sampled_from(sorted(p.name for p in FIXTURES.iterdir())),
    st.lists(st.tuples(st.integers(0, 10_000), st.binary(min_size=0, max_size=8)), max_size=12),
)
def test_fuzz_mutated_real_messages_never_crash_the_parser(
    name: str, edits: list[tuple[int, bytes]]
) -> None:
    raw = bytearray((FIXTURES / name).read_bytes())
    for position, replacement in edits:
        at = position % (len(raw) + 1)
        raw[at : at + len(replacement)] = replacement
    _check(bytes(raw))


header_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)


@FUZZ
@given(
    headers=st.lists(
        st.tuples(st.sampled_from(["From", "To", "Cc", "Subject", "Date", "Message-ID",
                                   "Content-Type", "Content-Transfer-Encoding",
                                   "Content-Disposition", "X-Junk"]), header_text),
        min_size=1, max_size=10,
    ),
    body=st.binary(max_size=2048),
)
def test_fuzz_hostile_headers_and_bodies_never_crash_the_parser(
    headers: list[tuple[str, str]], body: bytes
) -> None:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    raw = head.encode("utf-8", "surrogateescape") + b"\r\n" + body
    _check(raw)
