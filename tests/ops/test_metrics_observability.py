"""ops/observability: the Prometheus config and rules pass promtool, the rules behave (promtool test rules),
and the Grafana dashboard and the rules only query metrics the app really exports (checked against a scrape).
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.ops.test_metrics_scrape import families, live_scrape, promtool

HERE = Path(__file__).resolve().parents[2] / "ops" / "observability"
# Grafana variables in expressions, with values that make plain PromQL of them.
GRAFANA_VARS = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"}
PROMETHEUS_OWN = {"up"}  # made by Prometheus for each target, not by the app


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every series name the app exports (histograms with their _bucket, _sum and _count)."""
    text = asyncio.run(live_scrape(tmp_path_factory.mktemp("observability")))
    names: set[str] = set()
    for name, kind in families(text).items():
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((HERE / "grafana_dashboard.json").read_text(encoding="utf-8"))
    return data


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression reads (not functions, operators, labels or durations)."""
    text = re.sub(r'"[^"]*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.$])([A-Za-z_:][\w:]*)(\s*\()?", text):
        token, call = match.group(1), match.group(2)
        if call or token in PROMQL_WORDS:
            continue
        names.add(token)
    return names


def test_metric_name_extraction() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (agent, le) (rate(agent_tick_duration_seconds_bucket{job="x"}[5m]))) '
        "and on() max(runtime_session_open) == 1 or vector(0)"
    )
    assert metric_names(expr) == {"agent_tick_duration_seconds_bucket", "runtime_session_open"}


def _exprs(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            found.append((panel["title"], target["expr"]))
    for annotation in dashboard["annotations"]["list"]:
        if "expr" in annotation:
            found.append((annotation["name"], annotation["expr"]))
    return found


def _plain(expr: str) -> str:
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    return expr


def _rule_exprs() -> list[tuple[str, str]]:
    """(alert, expr) of alert_rules.yml, read without a YAML library: every rule's expr is on one line."""
    text = (HERE / "alert_rules.yml").read_text(encoding="utf-8")
    alerts = re.findall(r"^\s*- alert: (\S+)\n\s*expr: (.+)$", text, re.M)
    assert len(alerts) == text.count("- alert:")
    return alerts


def test_prometheus_config_passes_promtool() -> None:
    result = promtool("check", "config", "prometheus.yml", cwd=HERE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout


def test_prometheus_scrapes_the_daemon_and_loads_the_rules() -> None:
    text = (HERE / "prometheus.yml").read_text(encoding="utf-8")
    assert re.search(r"^\s*- job_name: agenthedge$", text, re.M)
    assert 'targets: ["localhost:9464"]' in text
    assert re.search(r"^rule_files:\n\s+- alert_rules\.yml$", text, re.M)


def test_alert_rules_pass_promtool() -> None:
    result = promtool("check", "rules", "alert_rules.yml", cwd=HERE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_rule_exprs())} rules found" in result.stdout


def test_alert_rules_behave_under_promtool_test_rules() -> None:
    result = promtool("test", "rules", "alert_rules_test.yml", cwd=HERE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_rules_the_issue_asks_for_exist() -> None:
    rules = dict(_rule_exprs())
    for alert in (
        "KillSwitchActive",
        "RuntimeHalted",
        "RuntimeDegraded",
        "BusDepthHigh",
        "TickErrors",
        "AlertChannelFailing",
        "DataProviderQuarantine",
        "NoTicksInSession",
    ):
        assert alert in rules
    assert "runtime_session_open" in rules["NoTicksInSession"]
    assert "runtime_ticks_total" in rules["NoTicksInSession"]


def test_alert_rules_only_read_exported_metrics(exported: set[str]) -> None:
    unknown = {
        (alert, name) for alert, expr in _rule_exprs() for name in metric_names(expr) - exported - PROMETHEUS_OWN
    }
    assert unknown == set()


def test_the_dashboard_is_a_grafana_dashboard(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "agenthedge-ops"
    assert dashboard["title"] == "AgentHedge operations"
    assert isinstance(dashboard["schemaVersion"], int)
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    boxes: list[dict[str, int]] = []
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        assert g["x"] >= 0, panel["title"]
        assert g["x"] + g["w"] <= 24, panel["title"]
        for other in boxes:  # panels never overlap
            overlap_x = g["x"] < other["x"] + other["w"] and other["x"] < g["x"] + g["w"]
            overlap_y = g["y"] < other["y"] + other["h"] and other["y"] < g["y"] + g["h"]
            assert not (overlap_x and overlap_y), panel["title"]
        boxes.append(g)
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_the_dashboard_shows_what_the_issue_lists(dashboard: dict[str, Any]) -> None:
    titles = " | ".join(p["title"] for p in dashboard["panels"])
    for wanted in (
        "Runtime state",
        "Kill switch",
        "Bus depth (runtime_bus_depth)",
        "Agent tick duration p50 / p99",
        "NAV",
        "Gross and net exposure",
        "Rejects by reason",
        "Alerts by severity",
        "Provider",
        "Job runs",
        "Missed runs",
        "Strategy Council Weights",
    ):
        assert wanted in titles
    exprs = {expr for _, expr in _exprs(dashboard)}
    assert any("histogram_quantile(0.5" in e and "agent_tick_duration_seconds_bucket" in e for e in exprs)
    assert any("histogram_quantile(0.99" in e and "agent_tick_duration_seconds_bucket" in e for e in exprs)


def test_dashboard_expressions_are_valid_promql(dashboard: dict[str, Any], tmp_path: Path) -> None:
    exprs = _exprs(dashboard)
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for n, (_, expr) in enumerate(exprs):
        lines += [f"      - record: dashboard:panel_{n}", f"        expr: {json.dumps(_plain(expr))}"]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


def test_dashboard_only_queries_exported_metrics(dashboard: dict[str, Any], exported: set[str]) -> None:
    used = {(title, name) for title, expr in _exprs(dashboard) for name in metric_names(_plain(expr))}
    unknown = {(title, name) for title, name in used if name not in exported | PROMETHEUS_OWN}
    assert unknown == set()
    assert {"runtime_bus_depth", "agent_tick_duration_seconds_bucket", "council_weight"} <= {n for _, n in used}


def test_compose_mounts_files_that_exist_and_pins_its_images() -> None:
    text = (HERE / "docker-compose.yml").read_text(encoding="utf-8")
    mounted = re.findall(r"- \./([\w.\-]+):", text)
    assert set(mounted) == {
        "prometheus.yml",
        "alert_rules.yml",
        "grafana-datasource.yml",
        "grafana-dashboards.yml",
        "grafana_dashboard.json",
    }
    for name in mounted:
        assert (HERE / name).is_file(), name
    images = re.findall(r"image: (\S+)", text)
    assert len(images) == 2
    assert all(re.search(r":v?\d+\.\d+\.\d+$", image) for image in images)
    provider = (HERE / "grafana-dashboards.yml").read_text(encoding="utf-8")
    assert "path: /var/lib/grafana/dashboards/agenthedge" in provider
    assert "./grafana_dashboard.json:/var/lib/grafana/dashboards/agenthedge/" in text
    assert "url: http://localhost:9090" in (HERE / "grafana-datasource.yml").read_text(encoding="utf-8")
