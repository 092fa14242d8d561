"""How many bytes one job mutate writes to MongoDB (and so to its oplog): the whole job, as
``replace_one`` wrote it, against the changed fields only, as the store writes it now.

The oplog is a capped size, so smaller entries keep more history, and a change stream's
resume token stays in it longer. Run: ``python -m bench.mongo_mutate_size``.
"""

from __future__ import annotations

import bson

from schemas.job import Job, JobStatus, utcnow
from sluice.stores.mongo import _to_document, job_update


def main() -> None:
    job = Job.model_validate({"kind": "extract", "task_id": "t1",
                              "input": {"text": "x" * 10_000, "schema": "support_ticket"}})
    stored = _to_document(job)
    running = job.model_copy(update={"status": JobStatus.RUNNING, "deliveries": 1,
                                     "version": job.version + 1, "updated_at": utcnow(),
                                     "started_at": utcnow()})
    new = _to_document(running)
    whole, changed = len(bson.encode(new)), len(bson.encode(job_update(stored, new)))
    print(f"mutate of a job with a 10 kB input: replace {whole} bytes, "
          f"changed fields {changed} bytes ({whole / changed:.0f}x smaller)")


if __name__ == "__main__":
    main()
