"""Where webhooks may point: the guard against server-side request forgery (SSRF).

A webhook makes lectern's server send POSTs to a URL a tenant chose. Left open, a tenant
could aim it at the server's own loopback services, the cloud metadata endpoint
(169.254.169.254) or hosts of the private network lectern runs in. So by default a URL must
be http or https and every address its host resolves to must be globally routable: not
loopback, link-local, private, shared (100.64/10), unspecified, multicast or reserved (an
IPv4 address mapped into IPv6 is judged as the IPv4 address).

The check runs when the URL is set (`set_webhook`: 422 `webhook_url_refused`) and again
before every delivery, since DNS answers change: a name that resolved to a public address
yesterday may resolve to 127.0.0.1 today. At delivery the sender then connects to the address
it checked (`Checked.address`), keeping the host name for the `Host` header and TLS, so a
second DNS answer cannot slip in between check and connection.

A self-hosted team that delivers to internal hosts sets `allow_private` (everything goes, no
resolution), or lists `allowed` host names and networks: a URL whose host is a listed name,
or whose every address lies in a listed network, passes.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pipelines.errors import PipelineError

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]


class WebhookUrlRefused(PipelineError):
    """The webhook URL points where lectern does not send requests; `details.reason` says
    why (scheme, no host, unresolvable, or the kind of address it resolves to)."""

    code = "webhook_url_refused"
    http_status = 422


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to for a TCP connection (the system resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Checked:
    """A URL the guard let through: its host, port, and the address to connect to (None when
    the guard resolved nothing: `allow_private`, or a host allowed by name)."""

    url: str
    host: str
    port: int
    address: str | None


def parse_allowed(entries: Sequence[str]) -> tuple[frozenset[str], tuple[IpNetwork, ...]]:
    """Allow-list entries as (host names, networks): an entry that parses as an address or a
    CIDR network is a network, any other a host name (compared case-insensitively)."""
    names: set[str] = set()
    networks: list[IpNetwork] = []
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry.lower().rstrip("."))
    return frozenset(names), tuple(networks)


@dataclass(frozen=True)
class UrlGuard:
    """Decides whether a webhook URL may be called (see the module docstring)."""

    allow_private: bool = False
    allowed: tuple[str, ...] = ()
    resolver: Resolver = field(default=resolve, compare=False)

    def check(self, url: str) -> Checked:
        """The URL with the address to connect to, or `WebhookUrlRefused`."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise WebhookUrlRefused("a webhook URL must be http or https", url=url,
                                    reason="scheme")
        try:
            host, port = parts.hostname, parts.port or (443 if scheme == "https" else 80)
        except ValueError as exc:  # a port out of range or not a number
            raise WebhookUrlRefused("the webhook URL's port is not valid", url=url,
                                    reason="port") from exc
        if not host:
            raise WebhookUrlRefused("the webhook URL has no host", url=url, reason="host")
        host = host.lower().rstrip(".")
        names, networks = parse_allowed(self.allowed)
        if self.allow_private or host in names:
            return Checked(url, host, port, None)
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0])
                         for a in self.resolver(host, port)]
        except (OSError, UnicodeError, ValueError) as exc:
            raise WebhookUrlRefused("the webhook URL's host does not resolve", url=url,
                                    host=host, reason="unresolvable") from exc
        if not addresses:
            raise WebhookUrlRefused("the webhook URL's host does not resolve", url=url,
                                    host=host, reason="unresolvable")
        for address in addresses:
            kind = refused_kind(address)
            if kind and not any(address in network for network in networks):
                raise WebhookUrlRefused(
                    f"the webhook URL's host resolves to a {kind} address; set "
                    "LECTERN_WEBHOOK_ALLOW_PRIVATE or LECTERN_WEBHOOK_ALLOWED_HOSTS to allow "
                    "internal receivers", url=url, host=host, address=str(address),
                    reason=kind)
        return Checked(url, host, port, str(addresses[0]))


def refused_kind(address: IpAddress) -> str | None:
    """Why a webhook must not be sent to `address` ("loopback", "link-local", ...), or None
    for a globally routable unicast address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    checks = (("unspecified", address.is_unspecified), ("loopback", address.is_loopback),
              ("link-local", address.is_link_local), ("multicast", address.is_multicast),
              ("private", address.is_private), ("reserved", address.is_reserved))
    for kind, hit in checks:
        if hit:
            return kind
    return None if address.is_global else "non-global"
