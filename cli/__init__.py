"""The ``sluice`` command line (typer)."""
