"""The version of Sluice: the one place it is written (pyproject.toml reads it here through
``[tool.hatch.version]``; the API's OpenAPI and ``sluice --version`` import it)."""

__version__ = "0.1.0"
