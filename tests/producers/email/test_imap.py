"""Polling a real IMAP server (Dovecot on loopback): checkpoints, flags, UIDVALIDITY."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from imapclient import IMAPClient
from pydantic import SecretStr

from cli.embedded_redis import EmbeddedRedis
from producers.email.imap import load_checkpoint
from producers.email.mailboxes import EmailProducer
from schemas.job import DeadReason, JobStatus
from sluice.settings import MailboxSettings
from sluice.stores import JobQuery
from tests.conftest import SluiceEnv
from tests.producers.email.conftest import FIXTURES
from tests.producers.email.dovecot import Dovecot

MESSAGES = ["plain_reply.eml", "html_only.eml", "non_utf8.eml", "no_message_id.eml"]


def client(server: Dovecot) -> IMAPClient:
    imap = IMAPClient(server.host, port=server.port, ssl=False)
    imap.login(server.user, server.password)
    return imap


def deliver(server: Dovecot, folder: str, *raws: bytes) -> None:
    with client(server) as imap:
        if not imap.folder_exists(folder):
            imap.create_folder(folder)
        for raw in raws:
            imap.append(folder, raw)


def mailbox(server: Dovecot, folder: str, **options: object) -> MailboxSettings:
    return MailboxSettings.model_validate({
        "name": f"support-{folder}", "host": server.host, "port": server.port, "ssl": False,
        "username": server.user, "password": SecretStr(server.password), "folder": folder,
        **options,
    })


def configure(producer: EmailProducer, *boxes: MailboxSettings) -> None:
    producer.settings = producer.settings.model_copy(update={"email_mailboxes": list(boxes)})


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_messages_polled_twice_become_one_job_each_and_are_flagged(
    producer_env: SluiceEnv, email_producer: EmailProducer, dovecot: Dovecot
) -> None:
    deliver(dovecot, "Support", *(raw(name) for name in MESSAGES))
    box = mailbox(dovecot, "Support", schema_name="support_ticket")
    configure(email_producer, box)
    [first] = email_producer.poll()
    [second] = email_producer.poll()
    assert (first.seen, first.outcomes) == (4, {"queued": 4})
    assert second.seen == 0
    jobs = list(producer_env.store.iter_jobs(JobQuery(kind="extract")))
    assert len(jobs) == 4
    assert {job.input["origin"]["uid"] for job in jobs} == {1, 2, 3, 4}
    checkpoint = load_checkpoint(email_producer.state, box.name)
    assert checkpoint is not None and checkpoint.last_uid == 4
    with client(dovecot) as imap:
        imap.select_folder("Support")
        flags = imap.get_flags(imap.search("ALL"))
    assert all(b"$SluiceProcessed" in value for value in flags.values())
    # A new message later is the only one taken by the next poll.
    deliver(dovecot, "Support", raw("with_attachment.eml"))
    [third] = email_producer.poll()
    assert (third.seen, third.outcomes) == (1, {"queued": 1})


def test_a_uidvalidity_change_is_reconciled_by_message_id_without_duplicates(
    producer_env: SluiceEnv, email_producer: EmailProducer, dovecot: Dovecot
) -> None:
    deliver(dovecot, "Tickets", *(raw(name) for name in MESSAGES))
    box = mailbox(dovecot, "Tickets")
    configure(email_producer, box)
    [before] = email_producer.poll()
    # The server rebuilds the folder: same messages, new UIDs, a new UIDVALIDITY.
    with client(dovecot) as imap:
        imap.delete_folder("Tickets")
    deliver(dovecot, "Tickets", *(raw(name) for name in reversed(MESSAGES)),
            raw("with_attachment.eml"))
    [after] = email_producer.poll()
    assert after.reconciled and after.uidvalidity != before.uidvalidity
    assert after.outcomes == {"duplicate": 4, "queued": 1}
    assert producer_env.store.count(JobQuery(kind="extract")) == 5
    checkpoint = load_checkpoint(email_producer.state, box.name)
    assert checkpoint is not None and checkpoint.uidvalidity == after.uidvalidity


def test_processed_messages_can_be_moved_and_malformed_ones_are_dead_lettered(
    producer_env: SluiceEnv, email_producer: EmailProducer, dovecot: Dovecot
) -> None:
    deliver(dovecot, "Inbound", raw("plain_reply.eml"), b"garbage without any header\r\n")
    configure(email_producer, mailbox(dovecot, "Inbound", processed="move", move_to="Done"))
    [report] = email_producer.poll()
    assert report.outcomes == {"queued": 1, "dead": 1}
    with client(dovecot) as imap:
        assert imap.select_folder("Inbound")[b"EXISTS"] == 0
        assert imap.select_folder("Done")[b"EXISTS"] == 2
    dead = producer_env.store.list_jobs(JobQuery(statuses=(JobStatus.DEAD,))).items
    assert [job.reason for job in dead] == [DeadReason.INVALID_INPUT]


def test_an_oversized_message_is_not_downloaded_whole(
    producer_env: SluiceEnv, email_producer: EmailProducer, dovecot: Dovecot
) -> None:
    message = EmailMessage()
    message["From"], message["Subject"], message["Message-ID"] = "a@x.example", "x", "<big@x>"
    message.set_content("see attachment")
    message.add_attachment(b"\1" * (3 * 1024 * 1024), maintype="application",
                           subtype="octet-stream", filename="big.bin")
    deliver(dovecot, "Big", message.as_bytes(), raw("plain_reply.eml"))
    configure(email_producer, mailbox(dovecot, "Big"))
    email_producer.settings = email_producer.settings.model_copy(
        update={"email_max_message_bytes": 2 * 1024 * 1024}
    )
    [report] = email_producer.poll()
    assert report.outcomes == {"dead": 1, "queued": 1}
    [dead] = producer_env.store.list_jobs(JobQuery(statuses=(JobStatus.DEAD,))).items
    assert dead.input["raw_truncated"] and dead.input["raw_size"] > 3 * 1024 * 1024
    assert len(dead.input["raw_base64"]) < 2 * 1024 * 1024


@pytest.mark.slow
def test_the_cli_and_the_periodic_beat_task_poll_the_configured_mailboxes(
    redis_server: EmbeddedRedis, tmp_path: Path, dovecot: Dovecot
) -> None:
    import json
    import subprocess
    import sys

    from tests.conftest import make_env
    from tests.producers.email.conftest import PLUGINS
    from tests.support.polling import wait_for

    deliver(dovecot, "Beat", raw("plain_reply.eml"))
    boxes = [mailbox(dovecot, "Beat").model_dump(mode="json")]
    boxes[0]["password"] = dovecot.password
    env = make_env(tmp_path, redis_server.url, plugins=PLUGINS, email_poll_interval_seconds=1)
    env.env["SLUICE_EMAIL_MAILBOXES"] = json.dumps(boxes)  # what an operator would export
    try:
        done = subprocess.run([sys.executable, "-m", "cli", "email", "poll"], env=env.env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "support-Beat" in done.stdout
        assert env.store.count(JobQuery(kind="extract")) == 1
        # Beat sends email.poll every second; a worker on the io queue runs it.
        deliver(dovecot, "Beat", raw("html_only.eml"))
        env.worker(queues="io", concurrency=1)
        beat_log = (tmp_path / "beat.log").open("wb")
        beat = subprocess.Popen([sys.executable, "-m", "cli", "beat"], env=env.env,
                                stdout=beat_log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            wait_for(lambda: env.store.count(JobQuery(kind="extract")) == 2, timeout=60,
                     what="the periodic poll to take the second message")
        except AssertionError:
            print((tmp_path / "beat.log").read_text(), env.workers[0].log())
            raise
        finally:
            beat.terminate()
            beat.wait(15)
    finally:
        for worker in env.workers:
            worker.stop()
        env.store.close()
