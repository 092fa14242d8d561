"""Reading server-sent events off a real HTTP response, as a browser's EventSource would."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Event:
    event: str
    data: dict[str, Any]
    id: str | None
    received_at: float  # time.monotonic() when its last line arrived


def events(response: httpx.Response) -> Iterator[Event]:
    fields: dict[str, str] = {}
    data: list[str] = []
    for line in response.iter_lines():
        if line == "":
            if data or fields:
                yield Event(
                    event=fields.get("event", "message"),
                    data=json.loads("\n".join(data)) if data else {},
                    id=fields.get("id"),
                    received_at=time.monotonic(),
                )
            fields, data = {}, []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            else:
                fields[name] = value
