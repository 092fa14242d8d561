"""Split text into chunks the embedding model sees whole: windows of its own tokens.

A chunk holds at most ``max_tokens`` word-piece tokens (the model's max sequence length less
its two special tokens, or fewer), so nothing is silently truncated by the model. Consecutive
chunks share ``overlap`` tokens, so a sentence cut at a boundary is whole in one of them. A
window never ends inside a word: it backs off to the last word start. Chunks are slices of
the original text (through the tokenizer's offsets), so what is stored is what was written.
"""

from __future__ import annotations

from typing import Any

SPECIAL_TOKENS = 2  # [CLS] and [SEP]


def chunk_budget(model_max_tokens: int, wanted: int) -> int:
    return max(8, min(wanted, model_max_tokens) - SPECIAL_TOKENS)


def chunk_text(text: str, tokenizer: Any, *, max_tokens: int, overlap: int) -> list[str]:
    if not text.strip():
        return []
    overlap = max(0, min(overlap, max_tokens // 2))
    encoded = tokenizer(
        text, add_special_tokens=False, return_offsets_mapping=True, truncation=False,
        verbose=False,
    )
    offsets: list[tuple[int, int]] = [tuple(pair) for pair in encoded["offset_mapping"]]
    total = len(offsets)
    if total == 0:
        return []

    def starts_word(index: int) -> bool:
        return index == 0 or index >= total or offsets[index][0] != offsets[index - 1][1]

    chunks: list[str] = []
    start = 0
    while start < total:
        end = min(start + max_tokens, total)
        if end < total:
            cut = end
            while cut > start + 1 and not starts_word(cut):
                cut -= 1
            if cut > start + max_tokens // 2:  # a pathological "word" may still be cut
                end = cut
        piece = text[offsets[start][0]:offsets[end - 1][1]].strip()
        # A cut inside a word re-tokenizes into more pieces than it had in context; what
        # must hold is that the chunk the model sees fits, so shrink until it does.
        while end - start > 1 and token_count(tokenizer, piece) > max_tokens:
            end -= 1
            piece = text[offsets[start][0]:offsets[end - 1][1]].strip()
        chunks.append(piece)
        if end >= total:
            break
        next_start = max(end - overlap, start + 1)
        while next_start < end and not starts_word(next_start):
            next_start += 1
        start = next_start
    return [chunk for chunk in chunks if chunk]


def token_count(tokenizer: Any, text: str) -> int:
    """How many tokens the model sees for ``text``, special tokens not counted."""
    encoded = tokenizer(text, add_special_tokens=False, truncation=False, verbose=False)
    return len(encoded["input_ids"])
