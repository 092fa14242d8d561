"""Sluice's kernel: the job runtime. It imports nothing here, so importing one kernel module
never drags in the rest (``sluice worker`` must point prometheus-client at its multiprocess
folder before any instrument exists). The public surface, by module:

- ``sluice.settings``: ``Settings``, ``get_settings``, ``SettingsError``
- ``sluice.errors``: ``Retryable``, ``DeadLetter``, ``UnknownKind``, ``JobNotFound``, ...
- ``sluice.kinds``: ``KindSpec``, ``RetryPolicy``, ``Queue``, ``KindTable``, ``load_kinds``
- ``sluice.job_task``: ``job_task``, ``JobContext``
- ``sluice.enqueue``: ``submit``, ``send``
- ``sluice.stores``: ``JobStore``, ``JobQuery``, ``get_store``, ``open_store``
- ``sluice.celery_app``: ``create_celery_app`` (the composition root builds the app)
- ``sluice._version``: ``__version__`` (the one version source; pyproject reads it)
- ``sluice.due``: ``sweep_due`` (scheduled jobs and callbacks, by ``wake_at``);
  ``sluice.callbacks``, ``sluice.priorities``: what a job's callback and priority mean
- ``sluice.client``: ``SluiceClient``, ``AsyncSluiceClient`` (the API's client; it stands
  alone: httpx, httpx-sse and ``schemas``, nothing of the runtime); ``verify_callback``
- ``schemas.job``: ``Job``, ``JobStatus``, ``DeadReason``, ``IllegalTransition``
"""
