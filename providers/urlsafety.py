"""SSRF rules for feed URLs: which URLs and which addresses fairtrip may fetch from.

Feed URLs come from operators and from the feeds themselves (a `gbfs.json` lists the other
files' URLs, and any response may redirect), so they are untrusted input. Fetching one must
never reach the loopback interface, the private network, or the cloud metadata service
(`169.254.169.254`).

Rules, in the order they are applied:

1. Syntax (`check_url_syntax`, no DNS): only `http`/`https`; no userinfo (`user:pass@`,
   which also hides the real host from a human reader: `http://trusted.com@evil/`); a host is
   required; an IPv6 literal may not carry a zone id. A host that "ends in a number" (the
   WHATWG URL rule) must be a canonical dotted quad: `2130706433`, `0177.0.0.1`, `0x7f.1`,
   `127.1` and `127.0.0.1.` are refused. Such spellings are read differently by different
   parsers (glibc's `inet_aton` takes them all as 127.0.0.1, Python's `ipaddress` and many
   URL parsers reject them or take them for a host name), so a check done by one parser
   can be bypassed by the one that connects. Refusing them removes the disagreement.
2. Addresses (`check_address`): every address the host resolves to must be globally
   reachable; if ANY is not, the URL is refused (an attacker controls which record a client
   picks). Refused: loopback, private (RFC 1918, `fc00::/7`), link-local (`169.254/16`,
   `fe80::/10`), unspecified, multicast, reserved, CGNAT `100.64/10`, benchmarking and
   documentation ranges, site-local `fec0::/10`, Teredo, and anything else Python's
   `ipaddress` does not call global. IPv6 addresses that embed an IPv4 address
   (IPv4-mapped, IPv4-compatible, 6to4, NAT64) are judged by the IPv4 address they reach,
   so `::ffff:127.0.0.1` is loopback while `64:ff9b::8.8.8.8` (DNS64 on an IPv6-only host)
   is fine.
3. Operator allowlist: exact lower-case host names (or IP literals) that skip rule 2. That is
   how tests and local deployments fetch from `127.0.0.1`; it never relaxes rule 1.

DNS rebinding. Checking a name and then letting the HTTP client resolve it again is not
safe: the attacker's DNS server can answer with a public address to the check and
`127.0.0.1` to the connect. So the check happens at connect time, on the addresses that are
then used: `providers.fetch` gives httpx a custom httpcore `AsyncNetworkBackend` whose
`connect_tcp(host, port)` calls `resolve_checked` once and opens the TCP connection to one of
the checked IP addresses. httpcore still sends `Host: <name>` and performs TLS with SNI and
certificate verification for the original name, because it only delegates the socket to the
backend. Proxies are disabled (`trust_env=False`): a proxy would resolve the name itself.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from providers.errors import FetchError, UnsafeUrlError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: host, port -> address strings (what `socket.getaddrinfo` answers); injectable for tests
Resolver = Callable[[str, int], Iterable[str]]

_ALLOWED_SCHEMES = {"http": 80, "https": 443}

# A host "ends in a number" (WHATWG URL standard) when its last label is decimal digits or
# 0x-hex: such a host is parsed as an IPv4 address by browsers and by inet_aton.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")
# LDH labels, plus "_" which real DNS names do contain; raw_host is already IDNA-encoded.
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?")

# Networks refused on top of the `ipaddress` properties, each with the reason reported. Some
# overlap the properties; listing them keeps the reason precise and the rule independent of
# the Python version's idea of "global".
_FORBIDDEN_NETWORKS: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = (
    (ipaddress.ip_network("0.0.0.0/8"), "'this network' (0.0.0.0/8)"),
    (ipaddress.ip_network("10.0.0.0/8"), "private (RFC 1918)"),
    (ipaddress.ip_network("100.64.0.0/10"), "carrier-grade NAT (100.64.0.0/10)"),
    (ipaddress.ip_network("127.0.0.0/8"), "loopback"),
    (ipaddress.ip_network("169.254.0.0/16"), "link-local (cloud metadata lives here)"),
    (ipaddress.ip_network("172.16.0.0/12"), "private (RFC 1918)"),
    (ipaddress.ip_network("192.0.0.0/24"), "IETF protocol assignments (192.0.0.0/24)"),
    (ipaddress.ip_network("192.0.2.0/24"), "documentation (TEST-NET-1)"),
    (ipaddress.ip_network("192.88.99.0/24"), "6to4 relay anycast (deprecated)"),
    (ipaddress.ip_network("192.168.0.0/16"), "private (RFC 1918)"),
    (ipaddress.ip_network("198.18.0.0/15"), "benchmarking (198.18.0.0/15)"),
    (ipaddress.ip_network("198.51.100.0/24"), "documentation (TEST-NET-2)"),
    (ipaddress.ip_network("203.0.113.0/24"), "documentation (TEST-NET-3)"),
    (ipaddress.ip_network("224.0.0.0/4"), "multicast"),
    (ipaddress.ip_network("240.0.0.0/4"), "reserved (240.0.0.0/4)"),
    (ipaddress.ip_network("::/128"), "unspecified"),
    (ipaddress.ip_network("::1/128"), "loopback"),
    (ipaddress.ip_network("64:ff9b:1::/48"), "local-use NAT64 (64:ff9b:1::/48)"),
    (ipaddress.ip_network("100::/64"), "discard-only (100::/64)"),
    (ipaddress.ip_network("2001::/32"), "Teredo (embeds an obfuscated IPv4 address)"),
    (ipaddress.ip_network("2001:2::/48"), "benchmarking (2001:2::/48)"),
    (ipaddress.ip_network("2001:db8::/32"), "documentation (2001:db8::/32)"),
    (ipaddress.ip_network("3fff::/20"), "documentation (3fff::/20)"),
    (ipaddress.ip_network("fc00::/7"), "unique local (fc00::/7)"),
    (ipaddress.ip_network("fe80::/10"), "link-local (fe80::/10)"),
    (ipaddress.ip_network("fec0::/10"), "site-local (fec0::/10, deprecated)"),
    (ipaddress.ip_network("ff00::/8"), "multicast"),
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


@dataclass(frozen=True, slots=True)
class ParsedTarget:
    """A URL that passed the checks, with what the connection will use.

    `host` is the ASCII (IDNA-encoded) host without IPv6 brackets, `port` the effective
    port, `addresses` the checked addresses (empty after a syntax-only check of a name).
    """

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]
    allowlisted: bool


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it is one of the embedding forms."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why fetching from `ip` is refused, or None when it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return "IPv6 address with a zone id"
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            inner = forbidden_reason(embedded)
            return None if inner is None else f"an IPv6 form of {embedded}, which is {inner}"
    for network, reason in _FORBIDDEN_NETWORKS:
        if ip.version == network.version and ip in network:
            return reason
    properties = (
        (ip.is_loopback, "loopback"),
        (ip.is_private, "private"),
        (ip.is_link_local, "link-local"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_multicast, "multicast"),
        (ip.is_reserved, "reserved"),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "site-local"),
        (not ip.is_global, "not globally reachable"),
    )
    return next((reason for flagged, reason in properties if flagged), None)


def check_address(ip: str | IPAddress, *, url: str = "") -> IPAddress:
    """Parse `ip` and refuse it (UnsafeUrlError naming `url`) unless it is public."""
    try:
        address = ip if not isinstance(ip, str) else ipaddress.ip_address(ip)
    except ValueError as exc:
        raise UnsafeUrlError(url or str(ip), f"not an IP address: {ip!r}") from exc
    reason = forbidden_reason(address)
    if reason is not None:
        raise UnsafeUrlError(url or str(ip), f"address {address} is {reason}")
    return address


def _literal_address(host: str, *, url: str) -> IPAddress | None:
    """The address an IP-literal host denotes, None for a host name; odd spellings refused."""
    if ":" in host:
        if "%" in host:
            raise UnsafeUrlError(url, "IPv6 zone ids are not allowed")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise UnsafeUrlError(url, f"invalid IPv6 literal {host!r}") from exc
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        try:
            address = ipaddress.IPv4Address(host)
        except ValueError:
            address = None
        if address is None or str(address) != host:
            raise UnsafeUrlError(
                url,
                f"host {host!r} is a non-canonical IPv4 spelling (resolvers disagree on "
                "what it means); write the dotted quad",
            )
        return address
    if not _HOST_NAME.fullmatch(host):
        raise UnsafeUrlError(url, f"invalid host name {host!r}")
    return None


def check_url_syntax(url: str, *, allow_hosts: frozenset[str] = frozenset()) -> ParsedTarget:
    """Every check that needs no DNS: scheme, userinfo, host spelling, IP-literal addresses.

    A host name comes back with no `addresses`; they are checked when the connection is
    made (see the module docstring).
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise UnsafeUrlError(url, f"not a valid URL: {exc}") from exc
    if parsed.scheme not in _ALLOWED_SCHEMES:
        raise UnsafeUrlError(url, f"scheme {parsed.scheme!r} is not http or https")
    # httpx drops an empty userinfo ("http://@host/"); urlsplit sees the "@" either way.
    if parsed.userinfo or "@" in urlsplit(url).netloc:
        raise UnsafeUrlError(url, "credentials in the URL (user:pass@) are not allowed")
    host = parsed.raw_host.decode("ascii").lower()
    if not host:
        raise UnsafeUrlError(url, "no host")
    port = parsed.port if parsed.port is not None else _ALLOWED_SCHEMES[parsed.scheme]
    if not 0 < port < 65536:
        raise UnsafeUrlError(url, f"port {port} out of range")
    allowlisted = host in allow_hosts
    literal = _literal_address(host, url=url)
    addresses: tuple[IPAddress, ...] = ()
    if literal is not None:
        addresses = (literal if allowlisted else check_address(literal, url=url),)
    return ParsedTarget(url, parsed.scheme, host, port, addresses, allowlisted)


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the operating system's `getaddrinfo` (TCP addresses, v4 and v6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def resolve_checked(
    host: str,
    port: int,
    *,
    allow_hosts: frozenset[str] = frozenset(),
    resolver: Resolver | None = None,
) -> tuple[IPAddress, ...]:
    """Resolve `host` once and return its addresses, refusing if ANY of them is not public.

    The addresses returned are the ones to connect to (never resolve again). Raises
    UnsafeUrlError for a forbidden address or host spelling, OSError when the name does not
    resolve.
    """
    host = host.lower()
    where = f"{host}:{port}"
    literal = _literal_address(host, url=where)
    allowlisted = host in allow_hosts
    if literal is not None:
        return (literal if allowlisted else check_address(literal, url=where),)
    answers = list(dict.fromkeys((resolver or system_resolver)(host, port)))
    if not answers:
        raise OSError(f"{host!r} resolved to no address")
    if allowlisted:
        return tuple(ipaddress.ip_address(answer) for answer in answers)
    return tuple(check_address(answer, url=where) for answer in answers)


def check_url(
    url: str,
    *,
    allow_hosts: frozenset[str] = frozenset(),
    resolver: Resolver | None = None,
) -> ParsedTarget:
    """Full check of a URL, DNS included; use it to refuse a bad feed URL at registration.

    Raises UnsafeUrlError when the URL or any address its host resolves to is forbidden,
    FetchError when the host does not resolve. Passing this check does not make a later
    fetch safe by itself: the fetcher checks again at connect time (DNS can change).
    """
    target = check_url_syntax(url, allow_hosts=allow_hosts)
    if target.addresses:
        return target
    try:
        addresses = resolve_checked(
            target.host, target.port, allow_hosts=allow_hosts, resolver=resolver
        )
    except UnsafeUrlError as exc:
        raise UnsafeUrlError(url, exc.reason) from exc
    except OSError as exc:
        raise FetchError(url, f"cannot resolve {target.host!r}: {exc}") from exc
    return ParsedTarget(url, target.scheme, target.host, target.port, addresses, target.allowlisted)


__all__ = [
    "IPAddress",
    "ParsedTarget",
    "Resolver",
    "check_address",
    "check_url",
    "check_url_syntax",
    "forbidden_reason",
    "resolve_checked",
    "system_resolver",
]
