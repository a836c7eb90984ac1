"""The drill's report: ``drill.json`` (everything) and ``drill.md`` (for the monthly review)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.artifacts import write_json_atomic

if TYPE_CHECKING:
    from ops.maintenance.drill import DrillReport


def report_json(report: DrillReport) -> dict[str, Any]:
    data = asdict(report)
    data["ok"] = report.ok
    return data


def markdown(report: DrillReport) -> str:
    verdict = "PASSED" if report.ok else "FAILED"

    def ms(value: float | None) -> str:
        return f"{value:.1f} ms" if value is not None else "n/a"

    halt_slo, cancel_slo = report.slo_ms.get("halt", 0), report.slo_ms.get("cancel", 0)
    lines = [
        f"# Kill-switch drill: {verdict}",
        "",
        f"- Started: {report.started_at}; finished: {report.finished_at}",
        f"- Temporary home: `{report.drill_home}` ({'kept' if report.kept_home else 'deleted'})",
        f"- Agents ({report.agents_source}): {', '.join(report.agents)}",
        f"- Replay ticks: {len(report.ticks)}; working orders at the kill switch: {report.open_orders_before}",
        f"- Injected on `runtime.kill_switch`; incident `{report.incident_id}`",
        "",
        "| Measure | Time | SLO |",
        "| --- | --- | --- |",
        f"| Publish -> HALTED persisted | {ms(report.time_to_halt_ms)} | {halt_slo:.0f} ms |",
        f"| Publish -> every order cancelled | {ms(report.time_to_cancel_ms)} | {cancel_slo:.0f} ms |",
        f"| Publish -> incident and alert | {ms(report.time_to_incident_ms)} | |",
        "",
        "| Agent | Safe | Detail | Heartbeat |",
        "| --- | --- | --- | --- |",
    ]
    for name in report.agents:
        state = report.safe_states.get(name, {})
        safe = "yes" if state.get("safe") else "NO"
        lines.append(f"| {name} | {safe} | {state.get('detail', 'no answer')} | {report.heartbeats.get(name, '?')} |")
    lines += ["", "| Check | Result | Detail |", "| --- | --- | --- |"]
    lines += [f"| {c.name} | {'ok' if c.ok else 'FAILED'} | {c.detail} |" for c in report.checks]
    if report.warnings:
        lines += ["", "Warnings:", *[f"- {w}" for w in report.warnings]]
    return "\n".join(lines) + "\n"


def write_report(folder: Path, report: DrillReport) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder / "drill.json", report_json(report))
    tmp = folder / ".drill.md.tmp"
    tmp.write_text(markdown(report), encoding="utf-8")
    tmp.replace(folder / "drill.md")
