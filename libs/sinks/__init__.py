"""Where accepted records go: the records collection, a JSONL file, a webhook.

Each sink receives the source job id as its idempotency key and must tolerate being asked
twice (a redelivered delivery job): the records collection inserts by job id, the JSONL
file is checked for the job id on a redelivery, the webhook sends ``Idempotency-Key``.
``tasks`` holds the ``sink.deliver`` job kind that drives them on the ``io`` queue.
"""

from __future__ import annotations


class SinkUnavailable(Exception):
    """The sink cannot take the record now (down, timeout, 5xx, 429): retry later."""


class SinkRefused(Exception):
    """The sink refuses this record for good (a 4xx): a person has to look."""
