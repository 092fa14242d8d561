"""The ``embed`` and ``delete`` jobs of the ``cpu`` queue: keep Qdrant equal to the warehouse.

``embed`` reads the document's current content (not what was current when the job was
queued), cleans and chunks it, and then does only the work that changed: a chunk whose
point already holds the same text under the same model is not touched; a chunk whose text
is in the embedding cache is not embedded; chunks past the new end are deleted. Re-running
it on an unchanged document therefore embeds nothing and writes nothing.

``input.collection`` sends the points to another collection than the live one (a re-embed
fills a new collection before the alias is switched to it), created on first use; the
document's bookkeeping (indexed hash, chunk count) describes the live collection and is left
alone then. A live write (no ``collection``) goes to the live collection and every other
``<alias>_*`` one, so a collection being filled by a re-embed misses no edit made meanwhile,
and one kept after a switch stays fit to switch back to. ``input.force`` re-upserts every
chunk even where the collection holds it already; the embedding cache still means an
unchanged chunk is never embedded again.

``delete`` removes every point of a document that is no longer in the warehouse, from the
live collection and every ``<alias>_*`` collection beside it.
"""

from __future__ import annotations

import functools
import hashlib
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from libs.documents.model import Document
from libs.documents.warehouse import DocumentNotFound, DocumentStore, get_documents
from libs.files.reading import UnreadableFile
from schemas.inputs.documents import DeleteInput, EmbedInput
from schemas.job import DeadReason
from sluice.job_task import DeadLetter, JobContext, Queue, job_task
from sluice.settings import Settings
from workers.embedding.cache import EmbeddingCache
from workers.embedding.chunking import chunk_budget, chunk_text
from workers.embedding.cleaning import sections
from workers.embedding.document_lock import document_lock
from workers.embedding.model import EmbeddingModel, cache_key, get_model, model_loaded
from workers.embedding.sparse import document_vector

if TYPE_CHECKING:
    from workers.embedding.vectors import VectorIndex


@functools.cache
def get_cache(cache_path: str, max_entries: int | None) -> EmbeddingCache:
    return EmbeddingCache(Path(cache_path), max_entries)


def embedding_cache(settings: Settings) -> EmbeddingCache:
    return get_cache(
        str(settings.data_dir / "embedding_cache.db"),
        settings.embedding_cache_max_entries or None,
    )


def load_resources(context: JobContext) -> tuple[EmbeddingModel, VectorIndex]:
    """The process's model and index; the first job of a process records their loading.

    Qdrant's client is imported here, by the worker that runs the job: a process that only
    loads the kind table (the API, the dashboard) never pays for it.
    """
    from workers.embedding.vectors import get_index

    if model_loaded():
        model = get_model()
        return model, get_index(context.settings, model.dimension, model.name)
    with context.step("model_load") as attrs:
        model = get_model()
        attrs["model"] = model.name
        index = get_index(context.settings, model.dimension, model.name)
    return model, index


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def embed_texts(
    texts: list[str], model: EmbeddingModel, cache: EmbeddingCache, settings: Settings
) -> tuple[dict[str, np.ndarray], int]:
    """Vectors by cache key for ``texts``; returns them and how many were computed now."""
    keys = {cache_key(model.name, text): text for text in texts}
    vectors = cache.get_many(keys)
    missing = [key for key in keys if key not in vectors]
    if missing:
        computed = model.encode([keys[key] for key in missing], settings.embedding_batch_size)
        fresh = dict(zip(missing, computed, strict=True))
        cache.put_many(fresh)
        vectors.update(fresh)
    return vectors, len(missing)


def facets(document: Document) -> tuple[str, str]:
    """(doc_type, date) as a point carries them for self-query filters: the metadata's
    ``doc_type`` and ``date`` (ISO) when given, else the content type's short name and the
    day the document was stored."""
    doc_type = document.metadata.get("doc_type")
    if not isinstance(doc_type, str) or not doc_type.strip():
        doc_type = document.content_type.name.lower()
    when = document.metadata.get("date")
    try:
        day = datetime.fromisoformat(str(when)) if when else document.created_at
    except ValueError:
        day = document.created_at
    if day.tzinfo is None:
        day = day.replace(tzinfo=UTC)
    return doc_type.strip(), day.isoformat()


def embed_document(context: JobContext, documents: DocumentStore) -> dict[str, Any]:
    from workers.embedding.vectors import ChunkPoint, point_id  # see load_resources

    settings = context.settings
    job_input = context.job.input
    model, index = load_resources(context)
    source, doc_id = job_input.get("source"), job_input.get("doc_id")
    target = str(job_input.get("collection") or settings.qdrant_collection)
    live = target == settings.qdrant_collection
    force = bool(job_input.get("force"))
    if not live:
        with context.step("collection", collection=target):
            index.ensure_collection(target)
    with context.step("load_document") as attrs:
        try:
            document = documents.get(job_input["document_id"])
        except DocumentNotFound:
            document = None
        attrs["found"] = document is not None
    if document is None:  # deleted since: its vectors must go too, wherever they are
        with context.step("qdrant_delete") as attrs:
            attrs["points"] = sum(
                index.delete_document(job_input["document_id"], source, doc_id, name)
                for name in dict.fromkeys([*index.family(), target])
            )
        return {"document_id": job_input["document_id"], "skipped": "document deleted",
                "deleted": attrs["points"]}
    source, doc_id = document.source, document.doc_id

    filename = document.metadata.get("filename")
    with context.step("cleaning", content_type=document.content_type.value) as attrs:
        try:
            text = sections(document, settings)
        except UnreadableFile as exc:
            # The raw file stays in the warehouse for a person; the job says why.
            named = f"{filename}: " if filename else ""
            raise DeadLetter(DeadReason.INVALID_INPUT, f"{named}{exc.reason}") from None
        attrs["chars"] = sum(len(page.text) for page in text.pages)
        if document.content_type.is_file:
            attrs.update(pages=len(text.pages), needs_ocr=text.needs_ocr)
    with context.step("chunking") as attrs:
        budget = chunk_budget(model.max_tokens, settings.embedding_chunk_tokens)
        # Chunked page by page: a chunk never spans two pages, so a hit names its page.
        chunks: list[str] = []
        pages: list[int | None] = []
        for page in text.pages:
            for chunk in chunk_text(
                page.text, model.tokenizer, max_tokens=budget,
                overlap=settings.embedding_chunk_overlap_tokens,
            ):
                chunks.append(chunk)
                pages.append(page.number)
        attrs.update(chunks=len(chunks), max_tokens=budget)
    hashes = [text_hash(chunk) for chunk in chunks]
    # A live write reaches every collection of the family: one a re-embed is filling (or
    # one kept after a switch, to switch back to) must not miss an edit made meanwhile.
    collections = index.family() if live else [target]
    with context.step("index_lookup", collections=len(collections)) as attrs:
        span = max(len(chunks), document.chunk_high_water)
        ids = [point_id(source, doc_id, i) for i in range(span)]
        todo: dict[str, list[int]] = {}
        stale: dict[str, list[str]] = {}
        for name in collections:
            stored = index.stored_hashes(ids, name)
            todo[name] = [i for i in range(len(chunks))
                          if force or stored.get(ids[i]) != (hashes[i], model.name)]
            stale[name] = [ids[i] for i in range(len(chunks), span) if ids[i] in stored]
        wanted = sorted({i for indexes in todo.values() for i in indexes})
        attrs.update(unchanged=len(chunks) - len(wanted), changed=len(wanted),
                     stale=sum(map(len, stale.values())), collection=target, force=force)
    cache = embedding_cache(settings)
    with context.step("embedding", model=model.name) as attrs:
        vectors, computed = embed_texts([chunks[i] for i in wanted], model, cache, settings)
        attrs.update(chunks=len(wanted), computed=computed, cached=len(wanted) - computed)
    doc_type, day = facets(document)
    with context.step("sparse_encoding") as attrs:
        sparse = {i: document_vector(chunks[i], settings.retrieval_bm25_avg_length)
                  for i in wanted}
        attrs["chunks"] = len(sparse)
    with context.step("qdrant_upsert") as attrs:
        # Raised first: a crash after the upsert still leaves the next run the true extent.
        documents.raise_high_water(document.id, len(chunks))
        upserted, batches = 0, 0
        for name in collections:
            points = [
                ChunkPoint(
                    document_id=document.id, source=source, doc_id=doc_id, chunk_index=i,
                    text=chunks[i], content_hash=hashes[i], model=model.name,
                    vector=vectors[cache_key(model.name, chunks[i])], tenant=document.tenant,
                    page=pages[i], file=filename if isinstance(filename, str) else None,
                    sparse=sparse[i], doc_type=doc_type, date=day,
                )
                for i in todo[name]
            ]
            batches += index.upsert(points, name)
            upserted += len(points)
        attrs.update(points=upserted, batches=batches)
    with context.step("tail_delete") as attrs:
        deleted = 0
        for name in collections:
            index.delete_ids(stale[name], name)
            deleted += len(stale[name])
            if document.indexed_hash is None or name != collections[0] or not live:
                # A row never indexed may stand where a deleted document of the same id
                # was, whose chunks its high-water mark knows nothing of, and a collection
                # other than the live one is not what the mark describes: by filter, then.
                deleted += index.delete_tail(source, doc_id, span, name)
        attrs["points"] = deleted
    if live:
        # The mark may come down only for the collection it describes.
        with context.step("bookkeeping"):
            documents.mark_indexed(document.id, document.content_hash, len(chunks))
    return {
        "document_id": document.id,
        "collection": target,
        "content_hash": document.content_hash,
        "chunks": len(chunks),
        "embedded": computed,
        "upserted": upserted,
        "deleted": deleted,
        **({"needs_ocr": True} if text.needs_ocr else {}),
    }


@job_task("embed", queue=Queue.CPU, input_model=EmbedInput)
def embed(context: JobContext) -> dict[str, Any]:
    documents = get_documents()
    with ExitStack() as held:
        with context.step("document_lock"):
            held.enter_context(document_lock(context.settings, context.job.input["document_id"]))
        return embed_document(context, documents)


@job_task("delete", queue=Queue.CPU, input_model=DeleteInput)
def delete(context: JobContext) -> dict[str, Any]:
    job_input = context.job.input
    documents = get_documents()
    _, index = load_resources(context)
    with ExitStack() as held:
        with context.step("document_lock"):
            held.enter_context(document_lock(context.settings, job_input["document_id"]))
        with context.step("load_document") as attrs:
            try:
                documents.get(job_input["document_id"])
                recreated = True
            except DocumentNotFound:
                recreated = False
            attrs["recreated"] = recreated
        if recreated:  # posted again since the delete: its embed job owns the points now
            return {"document_id": job_input["document_id"], "skipped": "document re-created"}
        with context.step("qdrant_delete") as attrs:
            # A change-stream delete without a pre-image knows only the document id.
            deleted = sum(
                index.delete_document(
                    job_input["document_id"], job_input.get("source"),
                    job_input.get("doc_id"), name,
                )
                for name in index.family()
            )
            attrs["points"] = deleted
        return {"document_id": job_input["document_id"], "deleted": deleted}
