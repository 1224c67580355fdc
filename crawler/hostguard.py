"""Is a host on this machine, its local network, or a cloud metadata service?

A watchlist entry that names a host (a forum URL, a Mastodon or Forgejo instance, a
per-entry endpoint) makes the crawler send requests there. Pointed at `localhost`, at
`10.0.0.5` or at `169.254.169.254` (the cloud metadata service that hands out credentials),
that is a request forgery from inside the operator's network. `private_host_reason` says
why a host is such an address, or None when it is public:

    loopback    127.0.0.0/8, ::1, localhost and *.localhost
    unspecified 0.0.0.0, :: (connecting to them reaches this machine)
    link-local  169.254.0.0/16, fe80::/10
    private     10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7 (unique local)
    metadata    169.254.169.254, fd00:ec2::254, 100.100.100.200, metadata.google.internal

Names are resolved (the resolver is injectable, so tests need no DNS) and a name is private
when any of its addresses is: a public name whose DNS answers 127.0.0.1 is a loopback host.
IPv4-mapped IPv6 addresses (::ffff:10.0.0.1) are judged by the IPv4 address inside.

Pure apart from the default resolver (`socket.getaddrinfo`). The config loader refuses such
entries unless `[crawler] allow_private_hosts = true`; the spiders' PrivateHostMiddleware
refuses them again at crawl time, when a name may resolve differently.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], Iterable[str]]  # host name -> its IP addresses

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, DigitalOcean, OpenStack
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
    )
)
METADATA_NAMES = frozenset({"metadata.google.internal", "metadata.goog", "metadata"})
_NETWORKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("loopback", ("127.0.0.0/8", "::1/128")),
    ("unspecified", ("0.0.0.0/8", "::/128")),
    ("link-local", ("169.254.0.0/16", "fe80::/10")),
    ("private", ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")),
)
NETWORKS: tuple[tuple[str, tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]], ...] = tuple(
    (kind, tuple(ipaddress.ip_network(n) for n in nets)) for kind, nets in _NETWORKS
)


def system_resolver(host: str) -> list[str]:
    """Every address the system resolver gives for `host` (empty when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos]


def normalise_host(host: str) -> str:
    """`[::1]` -> `::1`, `Example.ORG.` -> `example.org`; a port is not part of a host."""
    host = host.strip().lower()
    if host.startswith("[") and "]" in host:
        host = host[1 : host.index("]")]
    return host.rstrip(".")


def address_kind(address: str | Address) -> str | None:
    """loopback, unspecified, link-local, private or metadata; None for a public address."""
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "metadata"
    for kind, networks in NETWORKS:
        if any(ip in net for net in networks):
            return kind
    return None


def private_host_reason(host: str, resolve: Resolver = system_resolver) -> str | None:
    """Why `host` may not be crawled (one phrase naming the address), or None if public."""
    name = normalise_host(host)
    if not name:
        return None
    if name == "localhost" or name.endswith(".localhost"):
        return f"{name} is a loopback address"
    if name in METADATA_NAMES:
        return f"{name} is a cloud metadata address"
    kind = address_kind(name)
    if kind is not None:
        return f"{name} is a {kind} address"
    try:
        ipaddress.ip_address(name)
        return None  # a public address literal: nothing to resolve
    except ValueError:
        pass
    for address in resolve(name):
        kind = address_kind(normalise_host(address.split("%", 1)[0]))  # drop an IPv6 zone
        if kind is not None:
            return f"{name} resolves to {address}, a {kind} address"
    return None


def is_private_host(host: str, resolve: Resolver = system_resolver) -> bool:
    return private_host_reason(host, resolve) is not None
