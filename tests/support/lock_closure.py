"""Whether ``requirements/lock.txt`` is complete and consistent on its own, without installing it.

Two halves. ``resolve_pins`` asks pip (``install --dry-run --no-deps --report``) to find a
distribution for every pin on this platform and Python, and returns each one's
``Requires-Dist``. ``unsatisfied`` then walks the requirement closure from the roots
(Sluice's own dependencies and extras, and every pin, as ``pip check`` would) with markers
evaluated for this interpreter and the extras each package is actually asked for, and names
every requirement the lock leaves out or pins at a version outside its specifier.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

# pip parses every file of a project's index page; a few concurrent pips share the work.
PIP_PROCESSES = 3


def read_pins(lock: Path) -> dict[str, Requirement]:
    """The lock's ``name==version`` lines by normalised name (comments and blanks skipped)."""
    pins: dict[str, Requirement] = {}
    for line in lock.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            pin = Requirement(text)
            pins[canonicalize_name(pin.name)] = pin
    return pins


def pinned_version(pin: Requirement) -> Version:
    (specifier,) = pin.specifier
    return Version(specifier.version)


def project_roots(pyproject: Path) -> list[Requirement]:
    """The project's dependencies and those of every extra: what the lock was compiled from."""
    project = tomllib.loads(pyproject.read_text())["project"]
    lines = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        lines.extend(extra)
    return [Requirement(line) for line in lines]


def resolve_pins(pins: Iterable[Requirement], workdir: Path) -> dict[str, list[str]]:
    """``Requires-Dist`` of each pin's distribution as pip finds it for this platform and Python.

    Fails (AssertionError with pip's words) when pip finds none for some pin.
    """
    lines = sorted(str(pin) for pin in pins)
    runs = []
    for index in range(min(PIP_PROCESSES, len(lines))):
        requirements = workdir / f"pins-{index}.txt"
        requirements.write_text("\n".join(lines[index::PIP_PROCESSES]) + "\n")
        report = workdir / f"report-{index}.json"
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
                   "--no-deps", "-qq", "--report", str(report), "-r", str(requirements)]
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )
        runs.append((process, report))
    requires: dict[str, list[str]] = {}
    failures = []
    for process, report in runs:
        out, err = process.communicate(timeout=240)
        if process.returncode != 0:
            failures.append(f"{out[-2000:]}{err[-4000:]}")
            continue
        for item in json.loads(report.read_text())["install"]:
            found = item["metadata"]
            requires[canonicalize_name(found["name"])] = found.get("requires_dist", [])
    assert not failures, "pip finds no distribution for some pin:\n" + "\n".join(failures)
    return requires


def installed_requires(pin: Requirement) -> list[str]:
    """``Requires-Dist`` of the pin as installed here, for a pin pip would build to read it."""
    try:
        installed = metadata.distribution(pin.name)
    except metadata.PackageNotFoundError:
        installed = None
    assert installed is not None and Version(installed.version) == pinned_version(pin), (
        f"{pin} is not installed here ({installed and installed.version}): its requirements are "
        "read from the installed copy; build the venv with scripts/python-env.sh"
    )
    return installed.requires or []


def unsatisfied(
    roots: Iterable[Requirement],
    pins: Mapping[str, Requirement],
    requires: Mapping[str, Iterable[str]],
) -> list[str]:
    """Every requirement in the closure of ``roots`` that the pins leave out or contradict.

    ``requires`` holds each pinned distribution's ``Requires-Dist``. A requirement counts
    when its marker holds for this interpreter with one of the extras its distribution was
    asked for (or none); the extras it names are then asked of the package it points at.
    """
    problems: list[str] = []
    asked: dict[str, set[str]] = {}
    pending: list[tuple[str, Requirement]] = [("pyproject.toml", root) for root in roots]
    while pending:
        requirer, requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        pin = pins.get(name)
        if pin is None:
            problems.append(f"{requirer} requires {requirement}: {name} is not in the lock")
            continue
        version = pinned_version(pin)
        if not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirer} requires {requirement}, the lock pins {pin}")
            continue
        new = {canonicalize_name(extra) for extra in requirement.extras} | {""}
        new -= asked.setdefault(name, set())
        if not new:
            continue
        asked[name] |= new
        if name not in requires:
            problems.append(f"{pin} has no metadata to check its requirements against")
            continue
        for line in requires[name]:
            needed = Requirement(line)
            if needed.marker is None or any(
                needed.marker.evaluate({"extra": extra}) for extra in new
            ):
                pending.append((str(pin), needed))
    return sorted(set(problems))
