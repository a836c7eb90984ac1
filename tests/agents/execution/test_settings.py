"""ExecutionSettings from the environment, and the default wiring over paper venues."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.execution import PAPER_FILE, ExecutionSettings, FillModel, build_execution_agents
from runtime.settings import ConfigError, load
from runtime.state import RuntimeState
from tests.agents.execution._helpers import Feeder, intent, market, runtime, settings


def test_defaults_are_documented_and_sane() -> None:
    s = settings()
    assert (s.fill_model, s.costs, s.max_retries, s.failure_limit) == ("open", "model", 1, 3)
    assert s.venues == ["PAPER-A", "PAPER-B"]
    for name, field in ExecutionSettings.model_fields.items():
        assert field.description, f"EXECUTION_{name.upper()} has no description"


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXECUTION_VENUES", "LEFT, RIGHT,,")
    monkeypatch.setenv("EXECUTION_FILL_MODEL", "vwap")
    monkeypatch.setenv("EXECUTION_SLIPPAGE_BPS", "7.5")
    s = load(ExecutionSettings, _env_file=None)
    assert s.venues == ["LEFT", "RIGHT"]
    assert s.model_for_fills() == FillModel("vwap", 7.5, 0.005, 1.0, 0.1)


def test_costs_none_gives_exact_fills() -> None:
    assert settings(costs="none", fill_model="open").model_for_fills() == FillModel.no_costs("open", 0.1)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("EXECUTION_VENUES", "A,A", "unique"),
        ("EXECUTION_VENUES", "bad venue", "letters"),
        ("EXECUTION_PARTICIPATION_CAP", "1.5", "EXECUTION_PARTICIPATION_CAP"),
        ("EXECUTION_FILL_MODEL", "close", "EXECUTION_FILL_MODEL"),
        ("EXECUTION_FAILURE_LIMIT", "0", "EXECUTION_FAILURE_LIMIT"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=message):
        load(ExecutionSettings, _env_file=None)


async def test_the_default_wiring_trades_on_paper_venues_in_their_own_file(tmp_path: Path) -> None:
    feeder = Feeder(market("AAA"))
    feeder.plan[0] = [intent("i1", "AAA", "buy", 10, 101.0)]
    agents = build_execution_agents(settings(), tmp_path, capital=50_000.0)
    assert [a.name for a in agents] == ["execution", "reconciliation", "settlement"]
    rt = runtime(tmp_path, [feeder, *agents], f"wiring-{tmp_path.name}")
    async with rt:
        await rt.run_once()
        await rt.run_once()
        books = await rt.books.books()
        assert books.account.initial_capital == 50_000.0
        assert books.positions["AAA"].qty == 10
        assert rt.state == RuntimeState.RUNNING
    assert (tmp_path / PAPER_FILE).exists()
