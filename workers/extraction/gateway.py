"""What the LLM gateway decides for one extraction: the route of each call, whether the
response cache may answer it, and the redactor that keeps personal data from the model.

Routes (:mod:`libs.llm.routing`) see the kind, the schema, the size of the document the
model reads and the attempt number, so "a small model first, a bigger one for retries or
long documents" is a setting. The cache may answer first attempts only, unless
``SLUICE_LLM_CACHE_CORRECTIONS``: a correction attempt exists because the answer before it
was wrong, and a repeat of it is the problem. With a redaction policy for the schema (or
the kind), the model sees placeholders; :func:`restored` gives its answer the real values
back before validation and the acceptance gate, which check them against the real source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from libs.llm.chat import ChatResult
from libs.llm.routing import Route, route_for
from libs.redaction import RedactionUnavailable, redactor_for
from schemas.job import DeadReason
from schemas.registry import SchemaEntry
from sluice.job_task import DeadLetter, JobContext

if TYPE_CHECKING:  # Presidio is imported only where a policy applies
    from libs.redaction.redactor import Redactor

KIND = "extract"


@dataclass(frozen=True)
class JobGateway:
    """One job's gateway decisions: its redactor, and what its routes are chosen by."""

    context: JobContext
    entry: SchemaEntry
    redactor: Redactor | None
    input_chars: int  # the document the model reads
    model: str | None  # the job's own override: it beats a route's model

    @classmethod
    def for_job(
        cls, context: JobContext, entry: SchemaEntry, input_chars: int, model: str | None
    ) -> JobGateway:
        return cls(context, entry, _redactor(context, entry), input_chars, model)

    def route(self, attempt: int) -> Route:
        return route_for(
            self.context.settings, kind=KIND, schema_name=self.entry.name,
            input_chars=self.input_chars, attempt=attempt, model=self.model,
        )

    def may_cache(self, *, correction: bool) -> bool:
        return not correction or self.context.settings.llm_cache_corrections

    def restored(self, result: ChatResult) -> str:
        """The model's answer with the real values where it wrote placeholders."""
        if self.redactor is None:
            return result.text
        return self.redactor.restore(result.text, inside_json=True)


def _redactor(context: JobContext, entry: SchemaEntry) -> Redactor | None:
    """This job's redactor (None: no policy); a policy this worker cannot apply is a
    dead letter, never a call with the personal data in it."""
    try:
        return redactor_for(context.settings, schema_name=entry.name, kind=KIND)
    except RedactionUnavailable as exc:
        raise DeadLetter(
            DeadReason.NON_RETRYABLE, str(exc), schema_name=entry.name,
            schema_version=entry.version,
        ) from None
