"""Hostile input over the whole API, generated from its own OpenAPI by schemathesis.

Two tenants share one API. Every operation is called with examples schemathesis derives
from the schema (valid and invalid), as tenant ``acme``; each case runs twice, once as
generated and once with its path ids pointed at tenant ``globex``'s real objects. No call
may answer 5xx, and no answer to acme may carry anything of globex's (an object id, its
input, its tenant name). The three streaming operations (``/v1/jobs/{id}/events``,
``/v1/ask/stream``, ``/v1/ask/{id}/stream``) stream until a job ends, which needs
workers this test does not run; their tenant rules are in ``test_api_tenants``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cli.embedded_redis import EmbeddedRedis
from libs.access.keys import add_key
from schemas.job import DeadReason, Job, JobStatus
from schemas.principal import Scope
from tests.conftest import make_env
from tests.support.extraction_cases import TICKET_TEXT

SCOPES = [Scope.JOBS_SUBMIT, Scope.JOBS_READ, Scope.DLQ_ACT, Scope.DOCUMENTS_WRITE]
SECRET_MARK = "globex-private-7d1f"
EXAMPLES = 25
STREAMING = r"^/v1/(jobs/\{job_id\}/events|ask/stream|ask/\{job_id\}/stream)$"


@dataclass
class Fuzz:
    app: Any
    acme_key: str
    globex_ids: dict[str, str]  # path parameter name -> one of globex's objects


@pytest.fixture
def fuzz(redis_server: EmbeddedRedis, tmp_path: Path) -> Iterator[Fuzz]:
    from producers.api.app import create_app

    redis.Redis(unix_socket_path=str(redis_server.socket_path)).flushall()
    keys_file = tmp_path / "keys.jsonl"
    acme_key, _ = add_key(keys_file, tenant="acme", scopes=SCOPES, key_id="acme")
    add_key(keys_file, tenant="globex", scopes=SCOPES, key_id="globex")
    env = make_env(tmp_path, redis_server.url, api_keys_file=str(keys_file),
                   ask_wait_seconds=0.2)
    dead, _ = env.store.create(Job(
        kind="extract", tenant="globex", status=JobStatus.DEAD, reason=DeadReason.EXHAUSTED,
        input={"schema": "support_ticket", "text": f"{TICKET_TEXT} {SECRET_MARK}"},
        schema_name="support_ticket", schema_version=1, error_signature="x:y",
    ))
    done, _ = env.store.create(Job(kind="echo", tenant="globex", status=JobStatus.SUCCEEDED,
                                   input={"note": SECRET_MARK}, result={"note": SECRET_MARK}))
    yield Fuzz(create_app(env.settings), acme_key,
               {"job_id": dead.id, "id": done.id, "document_id": "globex-doc"})
    env.store.close()


def no_foreign_data(fuzz: Fuzz) -> Any:
    def check(ctx: Any, response: Any, case: Any) -> bool:
        text = response.text or ""
        # An id the caller sent may be echoed back ("no job X"): that tells nothing.
        sent = f"{case.formatted_path} {case.query} {case.body}"
        leaked = [value for value in (SECRET_MARK, "globex", *fuzz.globex_ids.values())
                  if value in text and value not in sent]
        assert not leaked, f"acme's answer carries globex's {leaked}"
        return True

    return check


# Search and ask wait for a worker's answer; this test runs none, so they answer their
# documented 504 (no answer within the wait). Every other 5xx is a failure.
WAITS_FOR_A_WORKER = {("GET", "/v1/search"), ("POST", "/v1/search"), ("POST", "/v1/ask")}


def no_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    if response.status_code == 504 and (case.method.upper(), case.path) in WAITS_FOR_A_WORKER:
        return True
    return not_a_server_error(ctx, response, case)


CHECKS = [no_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_error_and_no_foreign_data(fuzz: Fuzz, mode: GenerationMode) -> None:
    # The Python API, not schemathesis' pytest plugin: its lazy fixture loader reads a
    # pytest internal (Function._nodeid) that pytest 9 removed.
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz.app)
    headers = {"Authorization": f"Bearer {fuzz.acme_key}"}
    leak = no_foreign_data(fuzz)
    operations = [result.ok() for result in schema.get_all_operations()]
    fuzzed = [op for op in operations if not re.match(STREAMING, op.path)]
    assert len(fuzzed) >= 20, [op.label for op in operations]
    calls = 0

    for operation in fuzzed:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            nonlocal calls
            case.call_and_validate(headers=headers, checks=CHECKS, additional_checks=[leak])
            calls += 1
            foreign = {name: fuzz.globex_ids[name] for name in case.path_parameters or {}
                       if name in fuzz.globex_ids}
            if foreign:
                case.path_parameters = {**case.path_parameters, **foreign}
                case.call_and_validate(headers=headers, checks=CHECKS,
                                       additional_checks=[leak])
                calls += 1

        try:
            run()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing of this operation can be wrong
    print(f"schemathesis {mode.value}: {len(fuzzed)} operations, {calls} calls, 0 failures")
