"""Extraction: turn a document into a record a pydantic schema accepts, or a dead letter.

``tasks`` holds the ``extract`` job kind and its attempt loop; each other module is one
concern of it: ``email_source`` (the input), ``decoding_schema`` (what the endpoint is
asked to enforce), ``probe`` (what the endpoint really enforces), ``prompts`` and
``correction`` (what the model is sent), ``grounding`` (checks against the source),
``budget`` (when to stop), ``ledger`` (the attempts on record).
"""
