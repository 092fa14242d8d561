"""Routes for the kinds producers submit (extract, embed, delete), for tests that only
need the jobs stored and sent, not run. Loaded as a plugin; it defines no tasks."""

KINDS = {"extract": "gpu", "embed": "cpu", "delete": "cpu"}
