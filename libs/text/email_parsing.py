"""RFC 822 messages to text: the one email reader of every package.

Two levels:

- :func:`read_email` (bytes or str -> :class:`EmailContent`) never fails: headers as text,
  the first ``text/plain`` and ``text/html`` bodies, the body as text (HTML through
  :func:`~libs.text.html_text.html_to_text`), the new part without quoted replies and
  signature, attachments listed. The extraction worker, the embedding cleaner and the
  dashboard read job inputs with it.
- :func:`parse_email` (bytes -> :class:`ParsedEmail`) is the mailbox producer's: it refuses
  input with no message in it (:class:`UnparsableEmail`; the caller dead-letters those with
  the raw bytes kept) and adds an idempotency key.

Parsing uses the standard library (``policy.default``) and never trusts the message: an
unknown or lying charset is decoded with replacement characters, a header the modern
policy chokes on is read again as raw text, attachments are listed (name, type, size) and
never decoded into the text. The stdlib's header parser is quadratic, and recursive, on
runs of quotes, commas, backslashes and parentheses, so it only ever sees the first
:data:`MAX_PARSED_HEADER_CHARS` of a header (the RFC 5322 line limit); a longer header is
read as its raw, unfolded text (encoded words left as they are).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import datetime
from email import policy
from email.message import Message
from email.parser import BytesParser, Parser
from email.policy import EmailPolicy
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

import structlog

from libs.text.email_quoting import strip_quotes_and_signature
from libs.text.html_text import html_to_text

log = structlog.get_logger(__name__)

# Headers that identify a message when it has no Message-ID. Transport headers
# (Received, Delivered-To) are left out: they differ between two copies of one message.
IDENTITY_HEADERS = ("from", "to", "cc", "date", "subject", "in-reply-to", "references")
RECOGNISED_HEADERS = frozenset(
    {"from", "to", "cc", "date", "subject", "message-id", "sender", "reply-to",
     "mime-version", "content-type", "received", "return-path"}
)


MAX_PARSED_HEADER_CHARS = 998  # RFC 5322's line limit; see the module docstring
# Addresses are read from the first 64k characters of a header (about 1,500 recipients):
# getaddresses is linear but slow, about a microsecond a character.
MAX_ADDRESS_HEADER_CHARS = 65_536


class _BoundedPolicy(EmailPolicy):
    """``policy.default``, except that a header is parsed from its first 998 characters."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        return super().header_fetch_parse(name, value[:MAX_PARSED_HEADER_CHARS])


BOUNDED_POLICY = _BoundedPolicy()


class UnparsableEmail(ValueError):
    """The bytes hold no email message; ``why`` says what was missing."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


@dataclass(frozen=True)
class Attachment:
    filename: str | None
    content_type: str
    size: int


@dataclass(frozen=True)
class ParsedEmail:
    key: str  # normalised Message-ID, or "sha256:<hash of the identity headers>"
    message_id: str | None
    subject: str
    sender: str
    recipients: list[str]
    date: str | None  # ISO 8601 when the Date header parses
    body_type: str  # "text/plain", "text/html" or "none"
    text: str  # the whole body as text: the original, kept in the warehouse
    llm_text: str  # quoted replies and signature cut: what extraction reads
    attachments: list[Attachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    size: int = 0

    def metadata(self) -> dict[str, Any]:
        """JSON-ready facts about the message, for the warehouse and the job input."""
        data = asdict(self)
        for bulky in ("text", "llm_text"):
            data.pop(bulky)
        return data


def _decode(payload: bytes, charset: str | None) -> str:
    try:
        return payload.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know: utf-8 is the likeliest truth
        return payload.decode("utf-8", errors="replace")


def _part_text(part: Message, *, from_str: bool) -> str:
    undecoded = part.get_payload()
    if (
        from_str
        and isinstance(undecoded, str)
        and not undecoded.isascii()
        and part.get("content-transfer-encoding", "").strip().lower()
        not in ("base64", "quoted-printable")
    ):
        return undecoded  # a message given as str: its 8-bit text is decoded already
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return _decode(payload, part.get_content_charset())
    raw = part.get_payload()
    return raw if isinstance(raw, str) else ""


def _is_attachment(part: Message) -> bool:
    disposition = (part.get("content-disposition") or "").split(";")[0].strip().lower()
    return disposition == "attachment" or (
        part.get_filename() is not None and disposition != "inline"
    )


def _safe_filename(part: Message) -> str | None:
    try:
        return part.get_filename()
    except Exception:
        return None


def _size(part: Message) -> int:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return len(payload)
    try:
        return len(part.as_bytes())
    except Exception:
        return 0


class _Headers:
    """Header values as text, falling back to the raw header where policy.default fails."""

    def __init__(self, message: Message, raw: bytes | str) -> None:
        self._message = message
        self._raw = raw
        self._compat: Message | None = None
        self._seen: dict[str, str] = {}  # policy.default parses a header on every access

    def get(self, name: str) -> str:
        if name not in self._seen:
            self._seen[name] = self._read(name)
        return self._seen[name]

    def _read(self, name: str) -> str:
        raw = next((v for k, v in self._message.raw_items() if k.lower() == name), None)
        if raw is None:
            return ""
        if len(raw) > MAX_PARSED_HEADER_CHARS:  # raw text: bytes the parser kept as
            text = str(raw).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            return " ".join(text.split())  # surrogates become U+FFFD, folds one space
        try:
            value = self._message.get(name)
            return " ".join(str(value).split()) if value is not None else ""
        except Exception:
            if self._compat is None:
                self._compat = (
                    BytesParser(policy=policy.compat32).parsebytes(self._raw)
                    if isinstance(self._raw, bytes)
                    else Parser(policy=policy.compat32).parsestr(self._raw)
                )
            value = self._compat.get(name)
            return " ".join(str(value).split()) if value is not None else ""

    def addresses(self, *names: str) -> list[str]:
        values = [self.get(name)[:MAX_ADDRESS_HEADER_CHARS] for name in names]
        try:
            return [address for _, address in getaddresses(values) if address]
        except Exception:
            return [value for value in values if value]


def message_key(headers: dict[str, str]) -> str:
    """The idempotency key of a message: its Message-ID, or a hash of identity headers."""
    message_id = headers.get("message-id", "").strip().strip("<>").strip()
    if message_id:
        return f"mid:{message_id}"
    canonical = "\n".join(f"{name}:{headers.get(name, '')}" for name in IDENTITY_HEADERS)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "replace")).hexdigest()


class EmailContent:
    """One message as text; build it with :func:`read_email`."""

    def __init__(
        self, message: Message, raw: bytes | str, *, walk_error: str | None = None
    ) -> None:
        self._headers = _Headers(message, raw)
        self.header_names = frozenset(name.lower() for name in message)
        self.plain: str | None = None  # the first text/plain body, decoded
        self.html: str | None = None  # the first text/html body, decoded, not sanitized
        self.attachments: list[Attachment] = []
        self.defects = [type(defect).__name__ for defect in message.defects]
        self.walk_error = walk_error  # set when the MIME structure could not be walked
        if walk_error is None:
            self._read_parts(message, from_str=isinstance(raw, str))
        self._text: str | None = None

    def _read_parts(self, message: Message, *, from_str: bool) -> None:
        try:
            parts = list(message.walk())
        except Exception as exc:
            self.walk_error = str(exc)
            return
        for part in parts:
            if part.is_multipart():
                continue
            try:
                content_type = part.get_content_type()
                if _is_attachment(part) or not content_type.startswith("text/"):
                    self.attachments.append(
                        Attachment(_safe_filename(part), content_type, _size(part))
                    )
                elif content_type == "text/plain" and self.plain is None:
                    self.plain = _part_text(part, from_str=from_str)
                elif content_type == "text/html" and self.html is None:
                    self.html = _part_text(part, from_str=from_str)
            except Exception as exc:  # one broken part must not lose the rest
                self.defects.append(f"unreadable part: {type(exc).__name__}")

    def header(self, name: str) -> str:
        """The header's value as one line of text, "" when absent."""
        return self._headers.get(name.lower())

    def addresses(self, *names: str) -> list[str]:
        """The bare addresses in the named headers (``From``, ``To``...)."""
        return self._headers.addresses(*(name.lower() for name in names))

    @property
    def subject(self) -> str:
        return self.header("subject")

    @property
    def sent_at(self) -> datetime | None:
        """The Date header, when it parses."""
        value = self.header("date")
        if not value:
            return None
        try:
            return parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None

    @property
    def body_type(self) -> str:
        """What :attr:`text` was made from: "text/plain", "text/html" or "none"."""
        if self.plain is not None and self.plain.strip():
            return "text/plain"
        return "text/html" if self.html is not None else "none"

    @property
    def text(self) -> str:
        """The whole body as text: plain text when it has any, else the HTML's text."""
        if self._text is None:
            if self.body_type == "text/plain":
                self._text = (self.plain or "").strip()
            elif self.body_type == "text/html":
                self._text = html_to_text(self.html or "")
            else:
                self._text = (self.plain or "").strip()
        return self._text

    def new_text(self) -> str:
        """The body without quoted replies, attributions and signature: what a model reads."""
        if self.body_type == "text/plain":
            return strip_quotes_and_signature(self.plain or "")
        if self.body_type == "text/html":
            without_quotes = html_to_text(self.html or "", drop_quotes=True)
            return strip_quotes_and_signature(without_quotes) or self.text
        return self.text


def read_email(raw: bytes | str) -> EmailContent:
    """Read any input as a message, never failing: text with no headers is all body."""
    try:
        message = (
            BytesParser(policy=BOUNDED_POLICY).parsebytes(raw)
            if isinstance(raw, bytes)
            else Parser(policy=BOUNDED_POLICY).parsestr(raw)
        )
    except Exception as exc:  # the parser is lenient; this is a bug in it, not in the mail
        log.warning("email parser failed; reading the input as plain text", error=str(exc))
        message = Message()
        message.set_payload(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw)
        return EmailContent(message, raw, walk_error=f"{type(exc).__name__}: {exc}")
    return EmailContent(message, raw)


def parse_email(raw: bytes, *, max_bytes: int | None = None) -> ParsedEmail:
    """Parse one message; raises :class:`UnparsableEmail` only when there is no message."""
    if not raw.strip():
        raise UnparsableEmail("empty input")
    if max_bytes is not None and len(raw) > max_bytes:
        raise UnparsableEmail(f"message is {len(raw)} bytes, above the limit of {max_bytes}")
    try:
        message = BytesParser(policy=BOUNDED_POLICY).parsebytes(raw)
    except Exception as exc:  # the parser is lenient; this is a bug in it, not in the mail
        raise UnparsableEmail(f"parser failed: {type(exc).__name__}: {exc}") from exc
    if not {name.lower() for name in message} & RECOGNISED_HEADERS:
        raise UnparsableEmail("no email headers found")
    content = EmailContent(message, raw)
    if content.walk_error is not None:
        raise UnparsableEmail(f"MIME structure unreadable: {content.walk_error}")
    identity = {name: content.header(name) for name in (*IDENTITY_HEADERS, "message-id")}
    message_id = identity["message-id"].strip().strip("<>").strip() or None
    return ParsedEmail(
        key=message_key(identity),
        message_id=message_id,
        subject=identity["subject"],
        sender=(content.addresses("from") or [identity["from"]])[0],
        recipients=content.addresses("to", "cc"),
        date=content.sent_at.isoformat() if content.sent_at is not None else None,
        body_type=content.body_type,
        text=content.text,
        llm_text=content.new_text(),
        attachments=content.attachments,
        defects=content.defects,
        size=len(raw),
    )
