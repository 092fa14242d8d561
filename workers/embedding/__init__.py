"""Embedding: clean, chunk, embed and upsert documents into Qdrant (the ``cpu`` queue).

Importing this package registers the ``embed`` and ``delete`` job kinds and the internal
``vectors.switch_alias`` task; torch loads only when the first job needs the model.
"""

from workers.embedding import aliases, tasks

__all__ = ["aliases", "tasks"]
