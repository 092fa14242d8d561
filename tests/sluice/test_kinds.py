"""The kind registry: kinds declare themselves beside their task; the composition root
loads the built-in ones (entry points) and plugins (SLUICE_PLUGINS) through one mechanism."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.kinds import kind_modules, load_kinds
from sluice.celery_app import create_celery_app
from sluice.errors import KindsNotLoaded, UnknownKind
from sluice.kinds import KindTable, Queue, loaded_kinds
from sluice.settings import Settings, load_settings

BUILT_IN = {
    "echo": Queue.CPU, "embed": Queue.CPU, "delete": Queue.CPU, "search": Queue.CPU,
    "vectors.switch_alias": Queue.CPU, "extract": Queue.GPU, "ask": Queue.GPU,
    "crawl.fetch": Queue.IO, "sink.deliver": Queue.IO, "email.poll": Queue.IO,
    "batch.start": Queue.IO, "batch.advance": Queue.IO, "sluice.callback": Queue.IO,
    "retention.sweep": Queue.IO,
}
INTERNAL = {"sink.deliver", "email.poll", "batch.start", "batch.advance", "vectors.switch_alias",
            "sluice.callback", "retention.sweep"}


def settings_with(plugins: str, tmp_path: object) -> Settings:
    return load_settings(data_dir=str(tmp_path), plugins=plugins)


def test_every_built_in_kind_declares_its_queue_and_is_routed(tmp_path: object) -> None:
    kinds = load_kinds(settings_with("", tmp_path))
    assert {name: spec.queue for name, spec in kinds.items()} == BUILT_IN
    app = create_celery_app(settings_with("", tmp_path), kinds)
    assert sorted(name for name in kinds if name not in app.tasks) == []
    for name, spec in kinds.items():
        assert app.conf.task_routes[name]["queue"] == spec.queue.value


def test_internal_tasks_cannot_be_submitted_as_jobs(tmp_path: object) -> None:
    kinds = load_kinds(settings_with("", tmp_path)).submittable()
    assert "echo" in kinds and "extract" in kinds
    assert not INTERNAL & set(kinds)


def test_every_kind_has_a_typed_input_model_from_schemas(tmp_path: object) -> None:
    kinds = load_kinds(settings_with("", tmp_path))
    for name, spec in kinds.items():
        assert spec.input_model is not None, name
        assert spec.input_model.__module__.startswith("schemas."), name


def test_a_plugin_adds_its_kinds_and_only_then(tmp_path: object) -> None:
    without = load_kinds(settings_with("", tmp_path))
    assert "test.flaky" not in without
    with_plugin = load_kinds(settings_with("tests.support.kernel_tasks", tmp_path))
    assert with_plugin["test.flaky"].queue is Queue.IO
    assert "test.flaky" in with_plugin.submittable()
    assert "tests.support.kernel_tasks" in with_plugin.modules


def test_a_plugin_with_the_old_kinds_dict_still_routes(tmp_path: object) -> None:
    kinds = load_kinds(settings_with("tests.producers.batch.items,tests.support.vector_probe",
                                     tmp_path))
    assert kinds["test.vectors"].queue is Queue.CPU


def test_built_in_modules_come_from_the_entry_point_group(tmp_path: object) -> None:
    modules = kind_modules(settings_with("tests.support.kernel_tasks", tmp_path))
    assert "workers.extraction.tasks" in modules and "producers.crawl.tasks" in modules
    assert modules[-1] == "tests.support.kernel_tasks"


def test_an_unknown_kind_names_the_submittable_ones(tmp_path: object) -> None:
    kinds = load_kinds(settings_with("", tmp_path))
    with pytest.raises(UnknownKind, match=r"known kinds: .*echo"):
        kinds.spec("no.such.kind")


def test_the_loaded_table_is_the_last_one_loaded(tmp_path: object) -> None:
    kinds = load_kinds(settings_with("", tmp_path))
    assert loaded_kinds() is kinds


def test_reading_an_unloaded_table_says_who_loads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sluice.kinds

    monkeypatch.setattr(sluice.kinds, "_loaded", None)
    with pytest.raises(KindsNotLoaded, match=r"cli\.kinds\.load_kinds"):
        loaded_kinds()


def test_an_empty_table_builds_a_client_app_that_only_sends(tmp_path: object) -> None:
    app = create_celery_app(settings_with("", tmp_path))
    assert app.conf.task_routes == {}
    assert KindTable([], []).submittable() == []


TOY_KIND = '''"""A toy kind: everything it needs is in this one file."""

from pydantic import BaseModel

from sluice.job_task import JobContext, Queue, RetryPolicy, job_task


class ShoutInput(BaseModel):
    text: str


@job_task("toy.shout", queue=Queue.IO, input_model=ShoutInput, retry=RetryPolicy(limit=1))
def shout(context: JobContext) -> dict[str, str]:
    return {"text": ShoutInput.model_validate(context.job.input).text.upper()}
'''


def test_adding_a_kind_is_one_module_named_as_a_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "toy_shout_kind.py").write_text(TOY_KIND)
    monkeypatch.syspath_prepend(str(tmp_path))
    kinds = load_kinds(settings_with("toy_shout_kind", tmp_path))
    spec = kinds.spec("toy.shout")
    assert spec.queue is Queue.IO and spec.submittable
    assert spec.input_model is not None and spec.input_model.__name__ == "ShoutInput"
    assert spec.retry.limit_for(settings_with("", tmp_path)) == 1
    app = create_celery_app(settings_with("toy_shout_kind", tmp_path), kinds)
    assert app.conf.task_routes["toy.shout"] == {"queue": "io"}
    assert "toy.shout" in app.tasks
