"""Batch transforms: a selection of stored work, re-run as jobs with bounded fan-out."""
