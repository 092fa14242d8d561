"""What Sluice's email handling costs against the bare standard-library parse.

N messages (the fixture mails with unique Message-IDs) through: (a) a bare
``BytesParser(policy=default)`` parse plus ``get_body()``, the baseline; (b)
``parse_email`` (charset repair, HTML to text, quote and signature cutting, attachments
listed); (c) the whole intake: parse, warehouse write, job record and broker message
(SQLite store, embedded Redis). Prints messages/s and each rate's ratio to the baseline.

    python -m bench.email_intake [--messages 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from pathlib import Path

from cli.embedded_redis import start_redis
from cli.kinds import load_kinds
from libs.documents.warehouse import open_documents
from libs.text.email_parsing import parse_email
from producers.email.intake import EmailIntake
from sluice.celery_app import create_celery_app
from sluice.settings import load_settings
from sluice.stores import open_store

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "email"


def messages(count: int) -> list[bytes]:
    sources = [path.read_bytes() for path in sorted(FIXTURES.glob("*.eml"))]
    out = []
    for index in range(count):
        raw = sources[index % len(sources)]
        out.append(b"Message-ID: <bench-%d@example.com>\r\n" % index + raw.replace(
            b"Message-ID:", b"X-Original-Message-ID:"))
    return out


def rate(label: str, work: Callable[[bytes], object], corpus: list[bytes]) -> float:
    start = time.perf_counter()
    for raw in corpus:
        work(raw)
    seconds = time.perf_counter() - start
    per_second = len(corpus) / seconds
    print(f"{label:34} {per_second:9.0f} messages/s")
    return per_second


def bare_parse(raw: bytes) -> object:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    body = message.get_body(preferencelist=("plain", "html"))  # type: ignore[attr-defined]
    try:
        return body.get_content() if body is not None else None
    except LookupError:  # an unknown charset: the bare parse simply fails here
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    corpus = messages(args.messages)
    baseline = rate("baseline: stdlib parse + get_body", bare_parse, corpus)
    parsed = rate("parse_email", parse_email, corpus)
    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as tmp:
        redis_server = start_redis(Path(tmp) / "redis", appendonly=False)
        try:
            settings = load_settings(data_dir=Path(tmp) / "data", broker_url=redis_server.url,
                                     log_level="WARNING")
            intake = EmailIntake(settings=settings, store=open_store(settings),
                                 celery=create_celery_app(settings, load_kinds(settings)),
                                 documents=open_documents(settings))
            whole = rate("intake: parse + document + job + send",
                         lambda raw: intake.ingest(raw, schema="support_ticket"), corpus)
            repeat = rate("intake again (all duplicates)",
                          lambda raw: intake.ingest(raw, schema="support_ticket"), corpus)
        finally:
            redis_server.stop()
    print(f"ratios to baseline: parse_email {parsed / baseline:.2f}, intake {whole / baseline:.3f},"
          f" duplicate intake {repeat / baseline:.3f}")


if __name__ == "__main__":
    main()
