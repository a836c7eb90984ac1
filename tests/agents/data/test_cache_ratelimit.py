"""CachedProvider and RateLimitedProvider on an injected clock: no real waiting."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from agents.data import (
    CachedProvider,
    Dataset,
    ManualClock,
    PartialFailure,
    ProviderUnreachable,
    RateLimited,
    RateLimitedProvider,
    TokenBucket,
    per_symbol,
)
from tests.agents.data.fakes import FakeProvider, make_bars

START, END = date(2024, 1, 2), date(2024, 3, 29)
SYMS = ["AAA", "BBB", "CCC", "DDD", "EEE"]


def fake() -> FakeProvider:
    return FakeProvider("fake", bars={s: make_bars(s, START, END) for s in SYMS})


async def test_cache_serves_within_ttl_and_refetches_after() -> None:
    clock = ManualClock()
    inner = fake()
    cache = CachedProvider(inner, clock=clock, ttl=60)
    first = await cache.bars(["AAA", "BBB"], START, END)
    again = await cache.bars(["BBB", "AAA"], START, END)
    assert again == first
    assert inner.calls == [("bars", ("AAA", "BBB"))]
    await cache.bars(["AAA", "CCC"], START, END)  # only the missing symbol goes upstream
    assert inner.calls[-1] == ("bars", ("CCC",))
    clock.advance(59)
    await cache.bars(["AAA"], START, END)
    assert len(inner.calls) == 2
    clock.advance(2)
    await cache.bars(["AAA"], START, END)
    assert inner.calls[-1] == ("bars", ("AAA",))
    assert (cache.stats.hits, cache.stats.misses) == (4, 4)
    await cache.bars(["AAA"], START, date(2024, 2, 1))  # other parameters, other entry
    assert inner.calls[-1] == ("bars", ("AAA",))
    assert len(inner.calls) == 4


async def test_cache_does_not_keep_errors_and_invalidates() -> None:
    clock = ManualClock()
    inner = fake()
    cache = CachedProvider(inner, clock=clock, ttl=60)
    inner.fail_all = ProviderUnreachable("fake", "down")
    with pytest.raises(ProviderUnreachable):
        await cache.bars(["AAA"], START, END)
    inner.fail_all = None
    assert len((await cache.bars(["AAA"], START, END))["AAA"]) == 64
    assert len(cache) == 1
    cache.invalidate(Dataset.HEADLINES)
    assert len(cache) == 1
    cache.invalidate(Dataset.BARS)
    assert len(cache) == 0


async def test_cache_per_dataset_ttl_and_absent_values() -> None:
    clock = ManualClock()
    inner = fake()
    cache = CachedProvider(inner, clock=clock, ttl={Dataset.FUNDAMENTALS: 100})
    await cache.bars(["AAA"], START, END)
    await cache.bars(["AAA"], START, END)
    assert len(inner.calls) == 2  # bars are not cached with this configuration
    assert await cache.fundamentals(["AAA"], END) == {}
    assert await cache.fundamentals(["AAA"], END) == {}
    assert inner.symbols_called("fundamentals") == ["AAA"]  # "nothing" was cached too


async def test_cache_single_flight_and_lru() -> None:
    clock = ManualClock()
    inner = fake()
    inner.gate = asyncio.Event()
    cache = CachedProvider(inner, clock=clock, ttl=60, max_entries=3)
    first = asyncio.create_task(cache.bars(["AAA", "BBB"], START, END))
    second = asyncio.create_task(cache.bars(["BBB"], START, END))
    await asyncio.sleep(0)
    inner.gate.set()
    a, b = await asyncio.gather(first, second)
    assert b["BBB"] == a["BBB"]
    assert inner.calls == [("bars", ("AAA", "BBB"))]
    inner.gate = None
    await cache.bars(["CCC", "DDD"], START, END)
    assert len(cache) == 3
    assert cache.stats.evictions == 1
    await cache.bars(["AAA"], START, END)  # the oldest entry was evicted
    assert inner.calls[-1] == ("bars", ("AAA",))


async def test_token_bucket_waits_on_the_clock() -> None:
    clock = ManualClock()
    bucket = TokenBucket(rate=1.0, capacity=2, clock=clock)
    assert [await bucket.acquire() for _ in range(4)] == [0.0, 0.0, 1.0, 1.0]
    assert clock.slept == [1.0, 1.0]
    clock.advance(100)
    assert bucket.tokens == 2  # refills up to capacity only
    with pytest.raises(ValueError, match="cannot take 3"):
        await bucket.acquire(3)
    with pytest.raises(ValueError, match="rate > 0"):
        TokenBucket(0, 1, clock)


async def test_rate_limited_provider_counts_upstream_requests() -> None:
    clock = ManualClock()
    inner = fake()
    limited = RateLimitedProvider(inner, TokenBucket.per_minute(60, clock, burst=2))
    t0 = clock.monotonic()
    bars = await limited.bars(SYMS, START, END)
    assert list(bars) == SYMS
    assert inner.calls == [("bars", (s,)) for s in SYMS]  # one upstream request per symbol
    assert clock.monotonic() - t0 == pytest.approx(3.0)  # 2 free (burst), then one a second
    assert limited.bucket.waited_seconds == pytest.approx(3.0)


async def test_rate_limited_concurrent_callers_queue_in_order() -> None:
    clock = ManualClock()
    inner = fake()
    limited = RateLimitedProvider(inner, TokenBucket(rate=0.5, capacity=1, clock=clock), per_symbol=False)
    results = await asyncio.gather(*(limited.bars([s], START, END) for s in SYMS))
    assert [next(iter(r)) for r in results] == SYMS
    assert clock.slept == [2.0, 2.0, 2.0, 2.0]
    assert inner.calls == [("bars", (s,)) for s in SYMS]


async def test_partial_failure_keeps_and_caches_the_successes() -> None:
    clock = ManualClock()
    inner = fake()
    inner.partial = True
    inner.fail_symbols["BBB"] = ProviderUnreachable("fake", "BBB timed out")
    cache = CachedProvider(inner, clock=clock, ttl=60)
    with pytest.raises(PartialFailure) as info:
        await cache.bars(["AAA", "BBB", "CCC"], START, END)
    assert set(info.value.data) == {"AAA", "CCC"}
    assert set(info.value.errors) == {"BBB"}
    inner.fail_symbols.clear()
    await cache.bars(["AAA", "BBB", "CCC"], START, END)
    assert inner.calls[-1] == ("bars", ("BBB",))  # AAA and CCC came from the cache
    inner.fail_symbols["DDD"] = ProviderUnreachable("fake", "down")
    with pytest.raises(ProviderUnreachable):  # one symbol: its own error, not a PartialFailure
        await cache.bars(["DDD"], START, END)


async def test_per_symbol_stops_after_a_quota_error() -> None:
    asked: list[str] = []

    async def one(sym: str) -> int:
        asked.append(sym)
        if sym == "B":
            raise RateLimited("vendor", "25 requests per day")
        if sym == "D":
            raise ProviderUnreachable("vendor", "unreachable")
        return len(asked)

    with pytest.raises(PartialFailure) as info:
        await per_symbol(["A", "B", "C", "A"], one)
    assert asked == ["A", "B"]  # C would spend quota for nothing
    assert info.value.data == {"A": 1}
    assert set(info.value.errors) == {"B", "C"}
    assert "2 of 3 failed" in str(info.value)
    with pytest.raises(ProviderUnreachable):
        await per_symbol(["D"], one)


async def test_rate_limited_partial_failure_is_merged() -> None:
    clock = ManualClock()
    inner = fake()
    inner.fail_symbols["CCC"] = ProviderUnreachable("fake", "down")
    limited = RateLimitedProvider(inner, TokenBucket(rate=1.0, capacity=5, clock=clock))
    with pytest.raises(PartialFailure) as info:
        await limited.bars(SYMS, START, END)
    assert set(info.value.data) == {"AAA", "BBB", "DDD", "EEE"}
    assert list(info.value.errors) == ["CCC"]
