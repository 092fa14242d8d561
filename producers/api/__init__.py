"""The HTTP API: services submit jobs and poll their status here."""
