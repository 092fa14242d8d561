"""Generation: retrieval-augmented answers streamed token by token (the ``gpu`` queue).

Importing this package registers the ``ask`` job kind.
"""

from workers.generation import tasks

__all__ = ["tasks"]
