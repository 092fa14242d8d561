"""Pieces of the HTTP servers that the API and the dashboard share (ASGI middleware)."""
