"""The outbound network guard (server-side request forgery protection).

Connectors and the HTTP request action may only reach public addresses unless the
operator allows more. The check runs on the address the connection is actually made
to: a resolver wrapped around aiohttp's checks every address a name resolves to, so a
name that resolves to a public address when checked and to 127.0.0.1 when connecting
(DNS rebinding) cannot slip through. Literal IP hosts never reach a resolver, so they
are checked on every request, redirects included.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from httpx_aiohttp import AiohttpTransport

from connectors.sdk.errors import ForbiddenDestinationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# IPv6 ranges that carry an IPv4 address in their last 32 bits: IPv4-compatible
# (deprecated), SIIT "IPv4-translated" and the NAT64 well-known prefix. Python calls
# them global, but on a NAT64 network 64:ff9b::a9fe:a9fe reaches 169.254.169.254.
_EMBEDS_IPV4 = (
    ipaddress.IPv6Network("::/96"),
    ipaddress.IPv6Network("::ffff:0:0:0/96"),
    ipaddress.IPv6Network("64:ff9b::/96"),
)
# The last label of a host that WHATWG URL parsers (browsers, curl) read as an IPv4
# number: "2130706433", "0x7f.1", "0177.0.0.1" all mean 127.0.0.1 to someone.
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)


class ForbiddenAddress(OSError):
    """Raised inside the connector when a resolved address is not allowed."""


@dataclass(frozen=True)
class NetworkPolicy:
    """What the operator allows besides public addresses.

    ``allow_private`` opens everything (tests, trusted installs).
    ``allowed_networks`` opens CIDR ranges (e.g. an intranet API).
    ``allowed_origins`` opens exact ``scheme://host:port`` origins (every path).
    ``allowed_urls`` opens one exact path of an origin (any query), e.g. the server's
    own demo echo endpoint, and nothing else there: not its webhooks, not its API.
    """

    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    allowed_urls: tuple[tuple[str, str], ...] = ()

    @classmethod
    def build(
        cls,
        *,
        allow_private: bool = False,
        networks: Iterable[str] = (),
        origins: Iterable[str] = (),
        urls: Iterable[str] = (),
    ) -> NetworkPolicy:
        parsed = [httpx.URL(u) for u in urls]
        return cls(
            allow_private=allow_private,
            allowed_networks=tuple(ipaddress.ip_network(n, strict=False) for n in networks),
            allowed_origins=tuple(_origin(httpx.URL(o)) for o in origins),
            allowed_urls=tuple((_origin(u), _raw_path(u)) for u in parsed),
        )

    def address_allowed(self, address: str) -> bool:
        if self.allow_private:
            return True
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in net for net in self.allowed_networks):
            return True
        return all(_public(candidate) for candidate in _with_embedded(ip))

    def origin_allowed(self, url: httpx.URL) -> bool:
        """True when the operator opened ``url``: its whole origin, or exactly its path.

        The path is compared as sent (raw, without the query): an encoded or dotted
        variant (``/demo/echo/../../hooks/x``, ``/demo%2Fecho``) is not the same URL.
        """
        origin = _origin(url)
        if origin in self.allowed_origins:
            return True
        return bool(self.allowed_urls) and (origin, _raw_path(url)) in self.allowed_urls

    def check_url(self, url: httpx.URL) -> None:
        """Refuse a literal-IP URL pointing at a forbidden address."""
        if self.allow_private or self.origin_allowed(url):
            return
        host = url.host
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            if _NUMERIC_LABEL.match(host.rstrip(".").rsplit(".", 1)[-1]):
                raise ForbiddenDestinationError(
                    f"Requests to {host} are not allowed: it is an IP address in a non-standard "
                    "form. Write IPv4 addresses as four decimal numbers, e.g. 93.184.215.14.",
                    destination=host,
                ) from None
            return  # a name: the resolver checks what it resolves to
        if not self.address_allowed(host):
            raise forbidden(host)


def _public(ip: IPAddress) -> bool:
    # is_global is False for loopback, private, link-local (incl. the cloud metadata
    # address 169.254.169.254), shared (100.64/10), reserved and unspecified ranges.
    site_local = isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local
    return ip.is_global and not ip.is_multicast and not site_local


def _with_embedded(ip: IPAddress) -> Iterator[IPAddress]:
    """The address and any IPv4 address it tunnels to (6to4, NAT64, ...)."""
    yield ip
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in net for net in _EMBEDS_IPV4):
            yield ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.sixtofour is not None:
            yield ip.sixtofour
        # Teredo (2001::/32) needs no unpacking: Python counts all of 2001::/23 as non-global.


def _origin(url: httpx.URL) -> str:
    port = url.port or (443 if url.scheme == "https" else 80)
    return f"{url.scheme}://{url.host}:{port}"


def _raw_path(url: httpx.URL) -> str:
    return url.raw_path.split(b"?", 1)[0].decode("ascii") or "/"


def forbidden(what: str) -> ForbiddenDestinationError:
    return ForbiddenDestinationError(
        f"Requests to {what} are not allowed: it is a private, loopback or link-local "
        "address. An operator can allow it with CELLWRIGHT_HTTP_ALLOWED_NETWORKS.",
        destination=what,
    )


class GuardedResolver(AbstractResolver):
    """Resolves with aiohttp's default resolver, then refuses forbidden addresses."""

    def __init__(self, policy: NetworkPolicy) -> None:
        self._policy = policy
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            if not self._policy.address_allowed(result["host"]):
                raise ForbiddenAddress(f"{host} resolves to a forbidden address")
        return results

    async def close(self) -> None:
        await self._inner.close()


def make_transport(
    policy: NetworkPolicy, *, max_connections: int = 200
) -> httpx.AsyncBaseTransport:
    """An aiohttp-backed httpx transport (≈5× httpx's default here) with the guard.

    Origins the operator allows explicitly go through an unguarded transport; the
    choice is made per request (redirects included) on the exact origin.
    """
    guarded = _aiohttp_transport(policy, max_connections)
    if policy.allow_private or not (policy.allowed_origins or policy.allowed_urls):
        return guarded
    unguarded = _aiohttp_transport(NetworkPolicy(allow_private=True), max_connections)
    return _OriginRouter(policy, guarded=guarded, unguarded=unguarded)


def _aiohttp_transport(policy: NetworkPolicy, max_connections: int) -> httpx.AsyncBaseTransport:
    def session() -> aiohttp.ClientSession:
        resolver: Any = None if policy.allow_private else GuardedResolver(policy)
        connector = aiohttp.TCPConnector(limit=max_connections, resolver=resolver, ttl_dns_cache=60)
        return aiohttp.ClientSession(connector=connector, trust_env=False)

    return AiohttpTransport(client=session, trust_env=False)


class _OriginRouter(httpx.AsyncBaseTransport):
    """Routes allowed origins to the unguarded transport, everything else to the guard.

    Not httpx ``mounts``: a mount pattern drops a default port, so allowing
    ``http://intranet`` (port 80) would have opened every port of that host.
    """

    def __init__(
        self,
        policy: NetworkPolicy,
        *,
        guarded: httpx.AsyncBaseTransport,
        unguarded: httpx.AsyncBaseTransport,
    ) -> None:
        self._policy = policy
        self._guarded = guarded
        self._unguarded = unguarded

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self._unguarded if self._policy.origin_allowed(request.url) else self._guarded
        return await transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self._guarded.aclose()
        await self._unguarded.aclose()


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        yield current
        seen.add(id(current))
        current = current.__cause__ or current.__context__


def is_forbidden_cause(exc: BaseException) -> bool:
    """True when ``exc`` was caused (anywhere in its chain) by the guard."""
    return any(isinstance(e, ForbiddenAddress | ForbiddenDestinationError) for e in _chain(exc))


def is_timeout_cause(exc: BaseException) -> bool:
    """True when a transport error really is a timeout.

    httpx-aiohttp maps every aiohttp connection error (refused, DNS failure, server
    disconnected, the guard's refusal) to ``httpx.ConnectTimeout``; when aiohttp is in
    the chain, only its own timeout classes count.
    """
    chain = list(_chain(exc))
    if any(isinstance(e, aiohttp.ClientError) for e in chain):
        return any(isinstance(e, TimeoutError) for e in chain)
    return isinstance(exc, httpx.TimeoutException | TimeoutError)
