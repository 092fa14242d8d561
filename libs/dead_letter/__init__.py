"""Acting on dead-lettered jobs: claims, requeue, resolve, discard (API, CLI, dashboard)."""
