"""The SSRF guard: the crawler and job callbacks connect only to public addresses, checked
after DNS.

A link can name any host, and any host name can resolve to ``127.0.0.1``, a cloud metadata
address (``169.254.169.254``) or a service on the private network. The check therefore runs
where the connection is made: :class:`GuardedBackend` resolves the host itself, refuses
when any address is private, loopback, link-local, reserved or otherwise not global (unless
inside the caller's allowed networks, ``SLUICE_CRAWL_ALLOWED_NETWORKS`` or
``SLUICE_CALLBACK_ALLOWED_NETWORKS``), and connects to the address it checked, so a DNS
answer that changes between check and connect (rebinding) cannot slip through. Redirects
go through the same connect, so a public page redirecting to a private one is refused too.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class RefusedAddress(Exception):
    """The host resolves to an address the crawler must not reach."""

    def __init__(self, host: str, address: str, why: str) -> None:
        super().__init__(f"{host} resolves to {address} ({why}); refused by the SSRF guard")
        self.host = host
        self.address = address
        self.why = why


class AddressGuard:
    def __init__(self, allowed: Iterable[str] = ()) -> None:
        self.allowed: list[Network] = [ipaddress.ip_network(net, strict=False) for net in allowed]

    def _why_refused(self, address: IPAddress) -> str | None:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed):
            return None
        for why in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
            if getattr(address, f"is_{why}"):
                return why.replace("_", "-")
        return None if address.is_global else "not global"

    def resolve(self, host: str, port: int) -> list[str]:
        """The host's addresses, all checked; raises RefusedAddress if any is refused."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for text in addresses:
            why = self._why_refused(ipaddress.ip_address(text.split("%")[0]))
            if why is not None:
                raise RefusedAddress(host, text, why)
        return addresses


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to addresses the guard let through."""

    def __init__(self, guard: AddressGuard) -> None:
        self._guard = guard

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        last_error: Exception | None = None
        for address in self._guard.resolve(host, port):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last_error = exc
        raise last_error or httpcore.ConnectError(f"no address for {host}")


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over :class:`GuardedBackend`; no proxies (they would bypass it)."""

    def __init__(self, guard: AddressGuard, *, max_connections: int = 20) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(guard),
        )


def guarded_client(
    allowed: Iterable[str], *, timeout: float, user_agent: str
) -> httpx.Client:
    return httpx.Client(
        transport=GuardedTransport(AddressGuard(allowed)),
        timeout=timeout,
        follow_redirects=False,
        headers={"User-Agent": user_agent},
        trust_env=False,
    )
