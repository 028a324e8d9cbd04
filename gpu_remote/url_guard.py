"""Where the worker may send a request on a user's behalf (webhooks): no SSRF into its own network.

A webhook URL is user input, posted to from the gateway's network. It must be ``http`` or
``https``, carry no credentials, and name a host whose every address is public. Refused by
default: loopback, private (RFC 1918, unique-local IPv6, shared CGNAT space), link-local, multicast,
reserved, unspecified and documentation addresses, and the cloud metadata endpoints
(``169.254.169.254``, ``fd00:ec2::254``); IPv4 inside IPv6 (mapped, NAT64, 6to4, Teredo) is judged
by the IPv4 address. An operator with in-house receivers sets ``allow_private`` (``worker serve
--webhook-allow-private``): loopback and private addresses are then allowed, link-local, multicast,
reserved, unspecified and metadata addresses still are not.

:func:`check_url` runs when a job is created (an address literal or a name that resolves only to
refused addresses is a 422 there); :func:`resolve_target` runs at every delivery: the name is
resolved once, every address is checked, and the connection goes to the checked address
(:func:`gpu_remote.webhooks.post_pinned`), so a DNS answer that changes between the check and the
connection (DNS rebinding) cannot redirect it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack instance metadata
        ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
        ipaddress.ip_address("fd00:ec2::254"),  # AWS instance metadata over IPv6
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud metadata
    }
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: private to the provider's network


class UnsafeUrl(ValueError):
    """A URL the worker will not send requests to; the message says why and what to do."""


@dataclass(frozen=True)
class Target:
    """A checked destination: connect to one of ``addresses`` (in order), present ``host`` (Host
    header, TLS server name)."""

    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]
    path: str  # path and query, at least "/"


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def address_problem(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why ``address`` is refused (a few words), or None when a webhook may go there."""
    inner = _embedded_ipv4(address)
    if inner is not None:
        problem = address_problem(inner, allow_private=allow_private)
        return f"{problem} (IPv4 {inner} inside IPv6)" if problem else None
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_link_local:
        return "a link-local address"
    if isinstance(address, ipaddress.IPv4Address) and address == ipaddress.IPv4Address("255.255.255.255"):
        return "the broadcast address"
    if address.is_loopback:  # before reserved: ::1 lies in the reserved ::/8
        return None if allow_private else "a loopback address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_global:
        return None
    if allow_private and (address.is_private or address in _SHARED):
        return None
    if address.is_private or address in _SHARED:
        return "a private address"
    return "not a public address"


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (TCP), in the resolver's order; socket.gaierror if none."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for *_rest, sockaddr in infos:
        text = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id
        if text not in seen:
            seen.append(text)
    return seen


def _split(url: str) -> tuple[str, str, int, str]:
    """Scheme, host, port, path of ``url`` after the static checks (scheme, credentials, host)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"webhook URL {url!r} is not a valid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeUrl(f"webhook URL must start with http:// or https://, not {scheme or 'no scheme'}://")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeUrl("webhook URL must not carry credentials (user:password@): sign-in is the HMAC signature")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeUrl(f"webhook URL {url!r} names no host")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return scheme, host, port or (443 if scheme == "https" else 80), path


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _refusal(url: str, host: str, address: str, problem: str) -> UnsafeUrl:
    shown = host if host == address else f"{host} ({address})"
    hint = (
        "; the worker's operator may allow private receivers with --webhook-allow-private"
        if problem in ("a loopback address", "a private address")
        else ""
    )
    return UnsafeUrl(f"webhook URL {url!r} points at {shown}, {problem}: webhooks go to public addresses only{hint}")


def check_url(url: str, *, allow_private: bool, resolver: Resolver | None = system_resolver) -> None:
    """Refuse ``url`` (:class:`UnsafeUrl`) if it can be seen now not to be a safe webhook target.

    A name that does not resolve yet is accepted (delivery checks again and retries); one that
    resolves to any refused address is refused. ``resolver=None`` skips name resolution.
    """
    scheme, host, port, _path = _split(url)
    literal = _literal(host)
    if literal is not None:
        problem = address_problem(literal, allow_private=allow_private)
        if problem:
            raise _refusal(url, host, host, problem)
        return
    if resolver is None:
        return
    try:
        addresses = resolver(host, port)
    except (OSError, UnicodeError):
        return
    for text in addresses:
        problem = address_problem(ipaddress.ip_address(text), allow_private=allow_private)
        if problem:
            raise _refusal(url, host, text, problem)


def resolve_target(url: str, *, allow_private: bool, resolver: Resolver = system_resolver) -> Target:
    """Resolve ``url``'s host once and check every address; the Target pins them.

    Raises :class:`UnsafeUrl` for a refused URL or address, OSError when the name does not resolve.
    """
    scheme, host, port, path = _split(url)
    literal = _literal(host)
    addresses = [host] if literal is not None else resolver(host, port)
    if not addresses:
        raise OSError(f"{host} resolved to no address")
    for text in addresses:
        problem = address_problem(ipaddress.ip_address(text), allow_private=allow_private)
        if problem:
            raise _refusal(url, host, text, problem)
    return Target(scheme=scheme, host=host, port=port, addresses=tuple(addresses), path=path)
