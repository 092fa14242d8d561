"""The lock alone is complete and consistent, and every pin exists for this platform.

What a new machine meets is the lock (``requirements/lock.txt``): every requirement of every
package in it, with the extras actually asked for and markers evaluated for this Python and
platform, must be pinned there at a version its specifier allows. That includes the extras an
older pip drops (``justext`` -> ``lxml[html_clean]`` -> ``lxml_html_clean``, without which
trafilatura fails to import), and what ``pip check`` would say of the whole lock installed.

This no longer installs the lock into a fresh venv (two minutes of a suite that must fit in
twenty): CI's ``./test.sh`` is that fresh install, on a fresh machine, and the suite then
imports everything. But test.sh installs with ``-c lock`` constraints, where pip would quietly
resolve a package the lock forgot; so here pip only finds each pin's distribution
(``--dry-run --no-deps``) and ``tests/support/lock_closure.py`` walks the closure over their
metadata. llama-cpp-python is left out of pip's run: it has no wheel, so pip would build it to
read its metadata; its requirements come from the installed copy (the development venv is
built from the same pin).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.lock_closure import (
    installed_requires,
    project_roots,
    read_pins,
    resolve_pins,
    unsatisfied,
)

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "lock.txt"
BUILT_FROM_SOURCE = {"llama-cpp-python"}


def _pins(lock: Path) -> list[str]:
    pins = []
    for line in lock.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            pins.append(requirement)
    return pins


def lock_problems(lock: Path, workdir: Path) -> list[str]:
    """What is missing from or inconsistent in ``lock``; pip fails the test if a pin is absent."""
    pins = read_pins(lock)
    requires = resolve_pins(
        [pin for name, pin in pins.items() if name not in BUILT_FROM_SOURCE], workdir
    )
    for name in BUILT_FROM_SOURCE & pins.keys():
        requires[name] = installed_requires(pins[name])
    # Every pin is a root too, with no extras: what pip check says of the lock installed.
    roots = project_roots(ROOT / "pyproject.toml") + [Requirement(name) for name in pins]
    return unsatisfied(roots, pins, requires)


def test_the_lock_pins_every_dependency_exactly_and_torch_on_the_cpu_build() -> None:
    pins = _pins(LOCK)
    assert pins and all(re.fullmatch(r"[A-Za-z0-9._\[\],-]+==\S+", pin) for pin in pins), [
        pin for pin in pins if "==" not in pin
    ]
    names = {pin.split("==")[0].lower() for pin in pins}
    assert {"celery", "fastapi", "openai", "ruff", "mypy", "lxml-html-clean"} <= names
    assert any(pin.startswith("torch==") and pin.endswith("+cpu") for pin in pins)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_every_pin_exists_here_and_the_lock_holds_its_whole_closure(tmp_path: Path) -> None:
    problems = lock_problems(LOCK, tmp_path)
    assert not problems, "the lock is incomplete or inconsistent:\n" + "\n".join(problems)


def test_a_lock_missing_a_dependency_or_contradicting_one_is_refused() -> None:
    locked = ["justext==3.0.2", "lxml==6.1.3", "Jinja2==3.1.6", "markupsafe==1.0"]
    pins: dict[str, Requirement] = {
        canonicalize_name(pin.name): pin for pin in map(Requirement, locked)
    }
    requires = {
        "justext": ["lxml[html_clean]>=4.4.2", "unknown-thing; python_version < '3'"],
        "lxml": ["lxml_html_clean; extra == 'html-clean'", "BeautifulSoup4; extra == 'html5'"],
        "jinja2": ["MarkupSafe>=2.0"],
        "markupsafe": [],
    }
    roots = [Requirement("justext>=3"), Requirement("jinja2")]

    # lxml[html_clean] asks lxml's html-clean extra: the spelling differs, the extra is the same.
    assert unsatisfied(roots, pins, requires) == [
        "Jinja2==3.1.6 requires MarkupSafe>=2.0, the lock pins markupsafe==1.0",
        "lxml==6.1.3 requires lxml_html_clean; extra == \"html-clean\": "
        "lxml-html-clean is not in the lock",
    ]
    pins[canonicalize_name("lxml_html_clean")] = Requirement("lxml-html-clean==0.4.6")
    pins[canonicalize_name("markupsafe")] = Requirement("markupsafe==3.0.4")
    assert unsatisfied(roots, pins, requires) == [
        "lxml-html-clean==0.4.6 has no metadata to check its requirements against"
    ]
