"""Polling IMAP mailboxes without losing or repeating a message.

Each mailbox has one checkpoint in the state store: its folder's UIDVALIDITY and the last
UID taken. A poll reads the UIDs above the checkpoint, oldest first, and for each one
(1) hands it to the intake, which stores the job before returning, (2) flags it processed
or moves it, (3) advances the checkpoint. A crash between any two steps repeats the
message on the next poll, and the intake's idempotency key (Message-ID) absorbs the
repeat. When the server's UIDVALIDITY changes, every UID is meaningless: the poll starts
again from UID 1 and the same key reconciles the messages already taken.

Messages bigger than ``SLUICE_EMAIL_MAX_MESSAGE_BYTES`` are not downloaded whole: their
first bytes are fetched and dead-lettered with the size recorded.
"""

from __future__ import annotations

import ssl as ssl_module
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from imapclient import IMAPClient

from producers.email.intake import MAX_KEPT_RAW_BYTES, EmailIntake, IntakeStatus
from producers.state_store import StateStore
from sluice.settings import MailboxSettings

log = structlog.get_logger(__name__)

CHECKPOINT_NAMESPACE = "email.imap"
FETCH_CHUNK = 20
IMAP_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Checkpoint:
    uidvalidity: int
    last_uid: int


@dataclass
class PollReport:
    mailbox: str
    uidvalidity: int = 0
    reconciled: bool = False  # UIDVALIDITY changed: re-read from UID 1
    seen: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, status: IntakeStatus) -> None:
        self.outcomes[status.value] = self.outcomes.get(status.value, 0) + 1


def load_checkpoint(state: StateStore, mailbox: str) -> Checkpoint | None:
    record = state.get(CHECKPOINT_NAMESPACE, mailbox)
    if record is None:
        return None
    return Checkpoint(int(record.doc["uidvalidity"]), int(record.doc["last_uid"]))


def save_checkpoint(state: StateStore, mailbox: str, checkpoint: Checkpoint) -> None:
    state.put(CHECKPOINT_NAMESPACE, mailbox,
              {"uidvalidity": checkpoint.uidvalidity, "last_uid": checkpoint.last_uid})


@contextmanager
def connect(mailbox: MailboxSettings) -> Iterator[IMAPClient]:
    context = ssl_module.create_default_context() if mailbox.ssl else None
    client = IMAPClient(mailbox.host, port=mailbox.port, ssl=mailbox.ssl,
                        ssl_context=context, timeout=IMAP_TIMEOUT_SECONDS)
    try:
        client.login(mailbox.username, mailbox.password.get_secret_value())
        yield client
    finally:
        try:
            client.logout()
        except Exception:  # the connection may already be gone; nothing is pending
            client.shutdown()


def _mark_processed(client: IMAPClient, mailbox: MailboxSettings, uid: int) -> None:
    if mailbox.processed == "move":
        if client.has_capability("MOVE"):
            client.move([uid], mailbox.move_to)
        else:
            client.copy([uid], mailbox.move_to)
            client.delete_messages([uid])
            if client.has_capability("UIDPLUS"):
                client.uid_expunge([uid])  # only this message, not others marked deleted
            else:
                client.expunge()
    else:
        client.add_flags([uid], [mailbox.processed_flag.encode()])


def _ensure_folder(client: IMAPClient, name: str) -> None:
    if not client.folder_exists(name):
        client.create_folder(name)


def poll_mailbox(
    mailbox: MailboxSettings, intake: EmailIntake, state: StateStore, *, batch: int,
    max_bytes: int,
) -> PollReport:
    """Take up to ``batch`` new messages from ``mailbox``; returns what happened to them."""
    report = PollReport(mailbox.name)
    with connect(mailbox) as client:
        if mailbox.processed == "move":
            _ensure_folder(client, mailbox.move_to)
        selected = client.select_folder(mailbox.folder)
        uidvalidity = int(selected[b"UIDVALIDITY"])
        report.uidvalidity = uidvalidity
        checkpoint = load_checkpoint(state, mailbox.name)
        last_uid = 0
        if checkpoint is not None and checkpoint.uidvalidity == uidvalidity:
            last_uid = checkpoint.last_uid
        elif checkpoint is not None:
            report.reconciled = True
            log.warning("UIDVALIDITY changed; re-reading the folder, reconciling by Message-ID",
                        mailbox=mailbox.name, before=checkpoint.uidvalidity, now=uidvalidity)
        # "N:*" always matches the last message, even when its UID is below N.
        uids = sorted(uid for uid in client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid)
        uids = uids[:batch]
        for start in range(0, len(uids), FETCH_CHUNK):
            chunk = uids[start : start + FETCH_CHUNK]
            for uid, raw, size in _fetch(client, chunk, max_bytes):
                origin: dict[str, Any] = {
                    "mailbox": mailbox.name, "folder": mailbox.folder,
                    "uidvalidity": uidvalidity, "uid": uid,
                }
                outcome = intake.ingest(
                    raw, schema=mailbox.schema_name, origin=origin, declared_size=size
                )
                report.seen += 1
                report.count(outcome.status)
                _mark_processed(client, mailbox, uid)
                save_checkpoint(state, mailbox.name, Checkpoint(uidvalidity, uid))
        if not uids and (checkpoint is None or report.reconciled):
            save_checkpoint(state, mailbox.name, Checkpoint(uidvalidity, last_uid))
    log.info("mailbox polled", mailbox=mailbox.name, seen=report.seen, **report.outcomes)
    return report


def _fetch(
    client: IMAPClient, uids: list[int], max_bytes: int
) -> Iterator[tuple[int, bytes, int]]:
    """(uid, raw, size) in UID order; an oversized message is not downloaded whole, only its
    first bytes, which the intake keeps when it refuses the message by its size."""
    sizes = {uid: int(data.get(b"RFC822.SIZE", 0))
             for uid, data in client.fetch(uids, ["RFC822.SIZE"]).items()}
    whole = [uid for uid in uids if uid in sizes and sizes[uid] <= max_bytes]
    bodies = client.fetch(whole, ["BODY.PEEK[]"]) if whole else {}
    for uid in uids:
        if uid in bodies:
            yield uid, bytes(bodies[uid][b"BODY[]"]), sizes[uid]
        elif uid in sizes:
            head = client.fetch([uid], [f"BODY.PEEK[]<0.{MAX_KEPT_RAW_BYTES}>"]).get(uid, {})
            raw = next((bytes(v) for k, v in head.items() if k.startswith(b"BODY[]")), b"")
            yield uid, raw, sizes[uid]
