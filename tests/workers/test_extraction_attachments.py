"""An extraction whose order number is only in the attached PDF: accepted only when the
schema lets that field come from an attachment. A real email intake (which reads the PDF in
a bounded child), a real extraction worker, a scripted OpenAI-protocol server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from libs.documents.warehouse import open_documents
from producers.email.intake import EmailIntake
from schemas.job import DeadReason, JobStatus
from tests.conftest import SluiceEnv
from tests.support.attachment_mail import ORDER_NUMBER, mail_with_invoice
from tests.support.attachment_schemas import SCHEMAS
from tests.support.extraction_cases import extraction_env, settled
from tests.support.scripted_llm import Reply, ScriptedLLM

pytestmark = pytest.mark.slow
ANSWER = Reply(content=json.dumps({
    "record": {"order_number": ORDER_NUMBER},
    "evidence": {"order_number": f"Order number: {ORDER_NUMBER}"},
}), prompt_tokens=100, completion_tokens=20)


@pytest.fixture
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


def test_an_order_number_only_in_the_attachment_is_accepted_only_where_the_schema_allows(
    sluice_env: SluiceEnv, llm: ScriptedLLM
) -> None:
    with extraction_env(sluice_env, llm, acceptance="verified", schemas=SCHEMAS) as env:
        env.worker(queues="gpu,io", concurrency=2)
        documents = open_documents(env.settings)
        intake = EmailIntake(settings=env.settings, store=env.store, celery=env.celery,
                             documents=documents)
        llm.responder = lambda request: ANSWER
        raw = mail_with_invoice()

        allowed = settled(env, intake.ingest(raw, schema="attached_order").job_id)
        refused = settled(env, intake.ingest(raw, schema="mail_order").job_id)

        assert allowed.status is JobStatus.SUCCEEDED, (allowed.error, allowed.acceptance)
        assert allowed.result == {"order_number": ORDER_NUMBER}
        assert refused.status is JobStatus.DEAD and refused.reason is DeadReason.UNVERIFIED
        assert refused.acceptance is not None
        failed = {check.check for check in refused.acceptance.failed}
        assert "region_not_allowed" in failed, refused.acceptance.failed
        # The model read the attachment's text after the body, under its file name.
        prompt = "\n".join(str(m.get("content")) for m in llm.requests[0]["messages"])
        assert "[Attachment: invoice.pdf]" in prompt and ORDER_NUMBER in prompt
        # What the reviewer sees: the attachment as its own region of the source.
        kinds = {region.kind.value for region in refused.acceptance.regions}
        assert "attachment" in kinds
        attachments = refused.input["attachments"]
        assert [a["filename"] for a in attachments] == ["invoice.pdf"]
        documents.close()


def test_a_schema_only_extraction_reads_the_attachments_too(
    sluice_env: SluiceEnv, llm: ScriptedLLM
) -> None:
    with extraction_env(sluice_env, llm, schemas=SCHEMAS) as env:  # acceptance: schema-only
        env.worker(queues="gpu,io", concurrency=2)
        documents = open_documents(env.settings)
        intake = EmailIntake(settings=env.settings, store=env.store, celery=env.celery,
                             documents=documents)
        llm.enqueue(Reply(content=json.dumps({"order_number": ORDER_NUMBER})))

        job = settled(env, intake.ingest(mail_with_invoice(), schema="mail_order").job_id)

        assert job.status is JobStatus.SUCCEEDED, job.error
        prompt = "\n".join(str(m.get("content")) for m in llm.requests[0]["messages"])
        assert "[Attachment: invoice.pdf]" in prompt and ORDER_NUMBER in prompt
        documents.close()
