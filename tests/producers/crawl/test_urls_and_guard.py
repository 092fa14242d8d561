"""Canonical URLs and the SSRF guard's address rules."""

from __future__ import annotations

import pytest

from libs.web.ssrf import AddressGuard, RefusedAddress
from producers.crawl.urls import UnsupportedUrl, canonical_url, in_scope


@pytest.mark.parametrize(("raw", "canonical"), [
    ("HTTP://Example.COM:80/a/../b?y=2&x=1#top", "http://example.com/b?x=1&y=2"),
    ("https://example.com:443", "https://example.com/"),
    ("https://example.com:8443/p/./q/", "https://example.com:8443/p/q/"),
    ("http://example.com/x?utm_source=n&id=3&fbclid=z", "http://example.com/x?id=3"),
    ("http://example.com/caf%C3%A9", "http://example.com/caf%C3%A9"),
    ("http://bücher.example/", "http://xn--bcher-kva.example/"),
])
def test_equivalent_urls_have_one_canonical_form(raw: str, canonical: str) -> None:
    assert canonical_url(raw) == canonical


def test_relative_links_resolve_and_other_schemes_are_refused() -> None:
    assert canonical_url("../c.html", "http://example.com/a/b/") == "http://example.com/a/c.html"
    for bad in ("ftp://example.com/", "javascript:alert(1)", "http:///nohost"):
        with pytest.raises(UnsupportedUrl):
            canonical_url(bad)


def test_site_scope_is_the_seed_host_and_its_subdomains() -> None:
    assert in_scope("https://help.shop.example/x", ["shop.example"], "site")
    assert not in_scope("https://evilshop.example/x", ["shop.example"], "site")
    assert in_scope("https://other.example/", ["shop.example"], "any")


@pytest.mark.parametrize(("host", "why"), [
    ("127.0.0.1", "loopback"), ("localhost", "loopback"), ("10.1.2.3", "private"),
    ("192.168.0.10", "private"), ("169.254.169.254", "link-local"), ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"), ("0.0.0.0", "unspecified"),
])
def test_the_guard_refuses_non_public_addresses_after_resolution(host: str, why: str) -> None:
    with pytest.raises(RefusedAddress) as refused:
        AddressGuard().resolve(host, 80)
    assert refused.value.why in (why, "private")  # some ranges are several things at once


def test_the_allow_list_lets_named_networks_through() -> None:
    guard = AddressGuard(["127.0.0.0/8", "10.1.0.0/16"])
    assert guard.resolve("127.0.0.1", 80) == ["127.0.0.1"]
    assert guard.resolve("10.1.2.3", 80) == ["10.1.2.3"]
    with pytest.raises(RefusedAddress):
        guard.resolve("10.2.0.1", 80)
    assert AddressGuard().resolve("8.8.8.8", 80) == ["8.8.8.8"]


