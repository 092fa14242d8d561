"""Canonical URLs and crawl scope.

One page, one URL: scheme and host lower-cased, default ports and fragments dropped, dot
segments resolved, percent-escapes normalised, query parameters sorted and tracking
parameters (``utm_*``, ``fbclid``, ...) removed. The canonical form is the page's document
id and the crawl's duplicate key, so ``HTTP://Example.com:80/a/../b?y=2&x=1#top`` and
``http://example.com/b?x=1&y=2`` are fetched once.
"""

from __future__ import annotations

import contextlib
import posixpath
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
TRACKING_PARAMETERS = frozenset({"fbclid", "gclid", "mc_cid", "mc_eid", "msclkid", "yclid"})
SAFE_PATH = "/:@!$&'()*+,;=-._~"


class UnsupportedUrl(ValueError):
    """Not an http(s) URL with a host."""


def _normal_path(path: str) -> str:
    if not path:
        return "/"
    resolved = posixpath.normpath(unquote(path))
    if path.endswith("/") and not resolved.endswith("/"):
        resolved += "/"
    if resolved.startswith("//"):
        resolved = "/" + resolved.lstrip("/")
    return quote(resolved, safe=SAFE_PATH)


def canonical_url(url: str, base: str | None = None) -> str:
    """The canonical form of ``url`` (resolved against ``base``); raises UnsupportedUrl."""
    absolute = urljoin(base, url.strip()) if base else url.strip()
    parts = urlsplit(absolute)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise UnsupportedUrl(f"not an http(s) URL: {url!r}")
    host = parts.hostname.lower().rstrip(".")
    with contextlib.suppress(UnicodeError):
        host = host.encode("idna").decode("ascii")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError as exc:
        raise UnsupportedUrl(f"bad port in {url!r}") from exc
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not key.lower().startswith("utm_") and key.lower() not in TRACKING_PARAMETERS
    ]
    return urlunsplit((scheme, netloc, _normal_path(parts.path), urlencode(sorted(query)), ""))


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def in_scope(url: str, seed_hosts: list[str], scope: str) -> bool:
    """``site``: the seed's host or its subdomains; ``any``: every http(s) URL."""
    if scope == "any":
        return True
    host = host_of(url)
    return any(host == seed or host.endswith("." + seed) for seed in seed_hosts)
