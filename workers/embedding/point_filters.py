"""Qdrant payload filters for chunk points: one field, a tenant, a document."""

from __future__ import annotations

from typing import Any

from qdrant_client.http import models as qm

from schemas.principal import DEFAULT_TENANT


def match_field(key: str, value: str) -> qm.FieldCondition:
    return qm.FieldCondition(key=key, match=qm.MatchValue(value=value))


def tenant_condition(tenant: str) -> qm.Filter:
    """Points of ``tenant``; points written before tenants existed carry none and are the
    default tenant's."""
    conditions: list[Any] = [match_field("tenant", tenant)]
    if tenant == DEFAULT_TENANT:
        conditions.append(qm.IsEmptyCondition(is_empty=qm.PayloadField(key="tenant")))
    return qm.Filter(should=conditions)


def document_filter(document_id: str, source: str | None, doc_id: str | None) -> qm.Filter:
    """A document's points: by (source, doc_id) when known, else by warehouse id."""
    if source is not None and doc_id is not None:
        return qm.Filter(must=[match_field("source", source), match_field("doc_id", doc_id)])
    return qm.Filter(must=[match_field("document_id", document_id)])
