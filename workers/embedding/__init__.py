"""Embedding: clean, chunk, embed and upsert documents into Qdrant (the ``cpu`` queue).

Importing this package registers the ``embed`` and ``delete`` job kinds and the internal
``vectors.switch_alias`` task; torch loads only when the first job needs the model.
"""

import importlib.util

# The kinds declared here need the `embedding` extra at run time, but import Qdrant's client
# and torch only when a job runs (the API loads this module for the kind table). Missing,
# the package refuses to import, so the composition root leaves its kinds out.
for _package in ("numpy", "qdrant_client", "sentence_transformers", "snowballstemmer"):
    if importlib.util.find_spec(_package) is None:
        raise ModuleNotFoundError(f"No module named {_package!r}", name=_package)

from workers.embedding import aliases, tasks  # noqa: E402

__all__ = ["aliases", "tasks"]
