"""Before retrieval, optional per request: query expansion and self-query, each one LLM call.

Both go through extraction's validated path: :func:`workers.extraction.model_call.call_model`
(the endpoints in order, the structured-output mode each one enforces, the budgets and kill
switch of :mod:`libs.llm`) and :func:`workers.extraction.validation.judge` (parse, then the
pydantic model). They are a help, not a requirement: an output that does not validate is
recorded in the trace with its errors and the search goes on without it. An LLM that is down
or over budget stops the job as it would an extraction (retried later, or dead-lettered).

* Expansion asks for ``k`` other wordings (:class:`schemas.retrieval.QueryReformulations`);
  each is searched like the question, and Qdrant fuses all the lists in one RRF query.
* Self-query asks for the metadata the question restricts itself to
  (:class:`schemas.retrieval.QueryFilters`: source, document type, date range), applied as
  Qdrant payload filters. A value the question does not name fails validation.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from typing import Any

from pydantic import BaseModel
from qdrant_client.http import models as qm

from libs.llm.routing import route_for
from schemas.registry import SchemaEntry
from schemas.retrieval import QueryFilters, QueryReformulations
from sluice.job_task import JobContext
from workers.extraction.decoding_schema import decoding_schema
from workers.extraction.model_call import call_model
from workers.extraction.validation import judge

EXPANSION = SchemaEntry("query_expansion", 1, QueryReformulations)
SELF_QUERY = SchemaEntry("query_filters", 1, QueryFilters)


def _ask(
    context: JobContext, entry: SchemaEntry, step: str, instructions: str, question: str,
    validation: dict[str, Any],
) -> BaseModel | None:
    """One call and its verdict, as the step ``step``; the validated model or None."""
    schema = decoding_schema(entry.model)
    content = (f"{instructions}\n\nReply with one JSON object matching this JSON schema:\n"
               f"{json.dumps(schema)}\n\nQuestion: {question.strip()}")
    messages = [{"role": "user", "content": content}]  # some chat formats drop system turns
    max_tokens = context.settings.query_llm_max_tokens
    with context.step(step) as attrs:
        route = route_for(context.settings, kind=context.job.kind, schema_name=entry.name,
                          input_chars=len(content))
        result, mode = call_model(context, entry, schema, messages, max_tokens, 0.0, route)
        verdict = judge(entry.model, result.text, result.finish_reason, validation)
        attrs.update(model=result.model, mode=mode.value, route=route.name,
                     prompt_tokens=result.prompt_tokens,
                     completion_tokens=result.completion_tokens,
                     outcome=verdict.outcome.value)
        if verdict.record is None:
            attrs["errors"] = ([error.model_dump(mode="json") for error in verdict.errors]
                               or verdict.parse_error)
            return None
        attrs["output"] = verdict.record
        return entry.model.model_validate(verdict.record, context=validation)


def expand(context: JobContext, question: str, count: int) -> list[str]:
    """Up to ``count`` reformulations of ``question`` (none when the output is invalid)."""
    found = _ask(
        context, EXPANSION, "query_expansion",
        f"Write {count} different search queries that would find the documents answering "
        "the question: other words for the same need, the product names, error codes and "
        "part numbers it mentions kept exactly as written.",
        question, {},
    )
    if not isinstance(found, QueryReformulations):
        return []
    seen = {question.strip().lower()}
    fresh = []
    for query in found.queries:
        if query.lower() not in seen:
            seen.add(query.lower())
            fresh.append(query)
    return fresh[:count]


def self_query(context: JobContext, question: str) -> QueryFilters | None:
    """The filters the question states, or None (none stated, or an invalid output)."""
    found = _ask(
        context, SELF_QUERY, "self_query",
        "Which filters does the question itself put on the documents to search? Set "
        "source or document_type only to a word written in the question; set date_from "
        "and date_to (YYYY-MM-DD) only when it names a period. Leave the rest null.",
        question, {"question": question},
    )
    if not isinstance(found, QueryFilters) or found.is_empty():
        return None
    return found


def filter_conditions(filters: QueryFilters) -> list[qm.Condition]:
    """The filters as Qdrant payload conditions (``date`` is ISO 8601 on every point)."""
    conditions: list[qm.Condition] = []
    if filters.source:
        conditions.append(qm.FieldCondition(key="source", match=qm.MatchValue(
            value=filters.source)))
    if filters.document_type:
        conditions.append(qm.FieldCondition(key="doc_type", match=qm.MatchValue(
            value=filters.document_type)))
    if filters.date_from or filters.date_to:
        start = (datetime.combine(filters.date_from, time.min, UTC)
                 if filters.date_from else None)
        end = datetime.combine(filters.date_to, time.max, UTC) if filters.date_to else None
        conditions.append(qm.FieldCondition(key="date", range=qm.DatetimeRange(
            gte=start, lte=end)))
    return conditions
