"""The review UI where support staff resolve dead-lettered jobs."""
