"""The shared HTTP behaviour, over a real local socket (and MockTransport for a few narrow cases)."""

from __future__ import annotations

import logging
import random
import socket
from datetime import UTC, datetime

import httpx
import pytest

from agents.data import ProviderAuthError, ProviderResponseError, ProviderUnreachable, RateLimited
from agents.data._http import HttpClient, HttpStatusError, InBandRetry, RetryPolicy
from agents.data._http._client import parse_retry_after
from tests.agents.data.vendor_server import Reply, VendorServer

SECRET = "sk-live-0123456789abcdef"


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def client(base_url: str, sleeps: Sleeps, **kwargs: object) -> HttpClient:
    return HttpClient(
        "vendor",
        base_url,
        sleep=sleeps,
        rng=random.Random(1),
        secrets=[SECRET],
        **kwargs,  # type: ignore[arg-type]
    )


async def test_500_then_200_backs_off_with_jitter(vendor: VendorServer) -> None:
    vendor.route("/x", Reply(500, "boom"), Reply(503, "busy"), Reply(200, {"ok": 1}))
    sleeps = Sleeps()
    c = client(vendor.base_url, sleeps)
    assert await c.get_json("/x", {"apikey": SECRET}) == {"ok": 1}
    assert len(vendor.hits("/x")) == 3
    assert len(sleeps.calls) == 2
    assert 0.25 <= sleeps.calls[0] <= 0.5  # base 0.5: half fixed, half jitter
    assert 0.5 <= sleeps.calls[1] <= 1.0
    assert c.stats.retries == 2
    assert c.stats.last_error is None
    await c.aclose()


async def test_429_honours_retry_after(vendor: VendorServer) -> None:
    vendor.route("/x", Reply(429, {"error": "slow down"}, {"Retry-After": "7"}), Reply(200, [1]))
    sleeps = Sleeps()
    c = client(vendor.base_url, sleeps)
    assert await c.get_json("/x") == [1]
    assert sleeps.calls == [7.0]
    await c.aclose()


async def test_429_with_a_long_retry_after_is_not_waited_for(vendor: VendorServer) -> None:
    vendor.route("/x", Reply(429, "quota", {"Retry-After": "3600"}))
    sleeps = Sleeps()
    c = client(vendor.base_url, sleeps)
    with pytest.raises(RateLimited) as info:
        await c.get_json("/x")
    assert info.value.retry_after == 3600
    assert sleeps.calls == []
    await c.aclose()


async def test_retries_exhausted_raise_the_last_error(vendor: VendorServer) -> None:
    vendor.route("/x", Reply(502, "bad gateway"))
    sleeps = Sleeps()
    c = client(vendor.base_url, sleeps, retry=RetryPolicy(max_retries=2))
    with pytest.raises(ProviderResponseError, match="HTTP 502"):
        await c.get_json("/x")
    assert len(vendor.hits("/x")) == 3
    assert len(sleeps.calls) == 2
    assert c.stats.last_error is not None
    await c.aclose()


async def test_timeout_then_success(vendor: VendorServer) -> None:
    vendor.route("/slow", Reply(hang=True), Reply(200, {"late": False}))
    sleeps = Sleeps()
    c = client(vendor.base_url, sleeps, timeout=0.2)
    assert await c.get_json("/slow") == {"late": False}
    assert len(vendor.hits("/slow")) == 2
    assert len(sleeps.calls) == 1
    await c.aclose()


async def test_connect_refused_is_unreachable() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps = Sleeps()
    c = client(f"http://127.0.0.1:{port}", sleeps, retry=RetryPolicy(max_retries=1))
    with pytest.raises(ProviderUnreachable):
        await c.get_json("/x", {"apikey": SECRET})
    assert len(sleeps.calls) == 1
    await c.aclose()


async def test_4xx_is_not_retried(vendor: VendorServer) -> None:
    vendor.route("/auth", Reply(401, {"error": "Invalid API key"}))
    vendor.route("/gone", Reply(404, {"error": "unknown"}))
    vendor.route("/html", Reply(200, "<html>maintenance</html>", {"Content-Type": "text/html"}))
    sleeps = Sleeps()
    c = client(vendor.base_url, sleeps)
    with pytest.raises(ProviderAuthError, match="HTTP 401"):
        await c.get_json("/auth")
    with pytest.raises(HttpStatusError) as info:
        await c.get_json("/gone")
    assert info.value.status == 404
    assert info.value.payload == {"error": "unknown"}
    with pytest.raises(ProviderResponseError, match="not JSON"):
        await c.get_json("/html")
    assert sleeps.calls == []
    assert len(vendor.requests) == 3
    await c.aclose()


async def test_in_band_retry_then_ok(vendor: VendorServer) -> None:
    vendor.route("/q", Reply(200, {"Note": "slow"}), Reply(200, {"data": 1}))

    def inspect(payload: object) -> None:
        if isinstance(payload, dict) and "Note" in payload:
            raise InBandRetry(f"vendor says slow down {SECRET}", 60.0)

    sleeps = Sleeps()
    c = client(vendor.base_url, sleeps)
    assert await c.get_json("/q", inspect=inspect) == {"data": 1}
    assert sleeps.calls == [60.0]
    await c.aclose()


async def test_the_key_never_reaches_logs_or_errors(vendor: VendorServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    vendor.route("/x", Reply(500, f"echo {SECRET}"), Reply(401, f"bad key {SECRET}"))
    sleeps = Sleeps()
    c = client(vendor.base_url, sleeps)
    with pytest.raises(ProviderAuthError) as info:
        await c.get_json("/x", {"apikey": SECRET})
    assert vendor.requests[0].query["apikey"] == SECRET  # it was sent...
    assert SECRET not in str(info.value)  # ...but never shown
    assert "***" in str(info.value)
    assert "HTTP Request" in caplog.text  # httpx did log the URL, redacted
    assert SECRET not in caplog.text
    assert SECRET not in str(c.stats)
    await c.aclose()


def test_parse_retry_after() -> None:
    now = datetime(2024, 1, 2, 12, 0, tzinfo=UTC)
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("Tue, 02 Jan 2024 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Tue, 02 Jan 2024 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


async def test_redirects_are_not_followed_mock_transport() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://elsewhere.invalid/"})

    c = HttpClient("vendor", "http://vendor.test", transport=httpx.MockTransport(handler), sleep=Sleeps())
    with pytest.raises(ProviderResponseError, match="unexpected HTTP 302"):
        await c.get_json("/x")
    await c.aclose()
