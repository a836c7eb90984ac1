"""The /metrics endpoint over real HTTP: promtool-clean, the runbook's names, every family ops adds.

:func:`live_scrape` is shared with the observability tests: a real runtime on a tmp home whose agents
publish what the real ones do, with the ops metrics, the alert notifier and the scheduler hook attached.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Gauge

import agents.types  # noqa: F401 - registers the agents' payload types
from agents.execution import PORTFOLIO_TYPE, portfolio_state
from ops.alerts import AlertSettings, Notifier
from ops.metrics import MetricsServer, MetricsServerError, MetricsSettings, OpsMetrics
from runtime import topics
from runtime.agent import Agent, AgentRegistry, Stage, Tick
from runtime.clock import SimClock
from runtime.messages import new_id
from runtime.runtime import Runtime
from runtime.settings import ConfigError, CoreSettings, RuntimeSettings, load
from storage.records import Account, Books, Order, Position

T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 10:00 New York, in session
RUNBOOK_NAMES = ("runtime_bus_depth", "agent_tick_duration_seconds")
# Every family issue 5 asks for, under the name it has here.
ISSUE_FAMILIES = (
    "runtime_ticks_total",  # ticks
    "runtime_errors_total",  # errors
    "execution_orders_total",  # orders
    "execution_fills_total",  # fills
    "trade_rejects_total",  # rejects by reason
    "runtime_state",  # runtime state
    "runtime_kill_switch_active",  # kill switch
    "portfolio_nav",  # NAV
    "portfolio_gross_exposure",  # gross exposure
    "runtime_alerts_total",  # alerts by action and severity
    "data_provider_active",  # provider health
    "scheduler_job_runs_total",  # scheduler runs
    "scheduler_job_misses_total",  # scheduler misses
    "council_weight",  # Strategy Council Weights
    "alert_channel_failures_total",
    "runtime_session_open",
)


def promtool(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run promtool; a missing promtool fails the test with how to get it (never a skip)."""
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail("promtool not found: install the Debian package 'prometheus' (make system-deps does)")
    return subprocess.run([exe, *args], input=stdin, capture_output=True, text=True, cwd=cwd, timeout=60)


class MarketAgent(Agent):
    """Publishes what the data, risk, compliance, execution and feedback agents publish, once per tick."""

    name = "market"
    stage = Stage.DATA

    async def on_tick(self, tick: Tick) -> None:
        ctx = self.context
        snapshot = {"as_of": "2026-11-24", "prices": {"AAPL": 190.0}, "provider": "demo", "quarantined": []}
        await ctx.publish(topics.MARKET_SNAPSHOT, "market.snapshot", snapshot, tick_id=tick.id)
        reject = {"intent_id": new_id(), "symbol": "AAPL", "approved": False, "qty": 0, "reasons": ["collar: 6%"]}
        await ctx.publish(topics.RISK_APPROVAL, "verdicts", {"agent": "risk", "items": [reject]}, tick_id=tick.id)
        fill = {
            "client_order_id": "T-000001",
            "venue": "PAPER-A",
            "trade_id": new_id(),
            "symbol": "AAPL",
            "side": "buy",
            "qty": 1,
            "price": 190.0,
            "commission": 0.0,
            "ts": T0.isoformat(),
        }
        await ctx.publish(topics.EXECUTION_FILL, "execution.fill", fill, tick_id=tick.id)
        books = Books(Account(800_000.0, 1_000_000.0), {"AAPL": Position("AAPL", 1_000, 190.0, last_price=200.0)})
        portfolio = portfolio_state(
            books,
            sector_of=lambda s: "Technology",
            as_of=None,
            ts=T0,
            tick_id=tick.id,
            previous_nav=None,
            open_orders=1,
        )
        await ctx.publish(topics.STATE_PORTFOLIO, PORTFOLIO_TYPE, portfolio, retain=True)
        feedback = {"as_of": "2026-11-24", "weights": {"technical": 0.5, "macro": 0.5}}
        await ctx.publish(topics.STRATEGY_FEEDBACK, "strategy.feedback", feedback, tick_id=tick.id)


async def _drained(rt: Runtime) -> None:
    """Until every consumer has read its messages (some consumers write to SQLite in a thread meanwhile)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while rt.bus.stats.depth:
        if loop.time() > deadline:
            raise AssertionError(f"the bus kept a backlog of {rt.bus.stats.depth}")
        await asyncio.sleep(0.005)


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        return str(response.read().decode())


async def live_scrape(tmp_path: Path) -> str:
    """Scrape, over HTTP, the registry of a runtime that ticked, alerted and ran scheduler jobs."""
    core = CoreSettings(home=tmp_path / "home", bus=f"memory://scrape-{new_id()}", env="test")
    rt = Runtime(
        core, RuntimeSettings(operators=["alice"], heartbeat_interval=3600), AgentRegistry([MarketAgent()]),
        clock=SimClock(T0),
    )  # fmt: skip
    await rt.start()
    ops = OpsMetrics(rt.metrics.registry, now=rt.clock.now, ledger_path=rt.home / "ledger.sqlite")
    await ops.start(rt.bus)
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{dead.getsockname()[1]}/hook"
    dead.close()  # nothing listens there: the webhook fails and is counted
    notifier = Notifier.from_settings(
        AlertSettings(webhook_url=url, retries=0),
        clock=rt.clock,
        ledger=rt.books,
        registry=rt.metrics.registry,
        housekeeping_interval=None,
    )
    await notifier.start(rt.bus)
    try:
        await rt.books.insert_order(Order("T-000001", "AAPL", "buy", 1, "PAPER-A", T0, status="acknowledged"))
        for _ in range(2):
            await rt.run_once()
        await rt.alert("risk_reject", "warning", "AAPL rejected: collar 6%")
        ops.record_job_run("run_daily_trade", "ok", T0)
        ops.record_job_miss("midday_check")
        await notifier.wait_idle()
        await _drained(rt)
        server = MetricsServer(rt.metrics.registry, port=0)
        server.start()
        try:
            return await asyncio.to_thread(fetch, server.url)
        finally:
            await asyncio.to_thread(server.stop)
    finally:
        await notifier.stop()
        await ops.stop()
        await rt.stop()


def families(text: str) -> dict[str, str]:
    """``# TYPE`` lines: family name -> type."""
    return {m.group(1): m.group(2) for m in re.finditer(r"^# TYPE (\S+) (\S+)$", text, re.M)}


def sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        metric, _, label_text = head.partition("{")
        found = dict(re.findall(r'(\w+)="([^"]*)"', label_text))
        if metric == name and all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    return None


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> str:
    return asyncio.run(live_scrape(tmp_path_factory.mktemp("scrape")))


def test_the_scrape_passes_promtool_check_metrics(scraped: str) -> None:
    result = promtool("check", "metrics", stdin=scraped)
    assert result.returncode == 0, f"promtool check metrics:\n{result.stdout}{result.stderr}"
    assert result.stdout.strip() == ""  # no lint finding at all


def test_the_scrape_carries_the_runbook_names(scraped: str) -> None:
    kinds = families(scraped)
    assert kinds["runtime_bus_depth"] == "gauge"
    assert kinds["agent_tick_duration_seconds"] == "histogram"
    assert (sample(scraped, "agent_tick_duration_seconds_count", agent="market") or 0) == 2
    missing = [name for name in ISSUE_FAMILIES if name not in kinds]
    assert missing == []


def test_the_scrape_reports_what_happened(scraped: str) -> None:
    assert sample(scraped, "runtime_ticks_total", status="completed") == 2
    assert sample(scraped, "trade_rejects_total", agent="risk", rule="collar") == 2
    assert sample(scraped, "execution_fills_total", side="buy") == 2
    assert sample(scraped, "portfolio_nav") == 1_000_000.0
    assert sample(scraped, "portfolio_gross_exposure_ratio") == 0.2
    assert sample(scraped, "data_provider_active", provider="demo") == 1
    assert sample(scraped, "council_weight", plugin="technical") == 0.5
    assert sample(scraped, "runtime_alerts_total", action="risk_reject", severity="warning") == 1
    assert sample(scraped, "alert_channel_failures_total", channel="webhook") == 1
    assert sample(scraped, "execution_orders_total") == 1
    assert sample(scraped, "execution_orders_by_status", status="acknowledged") == 1
    assert sample(scraped, "scheduler_job_runs_total", job="run_daily_trade", outcome="ok") == 1
    assert sample(scraped, "scheduler_job_misses_total", job="midday_check") == 1
    assert sample(scraped, "runtime_session_open") == 1
    assert sample(scraped, "runtime_state", state="RUNNING") == 1
    assert sample(scraped, "runtime_kill_switch_active") == 0


def test_runtime_bus_depth_is_the_live_backlog() -> None:
    async def scenario() -> tuple[float | None, float | None]:
        from runtime.bus import MemoryBus
        from runtime.metrics import LiveFigures, RuntimeMetrics
        from runtime.state import RuntimeState

        bus = MemoryBus(f"memory://depth-{new_id()}", "test")
        await bus.start()
        metrics = RuntimeMetrics()
        metrics.bind(
            LiveFigures(bus=lambda: bus.stats, state=lambda: RuntimeState.RUNNING, kill_switch_active=lambda: False)
        )
        sub = bus.subscribe("events/#")  # a consumer that has not read yet
        from runtime.messages import make

        for _ in range(3):
            await bus.publish(topics.EVENT_TICK, make("x", {}, source="t"))
        with MetricsServer(metrics.registry, port=0) as server:
            before = sample(await asyncio.to_thread(fetch, server.url), "runtime_bus_depth")
            for _ in range(3):
                await sub.get(timeout=1)
            await sub.close()
            after = sample(await asyncio.to_thread(fetch, server.url), "runtime_bus_depth")
        await bus.close()
        return before, after

    assert asyncio.run(scenario()) == (3.0, 0.0)


def test_the_server_starts_and_stops_cleanly() -> None:
    registry = CollectorRegistry()
    Gauge("probe", "A probe", registry=registry).set(1)
    server = MetricsServer(registry, port=0)
    port = server.start()
    assert server.start() == port  # idempotent
    assert port != 0
    assert server.running
    assert "probe 1.0" in fetch(server.url)
    server.stop()
    server.stop()  # idempotent
    assert not server.running
    with pytest.raises(urllib.error.URLError):
        fetch(f"http://127.0.0.1:{port}/metrics")
    again = MetricsServer(registry, port=port)  # the port is released
    again.start()
    try:
        assert "probe 1.0" in fetch(again.url)
    finally:
        again.stop()


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(MetricsServerError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
            MetricsServer(CollectorRegistry(), port=port).start()


def test_metrics_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (MetricsSettings().port, MetricsSettings().addr, MetricsSettings().enabled) == (9464, "127.0.0.1", True)
    monkeypatch.setenv("PROMETHEUS_METRICS_PORT", "9999")
    settings = load(MetricsSettings)
    assert settings.port == 9999
    assert MetricsServer.from_settings(CollectorRegistry(), settings).url == "http://127.0.0.1:9999/metrics"
    monkeypatch.setenv("PROMETHEUS_METRICS_PORT", "99999")
    with pytest.raises(ConfigError, match="PROMETHEUS_METRICS_PORT"):
        load(MetricsSettings)
