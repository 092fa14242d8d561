"""The BM25 side of hybrid retrieval: text to the sparse vector Qdrant indexes beside the
dense one.

Qdrant does the ranking: the collection's sparse vector has the IDF modifier, so Qdrant
keeps the document frequencies and multiplies them in at query time (a server and local
mode alike). What is stored per chunk is BM25's term-frequency part,
``tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avg_length))``; a query is its distinct
terms with weight 1.

Words come from libraries, not a hand-written regular expression: BERT's normalizer and
pre-tokenizer from Hugging Face ``tokenizers`` (already installed with the embedding model:
lower-cases, strips accents, splits on whitespace and punctuation, keeps ``0x4F2A`` or
``3539`` whole) and the Snowball English stemmer (``snowballstemmer``), so "resetting" finds
"reset". The BERT word piece vocabulary is deliberately not used: it cuts part numbers and
error codes into sub-word pieces, the very terms BM25 is here to match exactly. fastembed's
``Qdrant/bm25`` does the same job but downloads its files from a hub at run time, which
these machines cannot do. A term's index is a stable 31-bit hash of the stemmed word, so
every process and every re-embed agrees on it without a shared vocabulary.
"""

from __future__ import annotations

import functools
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

K1 = 1.2
B = 0.75


@dataclass(frozen=True)
class SparseVector:
    indices: list[int]
    values: list[float]

    def __len__(self) -> int:
        return len(self.indices)


@functools.cache
def _pipeline() -> tuple[Any, Any, Any]:
    import snowballstemmer
    from tokenizers import normalizers, pre_tokenizers

    normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=True, lowercase=True)
    return normalizer, pre_tokenizers.BertPreTokenizer(), snowballstemmer.stemmer("english")


def terms(text: str) -> list[str]:
    """The stemmed words of ``text`` in order; punctuation on its own is dropped."""
    normalizer, pre_tokenizer, stemmer = _pipeline()
    words = [word for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))]
    return list(stemmer.stemWords([word for word in words if any(c.isalnum() for c in word)]))


def term_index(term: str) -> int:
    return zlib.crc32(term.encode()) & 0x7FFFFFFF


def _by_index(weights: dict[int, float]) -> SparseVector:
    ordered = sorted(weights.items())
    return SparseVector([index for index, _ in ordered], [value for _, value in ordered])


def document_vector(text: str, avg_length: float) -> SparseVector:
    """BM25 term-frequency weights of a chunk (Qdrant supplies the IDF)."""
    words = terms(text)
    norm = K1 * (1 - B + B * len(words) / avg_length)
    weights: dict[int, float] = {}
    for term, count in Counter(words).items():
        index = term_index(term)
        weights[index] = weights.get(index, 0.0) + count * (K1 + 1) / (count + norm)
    return _by_index(weights)


def query_vector(text: str) -> SparseVector:
    """Each distinct term of the query, weight 1: the ranking is IDF times the stored tf."""
    return _by_index({term_index(term): 1.0 for term in terms(text)})
