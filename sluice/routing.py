"""The one routing table: task name -> queue, and which tasks are job kinds.

A job's kind is the name of the Celery task that runs it. Producers enqueue by name through
:func:`sluice.enqueue.submit`, so they never import worker code. Extra kinds come from
plugin modules (``SLUICE_PLUGINS``), each with a ``KINDS`` dict of kind -> queue.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from enum import StrEnum


class Queue(StrEnum):
    IO = "io"  # fetch pages, deliver to sinks and webhooks: threads, scales with network
    CPU = "cpu"  # chunk, embed, upsert, retrieve: scales with cores
    GPU = "gpu"  # extract, generate: threads feeding the model server


@dataclass(frozen=True)
class Route:
    queue: Queue
    # A job kind that clients may submit, as opposed to an internal task.
    submittable: bool = True


ROUTES: dict[str, Route] = {
    # io: network-bound work, threads.
    "crawl.fetch": Route(Queue.IO),
    "sink.deliver": Route(Queue.IO, submittable=False),
    "email.poll": Route(Queue.IO, submittable=False),
    "batch.start": Route(Queue.IO, submittable=False),
    "batch.advance": Route(Queue.IO, submittable=False),
    # cpu: the worker that holds the embedding model and (in local mode) Qdrant.
    "echo": Route(Queue.CPU),
    "embed": Route(Queue.CPU),
    "delete": Route(Queue.CPU),
    "search": Route(Queue.CPU),
    "vectors.switch_alias": Route(Queue.CPU, submittable=False),
    # gpu: calls into the model server, which batches.
    "extract": Route(Queue.GPU),
    "ask": Route(Queue.GPU),
}

# Modules that define the tasks in ROUTES; workers import them by name.
TASK_MODULES: tuple[str, ...] = (
    "workers.echo",
    "workers.extraction.tasks",
    "workers.sinks.tasks",
    "workers.embedding",
    "workers.retrieval",
    "workers.generation",
    "producers.crawl.tasks",
    "producers.email.tasks",
    "producers.batch.tasks",
)


class UnknownKind(KeyError):
    def __init__(self, kind: str, known: list[str]) -> None:
        super().__init__(kind)
        self.kind = kind
        self.known = known

    def __str__(self) -> str:
        return f"unknown job kind {self.kind!r}; known kinds: {', '.join(self.known)}"


def plugin_routes(plugins: list[str]) -> dict[str, Route]:
    routes: dict[str, Route] = {}
    for module_name in plugins:
        module = importlib.import_module(module_name)
        kinds: dict[str, str] = getattr(module, "KINDS", {})
        for kind, queue in kinds.items():
            routes[kind] = Route(Queue(queue))
    return routes


def all_routes(plugins: list[str]) -> dict[str, Route]:
    return {**ROUTES, **plugin_routes(plugins)}


def submittable_kinds(plugins: list[str]) -> list[str]:
    return sorted(name for name, route in all_routes(plugins).items() if route.submittable)


def route_for(kind: str, plugins: list[str]) -> Route:
    routes = all_routes(plugins)
    if kind not in routes:
        raise UnknownKind(kind, submittable_kinds(plugins))
    return routes[kind]
