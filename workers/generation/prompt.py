"""The answer prompt: numbered sources, cite them as [n]. Versioned, so a trace says which.

Change the wording only together with ``PROMPT_VERSION``: traces, results and the stats
group answers by it. Everything goes into one user message: some chat formats (Gemma's)
silently drop ``role=system``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workers.embedding.vectors import Hit


PROMPT_VERSION = "rag-answer/v1"

INSTRUCTIONS = (
    "Answer the question using only the numbered sources below. Cite the sources you use "
    "with their numbers in square brackets, like [1]. If the sources do not contain the "
    "answer, say that you do not know."
)


def source_list(hits: list[Hit]) -> list[dict[str, Any]]:
    """What the client is told the answer is based on, in citation order."""
    return [{"n": n, **hit.as_dict()} for n, hit in enumerate(hits, start=1)]


def render(question: str, hits: list[Hit]) -> list[dict[str, str]]:
    sources = "\n\n".join(
        f"[{n}] ({hit.source}: {hit.doc_id})\n{hit.text}" for n, hit in enumerate(hits, start=1)
    ) or "(no sources found)"
    content = f"{INSTRUCTIONS}\n\nSources:\n\n{sources}\n\nQuestion: {question.strip()}\nAnswer:"
    return [{"role": "user", "content": content}]
