"""The re-embed transform's closing step, without a worker: when it queues the alias switch,
and that a run driven twice queues it once."""

from __future__ import annotations

import pytest

from producers.batch.runs import BatchRun
from producers.batch.transforms import (
    SWITCH_ALIAS_KIND,
    BatchContext,
    NotFinished,
    ReEmbed,
    option_flag,
)
from sluice.stores import JobQuery
from tests.conftest import SluiceEnv


def context_for(env: SluiceEnv) -> BatchContext:
    return BatchContext(store=env.store, settings=env.settings, celery=env.celery)


def switch_jobs(env: SluiceEnv) -> int:
    return env.store.count(JobQuery(kind=SWITCH_ALIAS_KIND))


def test_a_source_filtered_re_embed_leaves_the_alias_unless_told_to_switch(
    sluice_env: SluiceEnv,
) -> None:
    run = BatchRun(transform="re-embed", filters=[("source", "email")])
    summary = ReEmbed().finish(run, context_for(sluice_env))
    assert summary["alias_switched"] is False and "switch=true" in summary["why"]
    assert switch_jobs(sluice_env) == 0

    told = BatchRun(transform="re-embed", filters=[("source", "email")],
                    options={"switch": True})
    with pytest.raises(NotFinished):  # queued; no worker here to run it
        ReEmbed().finish(told, context_for(sluice_env))
    assert switch_jobs(sluice_env) == 1


def test_finishing_twice_queues_one_switch_job_for_the_run(sluice_env: SluiceEnv) -> None:
    run = BatchRun(transform="re-embed", options={"drop_old": "true"})
    for _ in range(2):  # a resumed driver asks again
        with pytest.raises(NotFinished):
            ReEmbed().finish(run, context_for(sluice_env))
    jobs = list(sluice_env.store.iter_jobs(JobQuery(kind=SWITCH_ALIAS_KIND)))
    assert len(jobs) == 1
    assert jobs[0].input == {
        "alias": sluice_env.settings.qdrant_collection,
        "collection": f"{sluice_env.settings.qdrant_collection}_{run.id}",
        "drop_old": True, "switch_for": run.id,
    }
    assert jobs[0].sent_at is not None


@pytest.mark.parametrize(("value", "flag"), [
    (True, True), ("true", True), ("1", True), ("yes", True),
    (None, False), (False, False), ("false", False), ("0", False), ("", False),
])
def test_yes_no_options_read_json_and_schedule_strings(value: object, flag: bool) -> None:
    assert option_flag(value) is flag
