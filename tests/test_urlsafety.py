"""SSRF rules: a table of URLs that must be refused or accepted. No real DNS: a fake resolver."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from providers.errors import FetchError, UnsafeUrlError
from providers.urlsafety import (
    check_address,
    check_url,
    check_url_syntax,
    forbidden_reason,
    resolve_checked,
)

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"

DNS: dict[str, list[str]] = {
    "gbfs.example.com": [PUBLIC_V4, PUBLIC_V6],
    "xn--mnchen-3ya.example": [PUBLIC_V4],
    "localhost": ["127.0.0.1", "::1"],
    "dual.example.com": [PUBLIC_V4, "10.0.0.1"],
    "mapped.example.com": ["::ffff:169.254.169.254"],
    "intranet.example.com": ["192.168.0.10"],
}


def fake_resolver(host: str, port: int) -> list[str]:
    try:
        return DNS[host]
    except KeyError:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None


REFUSED = [
    # loopback, in every spelling
    ("http://127.0.0.1/gbfs.json", "loopback"),
    ("http://127.1/", "non-canonical"),
    ("http://2130706433/", "non-canonical"),
    ("http://0x7f000001/", "non-canonical"),
    ("http://017700000001/", "non-canonical"),
    ("http://0177.0.0.1/", "IPv4"),  # httpx itself rejects this one
    ("http://0x7f.1/", "non-canonical"),
    ("http://127.0.0.1./", "non-canonical"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "IPv6 form of 127.0.0.1"),
    ("http://[::ffff:7f00:1]/", "IPv6 form of 127.0.0.1"),
    ("http://[::7f00:1]/", "IPv6 form of 127.0.0.1"),  # IPv4-compatible
    ("http://localhost/", "loopback"),
    ("http://LOCALHOST:8080/", "loopback"),
    # private
    ("http://10.1.2.3/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://172.31.255.255/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://[fc00::1]/", "unique local"),
    ("http://[fd12:3456::1]/", "unique local"),
    ("http://intranet.example.com/", "private"),
    # link-local, cloud metadata
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fe80::1%25eth0]/", "zone id"),
    ("http://mapped.example.com/", "IPv6 form of 169.254.169.254"),
    ("http://[64:ff9b::a9fe:a9fe]/", "IPv6 form of 169.254.169.254"),  # NAT64
    ("http://[2002:a00:1::]/", "IPv6 form of 10.0.0.1"),  # 6to4
    # unspecified, CGNAT, multicast, reserved, benchmarking, documentation, site-local
    ("http://0.0.0.0/", "this network"),
    ("http://[::]/", "unspecified"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://100.127.255.254/", "carrier-grade NAT"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "reserved"),
    ("http://198.18.0.1/", "benchmarking"),
    ("http://192.0.2.1/", "documentation"),
    ("http://203.0.113.9/", "documentation"),
    ("http://[2001:db8::1]/", "documentation"),
    ("http://[2001::1]/", "Teredo"),
    ("http://[fec0::1]/", "site-local"),
    # schemes
    ("file:///etc/passwd", "scheme"),
    ("ftp://gbfs.example.com/gbfs.json", "scheme"),
    ("gopher://gbfs.example.com:70/_x", "scheme"),
    ("javascript:alert(1)", "scheme"),
    ("data:application/json,{}", "scheme"),
    # credentials, and the host hidden behind them
    ("http://user:pass@gbfs.example.com/", "credentials"),
    ("http://user@gbfs.example.com/", "credentials"),
    ("http://@gbfs.example.com/", "credentials"),
    ("http://gbfs.example.com\\@127.0.0.1/", "credentials"),
    # no host, junk host
    ("http:///gbfs.json", "no host"),
    ("http://bad host/", "invalid host name"),
    # one public and one private address: the attacker picks which one gets used
    ("https://dual.example.com/gbfs.json", "private"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_refused(url: str, reason: str) -> None:
    with pytest.raises(UnsafeUrlError) as info:
        check_url(url, resolver=fake_resolver)
    assert reason in info.value.reason
    assert info.value.url == url


ACCEPTED = [
    ("https://gbfs.example.com/gbfs.json", (PUBLIC_V4, PUBLIC_V6)),
    ("https://GBFS.example.com:8443/x?y=1", (PUBLIC_V4, PUBLIC_V6)),
    ("https://münchen.example/gbfs.json", (PUBLIC_V4,)),
    ("http://8.8.8.8/gbfs.json", ("8.8.8.8",)),
    ("http://[2606:4700:4700::1111]/", ("2606:4700:4700::1111",)),
    ("http://[64:ff9b::808:808]/", ("64:ff9b::808:808",)),  # DNS64 on an IPv6-only host
    ("http://[::ffff:8.8.8.8]/", ("::ffff:8.8.8.8",)),
]


@pytest.mark.parametrize(("url", "addresses"), ACCEPTED)
def test_accepted(url: str, addresses: tuple[str, ...]) -> None:
    target = check_url(url, resolver=fake_resolver)
    assert target.addresses == tuple(ipaddress.ip_address(a) for a in addresses)
    assert not target.allowlisted


def test_effective_port_and_host() -> None:
    target = check_url("HTTPS://GBFS.Example.com/gbfs.json", resolver=fake_resolver)
    assert (target.scheme, target.host, target.port) == ("https", "gbfs.example.com", 443)
    assert check_url("http://8.8.8.8:8080/").port == 8080


def test_allowlisted_host_skips_the_address_check_only_for_itself() -> None:
    allow = frozenset({"127.0.0.1", "localhost"})
    target = check_url("http://127.0.0.1:8080/gbfs.json", allow_hosts=allow)
    assert target.allowlisted
    assert target.addresses == (ipaddress.ip_address("127.0.0.1"),)
    assert check_url("http://localhost/", allow_hosts=allow, resolver=fake_resolver).allowlisted
    with pytest.raises(UnsafeUrlError, match="loopback"):
        check_url("http://[::1]/", allow_hosts=allow)
    with pytest.raises(UnsafeUrlError, match="private"):
        check_url("http://10.0.0.1/", allow_hosts=allow)


def test_allowlist_never_relaxes_the_syntax_rules() -> None:
    allow = frozenset({"127.1", "localhost"})
    with pytest.raises(UnsafeUrlError, match="non-canonical"):
        check_url("http://127.1/", allow_hosts=allow)
    with pytest.raises(UnsafeUrlError, match="credentials"):
        check_url("http://u:p@localhost/", allow_hosts=allow, resolver=fake_resolver)
    with pytest.raises(UnsafeUrlError, match="scheme"):
        check_url("file://localhost/etc/passwd", allow_hosts=allow, resolver=fake_resolver)


def test_syntax_check_needs_no_dns() -> None:
    def no_dns(host: str, port: int) -> list[str]:
        raise AssertionError("syntax check must not resolve")

    target = check_url_syntax("https://gbfs.example.com/gbfs.json")
    assert target.addresses == ()
    with pytest.raises(UnsafeUrlError, match="link-local"):
        check_url_syntax("http://169.254.169.254/")
    resolve_checked("8.8.8.8", 80, resolver=no_dns)  # literals are not resolved either


def test_unresolvable_host_is_a_fetch_error() -> None:
    with pytest.raises(FetchError, match="cannot resolve"):
        check_url("https://nowhere.example.com/", resolver=fake_resolver)


def test_resolver_gets_host_and_port() -> None:
    seen: list[tuple[str, int]] = []

    def recording(host: str, port: int) -> list[str]:
        seen.append((host, port))
        return [PUBLIC_V4]

    check_url("https://gbfs.example.com:8443/", resolver=recording)
    assert seen == [("gbfs.example.com", 8443)]


def test_check_address() -> None:
    assert check_address("1.1.1.1") == ipaddress.ip_address("1.1.1.1")
    assert forbidden_reason(ipaddress.ip_address("2606:4700::1")) is None
    with pytest.raises(UnsafeUrlError, match="private"):
        check_address("10.9.8.7")
    with pytest.raises(UnsafeUrlError, match="not an IP address"):
        check_address("not-an-ip")
