"""The kind table: which modules declare job kinds in this installation.

One mechanism for built-in and plugin kinds alike: the entry-point group ``sluice.kinds``
(pyproject's ``[project.entry-points."sluice.kinds"]`` lists the built-in task modules; an
installed plugin distribution adds its own), plus the modules named in ``SLUICE_PLUGINS``
for a plugin that is not packaged. Each module declares its kinds when imported
(``@job_task(...)``); :func:`load_kinds` imports them all and installs the table in the
kernel's registry (:mod:`sluice.kinds`) for this process.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from sluice.kinds import KindTable
from sluice.kinds import load_kinds as install_kinds
from sluice.settings import Settings

ENTRY_POINT_GROUP = "sluice.kinds"


def kind_modules(settings: Settings) -> list[str]:
    """Entry-point modules first (sorted by entry name, so the order is stable), then
    ``SLUICE_PLUGINS`` in the order given."""
    found = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda entry: entry.name)
    return list(dict.fromkeys([*(entry.module for entry in found), *settings.plugins]))


def load_kinds(settings: Settings) -> KindTable:
    """Import every module that declares kinds; the table of what they declared."""
    return install_kinds(kind_modules(settings))
