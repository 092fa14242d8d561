"""A test-only batch transform (loaded as a plugin): N numbered items, each a ``test.block``
job that logs its completion, so a test can count how often every item really ran."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from producers.batch.runs import BatchRun
from producers.batch.transforms import BatchContext, Item

KINDS: dict[str, str] = {}


class NumberedItems:
    name = "test.items"
    description = "N numbered test.block jobs."

    def count(self, run: BatchRun, context: BatchContext) -> int:
        return int(run.options["n"])

    def items(self, run: BatchRun, context: BatchContext, after: str | None) -> Iterator[Item]:
        start = int(after) + 1 if after is not None else 0
        for number in range(start, int(run.options["n"])):
            yield Item(f"item-{number:04d}", str(number), "test.block", {
                "release": run.options["release"], "completions": run.options["completions"],
                "item": number, "batch_run": run.id,
            })

    def finish(self, run: BatchRun, context: BatchContext) -> dict[str, Any]:
        return {}


BATCH_TRANSFORMS = {"test.items": NumberedItems()}
