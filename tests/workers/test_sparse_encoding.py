"""The BM25 sparse vectors: words from the library tokenizer and stemmer, stable indices."""

from __future__ import annotations

from workers.embedding.sparse import document_vector, query_vector, term_index, terms


def test_codes_and_part_numbers_stay_whole_words_and_inflections_share_a_stem() -> None:
    words = terms("Resetting the Nimbus N8: error 0x4F2A, part AQU-123-B4 (Café).")

    assert "0x4f2a" in words and "123" in words and "b4" in words and "aqu" in words
    assert "cafe" in words  # accents stripped, lower-cased
    assert terms("resetting")[0] == terms("reset")[0] == "reset"
    assert ":" not in words and "," not in words and "-" not in words


def test_indices_are_stable_and_repeated_terms_weigh_more_but_saturate() -> None:
    once = document_vector("error 4012 on the router", avg_length=5)
    thrice = document_vector("error 4012 4012 4012 on", avg_length=5)
    index = term_index("4012")

    assert index == term_index("4012") and 0 <= index < 2**31
    weight_once = once.values[once.indices.index(index)]
    weight_thrice = thrice.values[thrice.indices.index(index)]
    assert weight_once < weight_thrice < 3 * weight_once
    assert once.indices == sorted(once.indices)


def test_a_query_is_its_distinct_terms_with_weight_one() -> None:
    vector = query_vector("E-4012 e-4012 what does E-4012 mean")

    assert len(vector.indices) == len(set(vector.indices)) == 5  # e, 4012, what, doe, mean
    assert set(vector.values) == {1.0}
