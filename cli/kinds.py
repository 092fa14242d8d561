"""The kind table: which modules declare job kinds in this installation.

One mechanism for built-in and plugin kinds alike: the entry-point group ``sluice.kinds``
(pyproject's ``[project.entry-points."sluice.kinds"]`` lists the built-in task modules; an
installed plugin distribution adds its own), plus the modules named in ``SLUICE_PLUGINS``
for a plugin that is not packaged. Each module declares its kinds when imported
(``@job_task(...)``); :func:`load_kinds` imports them all and installs the table in the
kernel's registry (:mod:`sluice.kinds`) for this process.

A module that cannot be imported because an optional extra is missing (the embedding
kinds on a core install) is skipped, and recorded (:func:`unavailable_modules`): the
worker then consumes the kinds it has and says in one line what it lacks.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from cli.extras import UnavailableModule, not_consumed_line, unavailable
from sluice.kinds import KindTable
from sluice.kinds import load_kinds as install_kinds
from sluice.settings import Settings

ENTRY_POINT_GROUP = "sluice.kinds"
_skipped: list[UnavailableModule] = []


def kind_modules(settings: Settings) -> list[str]:
    """Entry-point modules first (sorted by entry name, so the order is stable), then
    ``SLUICE_PLUGINS`` in the order given."""
    found = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda entry: entry.name)
    return list(dict.fromkeys([*(entry.module for entry in found), *settings.plugins]))


def load_kinds(settings: Settings) -> KindTable:
    """Import every module that declares kinds; the table of what they declared.

    A module whose optional extra is missing is left out of the table and recorded.
    """
    importable: list[str] = []
    skipped: list[UnavailableModule] = []
    for module in kind_modules(settings):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            lost = unavailable(module, exc)
            if lost is None:
                raise
            skipped.append(lost)
            continue
        importable.append(module)
    _skipped[:] = skipped
    return install_kinds(importable)


def unavailable_modules() -> list[UnavailableModule]:
    """The kind modules the last :func:`load_kinds` skipped for a missing extra."""
    return list(_skipped)


def not_consumed() -> str | None:
    """One line naming the kinds this process lacks and the pip command that adds them."""
    return not_consumed_line(_skipped)
