"""The outbound network guard (SSRF): address rules, and real requests on loopback.

Loopback is exactly what the guard forbids, so the servers here double as "internal
services": with the default policy nothing may reach them, not even through a
redirect from a server the operator allowed.
"""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import httpx
import pytest
from httpx_aiohttp import AiohttpTransport
from pytest_httpserver import HTTPServer

from connectors.sdk import ForbiddenDestinationError, NetworkPolicy, build_http
from connectors.sdk.netguard import (
    ForbiddenAddress,
    GuardedResolver,
    forbidden,
    is_forbidden_cause,
    is_timeout_cause,
    make_transport,
)


@pytest.fixture(scope="module")
def internal() -> Iterator[HTTPServer]:
    """An "internal service" on loopback that must stay unreachable by default."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture(scope="module")
def public() -> Iterator[HTTPServer]:
    """Stands for a public server (allowed by origin) that redirects inward."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture(autouse=True)
def _clean(internal: HTTPServer, public: HTTPServer) -> Iterator[None]:
    internal.clear()
    public.clear()
    internal.expect_request("/secret").respond_with_json({"secret": "internal data"})
    yield


# -- which addresses are public -----------------------------------------------------

FORBIDDEN = [
    "127.0.0.1",
    "127.255.255.254",  # loopback
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",  # private
    "169.254.169.254",
    "169.254.0.1",  # link-local, cloud metadata
    "100.64.0.1",  # shared (carrier-grade NAT)
    "0.0.0.0",
    "0.1.2.3",  # "this network"
    "255.255.255.255",
    "240.0.0.1",  # broadcast, reserved
    "224.0.0.1",
    "239.255.255.250",  # multicast
    "192.0.2.1",
    "198.18.0.1",  # documentation, benchmarking
    "::1",
    "::",
    "fe80::1",
    "fe80::1%eth0",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "fec0::1",  # deprecated site-local
    "2001:db8::1",  # documentation
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",  # IPv4-mapped
    "::127.0.0.1",  # IPv4-compatible
    "::ffff:0:127.0.0.1",  # SIIT IPv4-translated
    "64:ff9b::169.254.169.254",
    "64:ff9b::7f00:1",  # NAT64 to metadata / loopback
    "2002:7f00:1::1",
    "2002:a9fe:a9fe::",  # 6to4 of loopback / metadata
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo
]

PUBLIC = [
    "93.184.215.14",
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_default_policy_forbids(address: str) -> None:
    assert not NetworkPolicy().address_allowed(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_default_policy_allows_public(address: str) -> None:
    assert NetworkPolicy().address_allowed(address)


@pytest.mark.parametrize("address", FORBIDDEN)
def test_allow_private_allows_everything(address: str) -> None:
    assert NetworkPolicy.build(allow_private=True).address_allowed(address)


def test_allowed_networks_open_only_their_range() -> None:
    policy = NetworkPolicy.build(networks=["10.0.0.0/8", "fd00::/8", "192.168.1.7"])
    assert policy.address_allowed("10.20.30.40")
    assert policy.address_allowed("::ffff:10.1.1.1")  # mapped form of an allowed address
    assert policy.address_allowed("fd12::1")
    assert policy.address_allowed("192.168.1.7")
    assert not policy.address_allowed("192.168.1.8")
    assert not policy.address_allowed("127.0.0.1")
    assert not policy.address_allowed("169.254.169.254")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://[::1]:8080/",
        "https://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0:8000/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://10.0.0.5/",
        "http://[fe80::1%25eth0]/",
    ],
)
def test_check_url_refuses_literal_ips(url: str) -> None:
    with pytest.raises(ForbiddenDestinationError) as info:
        NetworkPolicy().check_url(httpx.URL(url))
    assert info.value.code == "forbidden_destination"
    assert "not allowed" in info.value.message
    assert "CELLWRIGHT_HTTP_ALLOWED_NETWORKS" in info.value.message


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0x7f000001/",
        "http://127.1/",
        "http://0x7f.1/",
        "http://017700000001/",
        "http://10.1/",
        "http://a.0x10/",
    ],
)
def test_check_url_refuses_numeric_host_forms(url: str) -> None:
    """Browsers and curl read these as IPv4 (2130706433 == 127.0.0.1): refuse, don't guess."""
    with pytest.raises(ForbiddenDestinationError, match="non-standard form"):
        NetworkPolicy().check_url(httpx.URL(url))


def test_check_url_leaves_names_and_public_ips_to_the_resolver() -> None:
    policy = NetworkPolicy()
    policy.check_url(httpx.URL("https://api.example.com/v1"))
    policy.check_url(httpx.URL("https://93.184.215.14/"))
    policy.check_url(httpx.URL("https://1password.com/"))  # digits, but not a numeric last label
    NetworkPolicy.build(allow_private=True).check_url(httpx.URL("http://127.0.0.1/"))


def test_origins_are_exact() -> None:
    policy = NetworkPolicy.build(origins=["http://127.0.0.1:8000", "https://intranet"])
    assert policy.allowed_origins == ("http://127.0.0.1:8000", "https://intranet:443")
    assert policy.origin_allowed(httpx.URL("http://127.0.0.1:8000/x"))
    assert not policy.origin_allowed(httpx.URL("http://127.0.0.1:8001/x"))
    assert not policy.origin_allowed(httpx.URL("https://127.0.0.1:8000/x"))
    assert policy.origin_allowed(httpx.URL("https://intranet/x"))
    assert not policy.origin_allowed(httpx.URL("https://intranet:8443/x"))
    policy.check_url(httpx.URL("http://127.0.0.1:8000/"))
    with pytest.raises(ForbiddenDestinationError):
        policy.check_url(httpx.URL("http://127.0.0.1:8001/"))


def test_forbidden_error_names_the_destination() -> None:
    error = forbidden("10.0.0.1")
    assert error.details == {"destination": "10.0.0.1"}
    assert error.to_dict()["code"] == "forbidden_destination"


# -- error classification -----------------------------------------------------------


def _chained(*excs: BaseException) -> BaseException:
    """``excs[0]`` raised from ``excs[1]`` raised from ..."""
    for outer, inner in zip(excs, excs[1:], strict=False):
        outer.__cause__ = inner
    return excs[0]


def test_is_forbidden_cause_walks_the_chain() -> None:
    assert is_forbidden_cause(
        _chained(httpx.ConnectError("x"), OSError("y"), ForbiddenAddress("z"))
    )
    assert is_forbidden_cause(ForbiddenDestinationError("no"))
    assert not is_forbidden_cause(_chained(httpx.ConnectError("x"), OSError("y")))
    loop = httpx.ConnectError("x")
    loop.__cause__ = loop  # a cycle must not hang the walk
    assert not is_forbidden_cause(loop)


def test_is_timeout_cause_trusts_aiohttp_over_httpx_aiohttp_mapping() -> None:
    key = None  # aiohttp exceptions accept any connection key for their message
    refused = aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused"))  # type: ignore[arg-type]
    assert not is_timeout_cause(_chained(httpx.ConnectTimeout("mapped"), refused))
    assert is_timeout_cause(
        _chained(httpx.ConnectTimeout("mapped"), aiohttp.ConnectionTimeoutError("slow"))
    )
    assert is_timeout_cause(
        _chained(httpx.ReadTimeout("mapped"), aiohttp.SocketTimeoutError("slow"))
    )
    assert is_timeout_cause(httpx.ReadTimeout("plain httpx transport"))
    assert not is_timeout_cause(httpx.ConnectError("plain httpx transport"))


# -- the resolver and the transport -------------------------------------------------


async def test_guarded_resolver_refuses_a_name_resolving_to_loopback() -> None:
    resolver = GuardedResolver(NetworkPolicy())
    try:
        with pytest.raises(ForbiddenAddress, match="localhost resolves to a forbidden address"):
            await resolver.resolve("localhost", 80)
    finally:
        await resolver.close()


async def test_guarded_resolver_returns_addresses_of_allowed_networks() -> None:
    resolver = GuardedResolver(NetworkPolicy.build(networks=["127.0.0.0/8", "::1/128"]))
    try:
        results = await resolver.resolve("localhost", 80)
    finally:
        await resolver.close()
    assert results and all(r["host"] in ("127.0.0.1", "::1") for r in results)


async def test_make_transport_routes_only_allowed_origins_around_the_guard() -> None:
    plain = make_transport(NetworkPolicy())
    assert isinstance(plain, AiohttpTransport)
    assert isinstance(
        make_transport(NetworkPolicy.build(allow_private=True, origins=["http://x:1"])),
        AiohttpTransport,
    )
    routed = make_transport(NetworkPolicy.build(origins=["http://x:1"]))
    assert not isinstance(routed, AiohttpTransport)
    await routed.aclose()
    await plain.aclose()


# -- real requests ------------------------------------------------------------------


async def _get(policy: NetworkPolicy, url: str) -> httpx.Response:
    http = build_http(app_key="probe", policy=policy)
    try:
        return await http.request("GET", url)
    finally:
        await http.aclose()


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}/secret",
        "http://localhost:{port}/secret",  # a name that resolves to 127.0.0.1
        "http://[::1]:{port}/secret",
        "http://[::ffff:127.0.0.1]:{port}/secret",
        "http://0.0.0.0:{port}/secret",
        "http://2130706433:{port}/secret",
        "http://127.1:{port}/secret",
    ],
)
async def test_default_policy_never_reaches_loopback(internal: HTTPServer, template: str) -> None:
    with pytest.raises(ForbiddenDestinationError) as info:
        await _get(NetworkPolicy(), template.format(port=internal.port))
    assert info.value.code == "forbidden_destination"
    assert not info.value.retryable
    assert internal.log == []


async def test_a_name_resolving_to_loopback_is_reported_as_forbidden_not_as_a_timeout(
    internal: HTTPServer,
) -> None:
    # httpx-aiohttp maps the resolver's refusal to httpx.ConnectTimeout; it used to
    # surface as a retryable "timed out".
    with pytest.raises(ForbiddenDestinationError, match="Requests to localhost are not allowed"):
        await _get(NetworkPolicy(), f"http://localhost:{internal.port}/secret")


async def test_redirect_from_an_allowed_server_to_loopback_is_refused(
    internal: HTTPServer, public: HTTPServer
) -> None:
    policy = NetworkPolicy.build(origins=[f"http://127.0.0.1:{public.port}"])
    public.expect_request("/ok").respond_with_json({"ok": True})
    for n, target in enumerate(
        [
            f"http://127.0.0.1:{internal.port}/secret",
            f"http://localhost:{internal.port}/secret",
            f"http://[::ffff:127.0.0.1]:{internal.port}/secret",
            f"http://localhost:{public.port}/ok",  # same port, other origin: still guarded
        ]
    ):
        public.expect_request(f"/hop{n}").respond_with_data(
            "", status=302, headers={"Location": target}
        )
        assert (await _get(policy, f"http://127.0.0.1:{public.port}/ok")).json() == {"ok": True}
        with pytest.raises(ForbiddenDestinationError) as info:
            await _get(policy, f"http://127.0.0.1:{public.port}/hop{n}")
        assert info.value.details["destination"] in ("127.0.0.1", "localhost", "::ffff:127.0.0.1")
    assert internal.log == []


async def test_redirect_to_loopback_through_a_307_keeps_being_checked(
    internal: HTTPServer, public: HTTPServer
) -> None:
    policy = NetworkPolicy.build(origins=[f"http://127.0.0.1:{public.port}"])
    public.expect_request("/a").respond_with_data(
        "", status=307, headers={"Location": f"http://127.0.0.1:{public.port}/b"}
    )
    public.expect_request("/b").respond_with_data(
        "", status=301, headers={"Location": f"http://0.0.0.0:{internal.port}/secret"}
    )
    http = build_http(app_key="probe", policy=policy)
    with pytest.raises(ForbiddenDestinationError):
        await http.request("POST", f"http://127.0.0.1:{public.port}/a", json={"x": 1})
    await http.aclose()
    assert [entry[0].path for entry in public.log] == ["/a", "/b"]
    assert internal.log == []


async def test_allowed_origin_on_the_default_port_does_not_open_other_ports(
    internal: HTTPServer,
) -> None:
    # httpx mount patterns drop a default port: allowing "http://localhost" used to
    # open every port of localhost.
    with pytest.raises(ForbiddenDestinationError):
        await _get(
            NetworkPolicy.build(origins=["http://localhost"]),
            f"http://localhost:{internal.port}/secret",
        )
    assert internal.log == []


async def test_allowed_origin_is_reachable(internal: HTTPServer) -> None:
    for origin in (f"http://127.0.0.1:{internal.port}", f"http://localhost:{internal.port}"):
        response = await _get(NetworkPolicy.build(origins=[origin]), f"{origin}/secret")
        assert response.json() == {"secret": "internal data"}


async def test_allowed_network_is_reachable_by_ip_and_by_name(internal: HTTPServer) -> None:
    policy = NetworkPolicy.build(networks=["127.0.0.0/8"])
    assert (await _get(policy, f"http://127.0.0.1:{internal.port}/secret")).status_code == 200
    assert (await _get(policy, f"http://localhost:{internal.port}/secret")).status_code == 200
    with pytest.raises(ForbiddenDestinationError):
        await _get(policy, f"http://[::1]:{internal.port}/secret")


async def test_allow_private_reaches_loopback(internal: HTTPServer) -> None:
    policy = NetworkPolicy.build(allow_private=True)
    for host in ("127.0.0.1", "localhost", "0.0.0.0", "[::ffff:127.0.0.1]"):  # noqa: S104 - a URL, not a bind
        response = await _get(policy, f"http://{host}:{internal.port}/secret")
        assert response.json() == {"secret": "internal data"}


# -- one allowed URL (the demo echo endpoint), not its whole origin ---------------------------


def test_an_allowed_url_opens_that_path_only() -> None:
    policy = NetworkPolicy.build(urls=["http://127.0.0.1:8000/demo/echo"])
    assert policy.allowed_urls == (("http://127.0.0.1:8000", "/demo/echo"),)
    assert policy.origin_allowed(httpx.URL("http://127.0.0.1:8000/demo/echo"))
    assert policy.origin_allowed(httpx.URL("http://127.0.0.1:8000/demo/echo?to=sales"))
    for other in (
        "http://127.0.0.1:8000/hooks/abc",  # a scenario's own webhook: would trigger itself
        "http://127.0.0.1:8000/api/v1/scenarios",
        "http://127.0.0.1:8000/demo/echo/../../hooks/abc",  # httpx resolves the dots: /hooks/abc
        "http://127.0.0.1:8000/demo%2Fecho",
        "http://127.0.0.1:8000/demo/echo/x",
        "http://127.0.0.1:8001/demo/echo",
        "https://127.0.0.1:8000/demo/echo",
    ):
        assert not policy.origin_allowed(httpx.URL(other)), other


async def test_an_allowed_url_is_reachable_and_the_rest_of_its_server_is_not(
    internal: HTTPServer,
) -> None:
    internal.expect_request("/demo/echo").respond_with_json({"echo": True})
    base = f"http://127.0.0.1:{internal.port}"
    policy = NetworkPolicy.build(urls=[f"{base}/demo/echo"])
    assert (await _get(policy, f"{base}/demo/echo?x=1")).json() == {"echo": True}
    for path in ("/secret", "/hooks/abc", "/demo/echo/../secret"):
        with pytest.raises(ForbiddenDestinationError):
            await _get(policy, base + path)
    assert [entry[0].path for entry in internal.log] == ["/demo/echo"]
