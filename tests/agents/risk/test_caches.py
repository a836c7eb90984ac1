"""What risk remembers or computes a faster way between ticks gives, bit for bit, what a fresh computation gives."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pytest

from agents.data import Bar
from agents.market import MarketData, MarketView
from agents.risk import (
    Exposure,
    MonitorReport,
    PretradeResult,
    RiskSettings,
    StressScenario,
    StressTable,
    VarModel,
    check_intents,
    mark,
    monitor,
    usages,
)
from agents.risk._book import sectors_of
from agents.risk._measures import VarTracker, window_returns
from agents.risk._monitor import stop_losses
from agents.risk._pretrade import _stress_from_columns, average_volume
from storage.records import Books, Position
from tests.agents.risk.helpers import NAV, SECTORS, books, intent, make_market, sessions, view_of


def gappy_market(seed: int = 3, n: int = 320) -> MarketData:
    """Bars with holes: some symbols miss sessions here and there, one starts late, one has a zero close."""
    rng = np.random.default_rng(seed)
    days = sessions(n)
    bars: dict[str, list[Bar]] = {}
    for k, symbol in enumerate(sorted(SECTORS)):
        closes = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
        keep = rng.random(n) > (0.02 if k % 3 == 0 else 0.0)
        if symbol == "NEE":
            keep[:150] = False
        rows = [
            Bar(symbol, d, c, c, c, c, 1e6)
            for d, c, kept in zip(days, closes.tolist(), keep.tolist(), strict=True)
            if kept
        ]
        bars[symbol] = rows
    bars["VOL"][40] = Bar("VOL", bars["VOL"][40].date, 0.0, 0.0, 0.0, 0.0, 1e6)
    return MarketData(bars, sectors=SECTORS)


@pytest.mark.filterwarnings("ignore:divide by zero")  # the zero close, in the view's own division
@pytest.mark.parametrize("data", [gappy_market(), make_market(n=320)], ids=["gaps", "no-gaps"])
def test_window_returns_are_the_views_returns_bit_for_bit(data: MarketData) -> None:
    rng = np.random.default_rng(11)
    names = sorted(SECTORS)
    for as_of in [data.dates[0], data.dates[1], data.dates[5], *data.dates[30::17], data.dates[-1]]:
        view = data.view(as_of)
        for n in (20, 60, 250):
            for _ in range(4):
                symbols = sorted(rng.choice(names, size=int(rng.integers(1, len(names))), replace=False).tolist())
                fresh = view.returns(symbols, n)
                fast = window_returns(view, symbols, n)
                assert fast.shape == fresh.shape
                assert fast.dtype == fresh.dtype
                assert fast.flags.c_contiguous
                assert fast.tobytes() == fresh.tobytes()
                x = rng.normal(0.0, 1e5, len(symbols))
                assert (fast @ x).tobytes() == (fresh @ x).tobytes()
                assert (fast.T @ fast).tobytes() == (fresh.T @ fresh).tobytes()


def test_window_returns_follow_a_new_panel() -> None:
    first, second = gappy_market(seed=3), gappy_market(seed=4)
    for data in (first, second, first):
        view = view_of(data)
        assert window_returns(view, ["AAPL", "JPM"], 250).tobytes() == view.returns(["AAPL", "JPM"], 250).tobytes()
    replaced = gappy_market(seed=5)
    replaced.panel["close"] = second.panel["close"]  # another close array: not the one the returns were taken from
    view = view_of(replaced)
    assert window_returns(view, ["XOM"], 100).tobytes() == view.returns(["XOM"], 100).tobytes()


@pytest.mark.filterwarnings("ignore:divide by zero")
def test_var_models_from_window_returns_are_those_from_the_views_returns() -> None:
    data = gappy_market()
    settings = RiskSettings()
    for as_of in data.dates[20::23]:
        view = data.view(as_of)
        symbols = ["AAPL", "JPM", "NEE", "VOL", "ZZZ"]
        model = VarModel.build(view, symbols, settings)
        rets = view.returns([s for s in symbols if s in data.col], settings.var_lookback)
        assert model.returns.tobytes() == rets.tobytes()
        values = np.array([1e5, -5e4, 2e4, 3e4, 1e4])
        assert model.var(values) == VarModel.build(view, symbols, settings).var(values)


def test_stress_columns_grow_and_stay_the_full_build() -> None:
    scenarios = {
        "a": StressScenario(sectors={"Energy": -0.3}, symbols={"S7": -0.9}, default=-0.1),
        "b": StressScenario(sectors={"Technology": 0.05}, default=-0.02),
    }
    rng = np.random.default_rng(5)
    universe = [(f"S{k}", ["Energy", "Technology", "Health Care"][k % 3]) for k in range(150)]
    for _ in range(30):
        picked = sorted(rng.choice(len(universe), size=int(rng.integers(1, 120)), replace=False).tolist())
        symbols = [universe[k][0] for k in picked]
        sectors = [universe[k][1] for k in picked]
        full = StressTable.build(scenarios, symbols, sectors)
        fast = _stress_from_columns(scenarios, symbols, sectors)
        assert fast.names == full.names
        assert fast.shocks.flags.c_contiguous
        assert fast.shocks.shape == full.shocks.shape
        assert fast.shocks.tobytes() == full.shocks.tobytes()
        values = rng.normal(0.0, 1e5, len(symbols))
        assert (fast.shocks @ values).tobytes() == (full.shocks @ values).tobytes()
    other = {"a": StressScenario(default=-0.5)}  # another scenarios object: its own columns
    assert _stress_from_columns(other, ["S1"], ["Energy"]).shocks.tolist() == [[-0.5]]


def test_a_pack_without_intents_reports_the_books_var_and_stress() -> None:
    view = view_of(make_market())
    settings = RiskSettings()
    held = books(NAV - 300_000.0, {"AAPL": (1_000.0, 90.0), "JPM": (-500.0, 110.0), "XOM": (1_500.0, 100.0)})
    result = check_intents([], held, view, settings)
    book = mark(held, view, settings)
    values = book.values
    assert result.verdicts.items == []
    assert result.var_before == result.var_after == VarModel.build(view, book.symbols, settings).var(values)
    assert result.var_method == "historical"
    assert result.stress_after == StressTable.build(settings.stress_scenarios, book.symbols, book.sectors).losses(
        values
    )
    assert result.after.values.tobytes() == values.tobytes()
    assert (result.approved, result.cut) == (0, 0)
    # the same figures as a pack whose only intent is rejected before it changes anything
    rejected = check_intents([intent("AAPL", "buy", 100.0, ref=200.0)], held, view, settings)
    assert not rejected.verdicts.items[0].approved
    assert (rejected.var_after, rejected.stress_after) == (result.var_after, result.stress_after)


def _mark_item_by_item(books: Books, view: MarketView | None, settings: RiskSettings, extra: Iterable[str]) -> Exposure:
    """The marking as it was written before (one array item at a time): the reference for :func:`mark`."""
    prices = view.prices() if view is not None else {}
    symbols = sorted(set(books.positions) | set(extra))
    qty = np.zeros(len(symbols))
    price = np.full(len(symbols), np.nan)
    avg = np.zeros(len(symbols))
    sectors: list[str] = []
    for j, symbol in enumerate(symbols):
        pos = books.positions.get(symbol)
        today = prices.get(symbol)
        if pos is not None:
            qty[j] = pos.qty
            avg[j] = pos.avg_cost
            fallback = pos.last_price if pos.last_price is not None else pos.avg_cost
            price[j] = today if today is not None else fallback
        elif today is not None:
            price[j] = today
        sectors.append(settings.sector_of(symbol, view.sector(symbol) if view is not None else "unknown"))
    return Exposure(
        symbols,
        {s: j for j, s in enumerate(symbols)},
        qty,
        price,
        avg,
        sectors,
        books.account.cash,
        frozenset(s for s in symbols if s in prices),
    )


def test_mark_is_the_item_by_item_marking() -> None:
    view = view_of(make_market(missing_today=("XOM",)))
    held = books(500_000.0, {"AAPL": (10.0, 90.0), "XOM": (-3.0, 101.5), "ZZZ": (7.0, 12.0), "JPM": (0.0, 50.0)})
    held.positions["CVX"] = Position("CVX", 4.0, 80.0, 0.0, None)  # never marked: its average cost
    for settings in (RiskSettings(), RiskSettings(unknown_sector="per_symbol", sector_map={"AAPL": "Phones"})):
        for v, extra in ((view, ()), (view, ("NVDA", "QQQ", "AAPL")), (None, ("NVDA",))):
            fast, ref = mark(held, v, settings, extra), _mark_item_by_item(held, v, settings, extra)
            assert fast.symbols == ref.symbols
            assert fast.index == ref.index
            assert fast.sectors == ref.sectors
            for a, b in ((fast.qty, ref.qty), (fast.price, ref.price), (fast.avg_cost, ref.avg_cost)):
                assert a.dtype == b.dtype
                assert a.tobytes() == b.tobytes()
            assert (fast.cash, fast.priced_today) == (ref.cash, ref.priced_today)


def test_monitor_orders_the_closes_by_session_whatever_their_order() -> None:
    view = view_of(make_market())
    settings = RiskSettings(drawdown_sessions=5)
    book = mark(books(NAV), view, settings)
    closes = {f"2024-01-{d:02d}": 1_000_000.0 + 7_919.0 * ((d * 37) % 11) for d in (9, 3, 17, 1, 12, 5, 22, 2, 30)}
    for session in ("2023-12-31", "2024-01-03", "2024-01-13", "2024-01-22", "2024-02-01"):
        report = monitor(book, closes, session, settings, initial_capital=NAV)
        prior = sorted((s, v) for s, v in closes.items() if s < session)  # the reference: sort the pairs
        prev = prior[-1] if prior else (None, NAV)
        window = [v for _, v in prior[-5:]] + ([NAV] if len(prior) < 5 else [])
        assert (report.prev_session, report.prev_close) == prev
        assert report.peak == max([*window, book.nav])


def test_stop_losses_read_the_same_floats() -> None:
    view = view_of(make_market())
    held = books(NAV, {"AAPL": (10.0, 120.0), "JPM": (-10.0, 80.0), "XOM": (5.0, 100.0), "CVX": (1.0, 0.0)})
    book = mark(held, view, RiskSettings())
    hits = stop_losses(book, 0.08)
    assert [h.symbol for h in hits] == ["AAPL", "JPM"]
    for h in hits:
        j = book.index[h.symbol]
        assert (h.qty, h.avg_cost, h.price) == (float(book.qty[j]), float(book.avg_cost[j]), float(book.price[j]))
        sign = 1.0 if h.qty > 0 else -1.0
        assert h.loss == (h.price / h.avg_cost - 1.0) * sign
    assert not math.isnan(hits[0].price)


def test_the_results_values_are_the_post_trade_books_values() -> None:
    view = view_of(make_market(missing_today=("XOM",)))
    settings = RiskSettings(max_single_name_nav=0.05)
    held = books(NAV - 250_000.0, {"AAPL": (1_000.0, 90.0), "JPM": (-700.0, 110.0), "XOM": (1_500.0, 100.0)})
    pack = [
        intent("AAPL", "buy", 700.0),  # cut to the single-name limit
        intent("JPM", "buy", 300.0),  # reduces a short
        intent("XOM", "sell", 100.0),  # no price today: rejected
        intent("NVDA", "buy", 333.0, ref=100.0),
        intent("MSFT", "sell", 250.0),
        intent("NEE", "buy", 10.0, ref=150.0),  # outside the collar
    ]
    for intents in (pack, pack[:1], []):
        result = check_intents(intents, held, view, settings)
        assert result.values is not None
        assert result.values.tobytes() == result.after.values.tobytes()
        assert result.after_values() is result.values


def test_sector_buckets_follow_the_settings_and_the_data() -> None:
    first = view_of(make_market())
    second = view_of(make_market(sectors={**SECTORS, "AAPL": "Hardware", "JPM": ""}))
    symbols = ["AAPL", "JPM", "ZZZ", "XOM"]
    pooled, alone = RiskSettings(), RiskSettings(unknown_sector="per_symbol", sector_map={"XOM": "Oil"})
    for view, settings in [(first, pooled), (second, pooled), (second, alone), (first, alone), (None, alone)]:
        for _ in range(2):  # the second time from memory
            fresh = [settings.sector_of(s, view.sector(s) if view is not None else "unknown") for s in symbols]
            assert sectors_of(symbols, view, settings) == fresh
    assert sectors_of(symbols, second, alone) == ["Hardware", "unknown:JPM", "unknown:ZZZ", "Oil"]


def _details_as_written_before(
    result: PretradeResult, report: MonitorReport, s: RiskSettings, cap: float
) -> dict[str, str]:
    """Each usage's detail formatted eagerly, with the f-strings :func:`usages` used to write: the reference."""
    book, out = result.after, dict[str, str]()
    signed = book.values
    nav = book.nav_of(signed)
    values = np.abs(signed)
    for j in np.flatnonzero(values >= 0.5 * s.max_single_name_nav * nav - 1e-12).tolist():
        weight, symbol = float(values[j]) / nav, book.symbols[j]
        out[f"single_name:{symbol}"] = f"{symbol} is {weight:.1%} of NAV (limit {s.max_single_name_nav:.1%})"
    for sector, gross in book.sector_gross(signed).items():
        if gross > 0:
            out[f"sector:{sector}"] = f"sector {sector} is {gross / nav:.1%} of NAV (limit {s.max_sector_nav:.1%})"
    leverage = float(values.sum()) / nav
    out["gross"] = f"gross {leverage:.2f}x (cap {cap:.2f}x)"
    var = result.var_after / nav
    out["var"] = f"1-day VaR {var:.2%} of NAV ({result.var_method}; limit {s.max_var_nav:.2%})"
    for name, loss in result.stress_after.items():
        out[f"stress:{name}"] = f"scenario {name} loses {loss / nav:.1%} of NAV (limit {s.stress_max_loss_nav:.1%})"
    if report.daily_return is not None and report.daily_return < 0:
        out["daily_loss"] = f"day's return {report.daily_return:+.2%} (pause at -{s.daily_loss_pause:.2%})"
    if report.drawdown < 0:
        out["drawdown"] = (
            f"{s.drawdown_sessions}-session drawdown {report.drawdown:+.2%} (REDUCING at -{s.drawdown_limit:.2%})"
        )
    return out


def test_usage_details_formatted_when_read_are_the_eager_texts() -> None:
    view = view_of(make_market())
    settings = RiskSettings()
    held = books(NAV - 400_000.0, {"AAPL": (900.0, 90.0), "MSFT": (-800.0, 110.0), "XOM": (2_300.0, 100.0)})
    book = mark(held, view, settings)
    for closes in ({"2000-01-01": 1_040_000.0}, {"2000-01-01": 900_000.0}, {}):
        report = monitor(book, closes, "2099-01-01", settings, initial_capital=NAV)
        for cap in (1.2, 0.6):
            result = check_intents([intent("JPM", "buy", 400.0), intent("AAPL", "sell", 100.0)], held, view, settings)
            found = usages(result, report, settings, cap, floor=0.5)
            expected = _details_as_written_before(result, report, settings, cap)
            assert {u.key: u.detail for u in found} == expected
            assert all(isinstance(u.detail, str) for u in found)


def test_a_change_tried_then_applied_leaves_the_tracker_as_applying_it_alone() -> None:
    settings = RiskSettings()
    symbols = ["AAPL", "JPM", "XOM", "ZZZ"]  # ZZZ unknown to the data: the default-vol add-on
    for n in (300, 60, 10):  # historical, parametric, default vol
        view = view_of(make_market(n=n))
        model = VarModel.build(view, symbols, settings)
        start = np.array([50_000.0, 0.0, -20_000.0, 5_000.0])
        tried, plain = VarTracker(model, start), VarTracker(model, start)
        steps = [(1, 31_337.25), (0, -12_000.5), (3, 7_000.0), (2, 20_000.0), (1, 0.0), (1, -0.0)]
        for k, (j, dv) in enumerate(steps):
            if k % 2 == 0:
                tried.var_if(j, dv)  # the same change: the state comes from the try
            else:
                tried.var_if(j, dv + 1.0)  # another change tried: applying recomputes
            tried.apply(j, dv)
            plain.apply(j, dv)
            assert tried.var == plain.var
            assert tried.pnl.tobytes() == plain.pnl.tobytes()
            assert (tried.quad, tried.absx, tried.addon) == (plain.quad, plain.absx, plain.addon)
            assert tried.values.tobytes() == plain.values.tobytes()
        assert model.method == {300: "historical", 60: "parametric", 10: "default_vol"}[n]


def _stop_losses_one_at_a_time(book: Exposure, stop: float) -> list[tuple[str, float, float, float, float]]:
    """The stop-loss scan as it was written before (a Python loop over the positions): the reference."""
    hits = []
    for j, symbol in enumerate(book.symbols):
        qty, avg, price = float(book.qty[j]), float(book.avg_cost[j]), float(book.price[j])
        if qty == 0 or avg <= 0 or math.isnan(price):
            continue
        loss = (price / avg - 1.0) * (1.0 if qty > 0 else -1.0)
        if loss <= -stop:
            hits.append((symbol, qty, avg, price, loss))
    return hits


def test_the_elementwise_stop_loss_scan_is_the_loop() -> None:
    rng = np.random.default_rng(17)
    for _ in range(200):
        n = int(rng.integers(0, 30))
        qty = rng.choice([0.0, 100.0, -100.0, 37.0, -1234.5], n)
        avg = rng.choice([0.0, -1.0, 10.0, 99.99, 1e-9, 123.456], n) * rng.uniform(0.5, 1.5, n)
        price = avg * rng.uniform(0.7, 1.3, n)
        price[rng.random(n) < 0.1] = np.nan
        symbols = [f"S{j}" for j in range(n)]
        book = Exposure(symbols, {s: j for j, s in enumerate(symbols)}, qty, price, avg, ["x"] * n, 0.0, frozenset())
        for stop in (0.08, 0.2, 1e-12):
            found = [(h.symbol, h.qty, h.avg_cost, h.price, h.loss) for h in stop_losses(book, stop)]
            assert found == _stop_losses_one_at_a_time(book, stop)


def test_average_volume_is_the_views_adv() -> None:
    rng = np.random.default_rng(23)
    days = sessions(90)
    bars = {}
    for k, symbol in enumerate(["A", "B", "C", "D"]):
        vols = rng.lognormal(14.0, 2.0, len(days)) if k != 3 else np.round(rng.uniform(0, 1e7, len(days)))
        keep = rng.random(len(days)) > 0.1 * k
        bars[symbol] = [
            Bar(symbol, d, 10.0, 10.0, 10.0, 10.0, v)
            for d, v, kept in zip(days, vols.tolist(), keep.tolist(), strict=True)
            if kept
        ]
    data = MarketData(bars)
    for as_of in data.dates[::3]:
        view = data.view(as_of)
        for symbol in ("A", "B", "C", "D", "ZZZ"):
            for n in (1, 5, 7, 8, 9, 20, 60):
                assert average_volume(view, symbol, n) == view.adv(symbol, n)


def _quantile_through_np_partition(pnl: np.ndarray, alpha: float) -> float:
    """The quantile as it was written before (``np.partition``): the reference."""
    n = pnl.shape[0]
    h = (n - 1) * alpha
    lo = int(h)
    if lo + 1 >= n:
        return float(np.partition(pnl, lo)[lo])
    part = np.partition(pnl, (lo, lo + 1))
    return float(part[lo] + (h - lo) * (part[lo + 1] - part[lo]))


def test_the_lower_quantile_partitions_as_np_partition() -> None:
    from agents.risk._measures import lower_quantile

    rng = np.random.default_rng(29)
    for n in (1, 2, 3, 20, 99, 250):
        pnl = rng.normal(0.0, 1e5, n)
        for alpha in (0.0, 0.01, 0.05, 0.5, 0.99, 1.0):
            assert lower_quantile(pnl, alpha) == _quantile_through_np_partition(pnl, alpha)
            assert lower_quantile(pnl, alpha) == pytest.approx(float(np.quantile(pnl, alpha)))
        before = pnl.tobytes()
        lower_quantile(pnl, 0.05)
        assert pnl.tobytes() == before  # the caller's P&L is left as it was
