"""Grounding: checks of a record against its source, run through pydantic's validation context.

The grammar-constrained decoder makes anything look plausible ("5521" becomes "55210",
a missing order number becomes "10000"); only a check against the source text keeps such
records out of the sinks. A schema model reads the context in its validators:

* ``context["source"]``: the document text the model was given;
* ``context["message_date"]``: the date the message was sent (or received), if known.

The built-in ``support_ticket`` requires its email and order id to occur in the source and
its order date not to be after the message. A prompt-injected email cannot switch these off:
the context is built here from the job's input, never from anything the model says.
"""

from __future__ import annotations

from typing import Any

from workers.extraction.email_source import SourceDocument


def grounding_context(document: SourceDocument) -> dict[str, Any]:
    return {"source": document.text, "message_date": document.message_date}
