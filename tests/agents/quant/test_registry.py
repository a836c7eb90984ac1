"""Finding plug-ins: built-ins, ``module:Class`` paths, real entry points; clear errors naming the setting."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agents.director import CouncilSettings
from agents.market import MarketView
from agents.quant import (
    ENTRY_POINT_GROUP,
    FundamentalPlugin,
    MacroPlugin,
    PluginConfigError,
    QuantSettings,
    SentimentPlugin,
    TechnicalPlugin,
    available_plugins,
    load_plugin,
    load_plugins,
)
from agents.types import Directive, Proposal
from runtime.settings import ConfigError


class Flat:
    """A user plug-in: no opinion about anything."""

    name = "flat"

    def propose(self, view: MarketView, directive: Directive) -> list[Proposal]:
        return [
            Proposal(plugin=self.name, symbol=s, score=0.0, confidence=0.5, rationale="no opinion")
            for s in directive.universe
        ]


class Configured:
    name = "configured"

    def __init__(self, settings: QuantSettings) -> None:
        self.window = settings.technical_slow

    def propose(self, view: MarketView, directive: Directive) -> list[Proposal]:
        return []


class Nameless:
    name = "has space"

    def propose(self, view: MarketView, directive: Directive) -> list[Proposal]:
        return []


class Mute:
    name = "mute"


def test_builtins_by_name_in_order() -> None:
    plugins = load_plugins(["technical", "fundamental", "sentiment", "macro"])
    assert [type(p) for p in plugins] == [TechnicalPlugin, FundamentalPlugin, SentimentPlugin, MacroPlugin]
    assert [p.name for p in plugins] == ["technical", "fundamental", "sentiment", "macro"]


def test_builtins_get_the_quant_settings() -> None:
    technical = load_plugin("technical", QuantSettings(technical_mode="sma_cross", technical_fast=5, technical_slow=15))
    assert isinstance(technical, TechnicalPlugin)
    assert (technical.mode, technical.fast, technical.slow) == ("sma_cross", 5, 15)


def test_module_class_paths() -> None:
    assert isinstance(load_plugin("tests.agents.quant.test_registry:Flat"), Flat)
    made = load_plugin("tests.agents.quant.test_registry:Configured", QuantSettings(technical_slow=77))
    assert isinstance(made, Configured)
    assert made.window == 77


def test_a_real_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = tmp_path / "agenthedge_flat-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: agenthedge-flat\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nflat = tests.agents.quant.test_registry:Flat\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert available_plugins()["flat"].startswith("entry point")
    [plugin] = load_plugins(["flat"])
    assert isinstance(plugin, Flat)
    assert str(tmp_path) in sys.path


def test_unknown_name_is_a_config_error_naming_the_setting() -> None:
    with pytest.raises(PluginConfigError, match=r"COUNCIL_PLUGINS: unknown plug-in 'astrology'.*technical"):
        load_plugins(["technical", "astrology"])
    assert issubclass(PluginConfigError, ConfigError)  # the CLI turns it into exit code 2


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module_xyz:Thing", "cannot import 'no_such_module_xyz'"),
        ("tests.agents.quant.test_registry:Missing", "has no 'Missing'"),
        ("tests.agents.quant.test_registry:Nameless", "needs a 'name' usable as a topic segment"),
        ("tests.agents.quant.test_registry:Mute", "has no propose"),
        ("  ", "empty plug-in name"),
    ],
)
def test_bad_paths_are_explained(spec: str, message: str) -> None:
    with pytest.raises(PluginConfigError, match=message) as err:
        load_plugin(spec)
    assert str(err.value).startswith("COUNCIL_PLUGINS:")


def test_duplicates_and_an_empty_council_are_refused() -> None:
    with pytest.raises(PluginConfigError, match="two plug-ins are named 'technical'"):
        load_plugins(["technical", "tests.agents.quant.test_registry:TechnicalPlugin"])
    with pytest.raises(PluginConfigError, match="no plug-in configured"):
        load_plugins([])


def test_the_setting_parses_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNCIL_PLUGINS", "technical, tests.agents.quant.test_registry:Flat ,macro")
    settings = CouncilSettings()
    assert settings.plugins == ["technical", "tests.agents.quant.test_registry:Flat", "macro"]
    assert [p.name for p in load_plugins(settings.plugins)] == ["technical", "flat", "macro"]
