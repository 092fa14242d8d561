"""An installation whose collection was made before hybrid retrieval: searches keep working
dense-only, and ``sluice batch re-embed`` builds the hybrid collection and switches to it.

The data dir is laid out first as such an installation left it (a dense-only
``<name>_initial`` behind the alias), then a real worker opens it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient
from qdrant_client.http import models as qm

from cli.embedded_redis import EmbeddedRedis
from sluice.private_files import private_directory
from tests.support.rag_env import RagEnv, rag_env

pytestmark = pytest.mark.slow

SOURCE = "legacy"
QUESTION = "What does E-4021 mean?"


def dense_only_installation(data_dir: Path, alias: str) -> None:
    folder = data_dir / "qdrant"
    private_directory(folder)
    client = QdrantClient(path=str(folder))
    try:
        client.create_collection(f"{alias}_initial", vectors_config=qm.VectorParams(
            size=384, distance=qm.Distance.COSINE))
        client.update_collection_aliases(change_aliases_operations=[
            qm.CreateAliasOperation(create_alias=qm.CreateAlias(
                collection_name=f"{alias}_initial", alias_name=alias))])
    finally:
        client.close()


@pytest.fixture(scope="module")
def rag(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RagEnv]:
    tmp = tmp_path_factory.mktemp("legacy")
    dense_only_installation(tmp / "data", "sluice_chunks")
    with rag_env(tmp, redis_server.url, qdrant_collection="sluice_chunks") as env:
        for code in ("E-4012", "E-4021", "E-4102"):
            document, _ = env.put(SOURCE, f"kb-{code}", f"Error {code} on the Aquila router: "
                                  "the firmware signature check failed.")
            assert document.embed_job_id is not None
            env.finished(document.embed_job_id)
        yield env


def search(rag: RagEnv, mode: str) -> dict[str, object]:
    job = rag.finished(rag.submit("search", {"q": QUESTION, "source": SOURCE, "k": 1,
                                             "mode": mode}).id)
    return job.result or {}


def test_the_old_collection_serves_dense_until_re_embed_switches_to_a_hybrid_one(
    rag: RagEnv,
) -> None:
    before = {mode: search(rag, mode) for mode in ("dense", "sparse", "hybrid")}
    assert {result["served"] for result in before.values()} == {"dense"}
    trace = rag.sluice.store.list_jobs(limit=1).items[0].trace
    bm25 = next(step for step in trace if step.name == "retrieval_bm25")
    assert "sluice_chunks_initial has no BM25 vector" in bm25.attrs["skipped"]

    done = subprocess.run(
        [sys.executable, "-m", "cli", "batch", "re-embed", "--timeout", "180"],
        env=rag.sluice.env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, (done.stdout, done.stderr, rag.worker_log())
    assert "finished" in done.stdout

    after = search(rag, "hybrid")
    assert after["served"] == "hybrid"
    assert after["hits"][0]["doc_id"] == "kb-E-4021"  # type: ignore[index]
    assert search(rag, "sparse")["served"] == "sparse"
