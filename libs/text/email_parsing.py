"""RFC 822 bytes to what Sluice needs from a message: text, headers, attachments, a key.

Parsing uses the standard library (``policy.default``) and never trusts the message: an
unknown or lying charset is decoded with replacement characters, a header the modern
policy chokes on is read again as raw text, attachments are listed (name, type, size) and
never decoded into the text. The only failure is :class:`UnparsableEmail`, for input with
no message in it at all; the caller dead-letters those with the raw bytes kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from libs.text.email_quoting import strip_quotes_and_signature
from libs.text.html_text import html_to_text

# Headers that identify a message when it has no Message-ID. Transport headers
# (Received, Delivered-To) are left out: they differ between two copies of one message.
IDENTITY_HEADERS = ("from", "to", "cc", "date", "subject", "in-reply-to", "references")
RECOGNISED_HEADERS = frozenset(
    {"from", "to", "cc", "date", "subject", "message-id", "sender", "reply-to",
     "mime-version", "content-type", "received", "return-path"}
)


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


def _part_text(part: Message) -> str:
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

    def __init__(self, message: Message, raw: bytes) -> None:
        self._message = message
        self._raw = raw
        self._compat: Message | None = None
        self._seen: dict[str, str] = {}  # policy.default parses a header on every access

    def get(self, name: str) -> str:
        if name not in self._seen:
            self._seen[name] = self._read(name)
        return self._seen[name]

    def _read(self, name: str) -> str:
        try:
            value = self._message.get(name)
            return " ".join(str(value).split()) if value is not None else ""
        except Exception:
            if self._compat is None:
                self._compat = BytesParser(policy=policy.compat32).parsebytes(self._raw)
            value = self._compat.get(name)
            return " ".join(str(value).split()) if value is not None else ""

    def addresses(self, *names: str) -> list[str]:
        values = [self.get(name) for name in names]
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


def _date(value: str) -> str | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def parse_email(raw: bytes, *, max_bytes: int | None = None) -> ParsedEmail:
    """Parse one message; raises :class:`UnparsableEmail` only when there is no message."""
    if not raw.strip():
        raise UnparsableEmail("empty input")
    if max_bytes is not None and len(raw) > max_bytes:
        raise UnparsableEmail(f"message is {len(raw)} bytes, above the limit of {max_bytes}")
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception as exc:  # the parser is lenient; this is a bug in it, not in the mail
        raise UnparsableEmail(f"parser failed: {type(exc).__name__}: {exc}") from exc
    names = {name.lower() for name in message}
    if not names & RECOGNISED_HEADERS:
        raise UnparsableEmail("no email headers found")
    headers = _Headers(message, raw)
    identity = {name: headers.get(name) for name in (*IDENTITY_HEADERS, "message-id")}
    plain: str | None = None
    html: str | None = None
    attachments: list[Attachment] = []
    defects = [type(defect).__name__ for defect in message.defects]
    try:
        parts = list(message.walk())
    except Exception as exc:
        raise UnparsableEmail(f"MIME structure unreadable: {exc}") from exc
    for part in parts:
        if part.is_multipart():
            continue
        try:
            content_type = part.get_content_type()
            if _is_attachment(part) or not content_type.startswith("text/"):
                attachments.append(Attachment(_safe_filename(part), content_type, _size(part)))
            elif content_type == "text/plain" and plain is None:
                plain = _part_text(part)
            elif content_type == "text/html" and html is None:
                html = _part_text(part)
        except Exception as exc:  # one broken part must not lose the rest
            defects.append(f"unreadable part: {type(exc).__name__}")
    if plain is not None and plain.strip():
        body_type, text, llm_source = "text/plain", plain.strip(), plain
        llm_text = strip_quotes_and_signature(llm_source)
    elif html is not None:
        body_type, text = "text/html", html_to_text(html)
        llm_text = strip_quotes_and_signature(html_to_text(html, drop_quotes=True)) or text
    else:
        body_type, text, llm_text = "none", (plain or "").strip(), (plain or "").strip()
    message_id = identity["message-id"].strip().strip("<>").strip() or None
    return ParsedEmail(
        key=message_key(identity),
        message_id=message_id,
        subject=identity["subject"],
        sender=(headers.addresses("from") or [identity["from"]])[0],
        recipients=headers.addresses("to", "cc"),
        date=_date(identity["date"]),
        body_type=body_type,
        text=text,
        llm_text=llm_text,
        attachments=attachments,
        defects=defects,
        size=len(raw),
    )
