"""A core install, simulated: with this folder first on PYTHONPATH, importing the packages
the optional extras bring (or those named in SLUICE_TEST_HIDDEN_MODULES, comma-separated)
fails with ModuleNotFoundError, as on a machine where they were never installed."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

DEFAULT_HIDDEN = "sentence_transformers,qdrant_client,numpy,torch"
HIDDEN = frozenset(
    name.strip()
    for name in os.environ.get("SLUICE_TEST_HIDDEN_MODULES", DEFAULT_HIDDEN).split(",")
    if name.strip()
)


class HideModules(MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


sys.meta_path.insert(0, HideModules())
