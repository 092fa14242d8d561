"""The acceptance gate inside an extraction: the evidence envelope, verification, the verdict.

In ``verified`` mode (``SLUICE_ACCEPTANCE``, the default) the model reads the *source view*
(:mod:`libs.acceptance.regions`: headers first, then the body) and answers
``{"record": {...}, "evidence": {"<field>": "<verbatim quote>"}}``. Each schema-valid answer
is verified against the source; a quote that does not verify becomes a field error like any
other, so the correction loop can fix it. Ambiguity is not the model's to fix: it goes to a
person. The samples that settle enum and free-text fields are drawn by the task itself
(:mod:`workers.extraction.tasks`), which owns the calls and the ledger.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel

from libs.acceptance import (
    AcceptanceVerdict,
    Check,
    FieldRule,
    SourceView,
    agree,
    correctable,
    decide,
    field_rules,
    samples_needed,
    verify,
)
from schemas.attempt import FieldError
from schemas.inputs.extract import ExtractInput
from workers.extraction.email_source import SourceDocument

VERIFIED = "verified"


@dataclass(frozen=True)
class Gate:
    """Everything the gate needs for one job: the model's rules and the source's regions."""

    model: type[BaseModel]
    rules: dict[str, FieldRule]
    view: SourceView
    message_date: date | None

    @classmethod
    def for_job(
        cls, model: type[BaseModel], request: ExtractInput, document: SourceDocument
    ) -> Gate:
        if document.body is not None:  # a raw RFC 822 message the worker read itself
            headers: dict[str, object] = {"From": document.sender, "Subject": document.subject}
            body = document.body
        elif isinstance(request.email, dict):  # text from the email producer, headers beside
            headers = {"From": request.email.get("from"), "Subject": request.email.get("subject")}
            body = document.text
        else:
            headers, body = {}, document.text
        if headers and document.message_date is not None:
            headers["Date"] = document.message_date.isoformat()
        view = SourceView.of(body, headers=headers, kind="email" if headers else "text",
                             attachments=document.attachments)
        return cls(model, field_rules(model), view, document.message_date)

    def document(self, document: SourceDocument) -> SourceDocument:
        """What the model reads: the source view, so every quote can be found in it."""
        return dataclasses.replace(document, text=self.view.text)

    @property
    def evidence_fields(self) -> list[str]:
        return [name for name, rule in self.rules.items() if rule.evidence]

    @property
    def samples_needed(self) -> int:
        """Samples in all, the accepted attempt included."""
        return samples_needed(self.rules)

    def verify(self, record: Mapping[str, Any], evidence: Mapping[str, str]) -> list[Check]:
        return verify(record, evidence, self.view, self.rules, self.message_date)

    def spelled(self, record: Mapping[str, Any], checks: list[Check]) -> dict[str, Any]:
        """``record`` with each verified value in the source's own spelling."""
        verdict = decide(self.model, record, {}, self.view, checks, self.rules)
        return dict(verdict.record or record)

    def verdict(
        self,
        record: Mapping[str, Any],
        evidence: Mapping[str, str],
        samples: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> AcceptanceVerdict:
        """The whole verdict: evidence checks, and agreement when samples are given."""
        checks = self.verify(record, evidence)
        if samples is not None:
            checks += agree([record, *samples], self.rules)
        return decide(self.model, record, evidence, self.view, checks, self.rules)


    def unverified(self) -> AcceptanceVerdict:
        """No candidate to judge (no schema-valid answer): the regions, for the reviewer."""
        return AcceptanceVerdict(
            accepted=False, regions=list(self.view.regions), source=self.view.text
        )


def envelope_schema(record_schema: dict[str, Any], evidence_fields: list[str]) -> dict[str, Any]:
    """The decoding schema of a verified extraction: the record and a quote per field."""
    quotes = {name: {"type": "string"} for name in evidence_fields}
    return {
        "type": "object",
        "properties": {
            "record": record_schema,
            "evidence": {
                "type": "object", "properties": quotes,
                "required": list(quotes), "additionalProperties": False,
            },
        },
        "required": ["record", "evidence"],
        "additionalProperties": False,
    }


def split_envelope(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The record and the quotes; an answer without the envelope is all record, no quotes."""
    record = data.get("record")
    if not isinstance(record, dict):
        return data, {}
    evidence = data.get("evidence")
    quotes = {
        str(key): value for key, value in (evidence if isinstance(evidence, dict) else {}).items()
        if isinstance(value, str)
    }
    return record, quotes


def field_errors(checks: list[Check]) -> list[FieldError]:
    """Failed checks as the field errors the ledger, the correction prompt and the error
    signature already understand (``loc`` the field, ``type`` the check)."""
    errors = []
    for check in checks:
        if check.ok:
            continue
        message = check.detail
        if check.quote:
            message += f"; your quote: {check.quote[:120]!r}"
        errors.append(FieldError(loc=[check.field], type=check.check, msg=message,
                                 input=check.value))
    return errors


__all__ = ["VERIFIED", "Gate", "correctable", "envelope_schema", "field_errors",
           "split_envelope"]
