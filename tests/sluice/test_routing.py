import importlib

from sluice.celery_app import app
from sluice.routing import ROUTES, TASK_MODULES, Queue, submittable_kinds


def test_every_route_names_a_task_the_workers_register() -> None:
    for module in TASK_MODULES:
        importlib.import_module(module)
    assert sorted(name for name in ROUTES if name not in app.tasks) == []


def test_every_routed_task_goes_to_a_declared_queue() -> None:
    routes = app.conf.task_routes
    for name, route in ROUTES.items():
        assert routes[name]["queue"] == route.queue.value
        assert route.queue in Queue


def test_internal_tasks_cannot_be_submitted_as_jobs() -> None:
    kinds = submittable_kinds([])
    assert "echo" in kinds and "extract" in kinds
    assert "sink.deliver" not in kinds and "email.poll" not in kinds
