"""Promotion of a backtest's tracker weights to live, against the mandate (runbook "Backtesting & Promotion").

``backtest promote <run_id> --operator NAME --reason TEXT``:

1. the operator must be on the roster (``RUNTIME_OPERATORS``) and give a reason;
2. the run is checked against :class:`~ops.backtest.settings.MandateSettings`: enough sessions and round
   trips, drawdown and VaR usage within limits, an optional Sharpe floor, and **no unresolved breaches**;
   a breach is *unresolved* when nobody could have resolved it inside the run: a kill switch tripped (HALTED
   needs a human sign-off, which a backtest never gets), the run ended in a state other than RUNNING (a
   PAUSE or REDUCING left standing), an incident is still open, or more hard-limit breaches (limits at or
   over 100%, loss breakers, stress breaches) than ``MANDATE_MAX_HARD_BREACHES`` happened;
3. the report (``promotion.json`` and ``promotion.md``) is written beside the run, pass or fail;
4. under the live home's lock (refused while a runtime holds it: its in-memory tracker would not see the
   change and would overwrite it), a pass installs ``performance.json`` into the live ledger's tracker
   (``agents.director.install_weights``: kv namespace ``council``, key ``tracker``) and the live audit log
   records ``backtest.promoted`` (who, what, why, the report's SHA-256, the weights); a failure records
   ``backtest.promotion_refused`` with the reasons and installs nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from agents.director import install_weights
from ops.backtest.artifacts import RunPaths, canonical_json, read_json, write_text
from ops.backtest.settings import MandateSettings
from runtime.lock import HomeLock, HomeLocked
from storage.audit import AUDIT_FILE, AuditLog
from storage.ledger import Ledger

PROMOTED = "backtest.promoted"
REFUSED = "backtest.promotion_refused"


class PromotionBlocked(Exception):
    """The promotion could not be carried out (live home held, unreadable run); the report says what was checked."""


@dataclass(frozen=True)
class MandateCheck:
    name: str
    ok: bool
    value: Any
    limit: Any
    detail: str


@dataclass
class PromotionReport:
    run_id: str
    operator: str
    reason: str
    evaluated_at: str
    passed: bool
    checks: list[MandateCheck]
    mandate: dict[str, Any]
    result_sha256: str
    weights: dict[str, float] = field(default_factory=dict)
    installed: bool = False

    @property
    def failures(self) -> list[str]:
        return [c.detail for c in self.checks if not c.ok]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "failures": self.failures}


def _check(name: str, ok: bool, value: Any, limit: Any, detail: str) -> MandateCheck:
    return MandateCheck(name, bool(ok), value, limit, detail)


def evaluate_mandate(
    result: dict[str, Any], performance: dict[str, Any], mandate: MandateSettings
) -> list[MandateCheck]:
    """Every check of the mandate on a run's ``result.json`` and ``performance.json`` (pure)."""
    m = result.get("metrics", {})
    checks: list[MandateCheck] = []
    sessions = int(result.get("sessions", 0))
    checks.append(
        _check(
            "sessions",
            sessions >= mandate.min_sessions,
            sessions,
            mandate.min_sessions,
            f"{sessions} sessions (minimum {mandate.min_sessions})",
        )
    )
    trades = int(m.get("trades", 0))
    checks.append(
        _check(
            "trades",
            trades >= mandate.min_trades,
            trades,
            mandate.min_trades,
            f"{trades} round trips (minimum {mandate.min_trades})",
        )
    )
    dd = float(m.get("max_drawdown", 0.0))
    checks.append(
        _check(
            "max_drawdown",
            dd <= mandate.max_drawdown,
            dd,
            mandate.max_drawdown,
            f"max drawdown {dd:.2%} (limit {mandate.max_drawdown:.2%})",
        )
    )
    usage = m.get("var_usage")
    checks.append(
        _check(
            "var_usage",
            usage is not None and float(usage) <= mandate.max_var_usage,
            usage,
            mandate.max_var_usage,
            f"peak VaR usage {float(usage):.0%} of the limit (maximum {mandate.max_var_usage:.0%})"
            if usage is not None
            else "no VaR measured in the run",
        )
    )
    if mandate.min_sharpe is not None:
        sharpe = m.get("sharpe")
        checks.append(
            _check(
                "sharpe",
                sharpe is not None and float(sharpe) >= mandate.min_sharpe,
                sharpe,
                mandate.min_sharpe,
                f"Sharpe {sharpe if sharpe is None else round(float(sharpe), 3)} (minimum {mandate.min_sharpe})",
            )
        )
    breaches: dict[str, int] = dict(m.get("breaches", {}))
    kills = breaches.get("kill_switch", 0)
    checks.append(
        _check("kill_switch", kills == 0, kills, 0, f"{kills} kill switch(es) tripped during the run (HALTED)")
    )
    state = str(result.get("final_state", "?"))
    checks.append(_check("final_state", state == "RUNNING", state, "RUNNING", f"the run ended {state}"))
    still_open = [i["id"] for i in result.get("incidents", []) if i.get("status") == "open"]
    checks.append(
        _check(
            "open_incidents",
            not still_open,
            len(still_open),
            0,
            f"open incidents: {', '.join(still_open) or 'none'}",
        )
    )
    hard = sum(v for k, v in breaches.items() if k != "kill_switch")
    listed = ", ".join(f"{k} x{v}" for k, v in sorted(breaches.items()) if k != "kill_switch") or "none"
    checks.append(
        _check(
            "hard_breaches",
            hard <= mandate.max_hard_breaches,
            hard,
            mandate.max_hard_breaches,
            f"{hard} hard-limit breach(es): {listed} (tolerated {mandate.max_hard_breaches})",
        )
    )
    found = performance.get("weights")
    plugins = sorted(str(p) for p in found) if isinstance(found, dict) else []
    listed_plugins = ", ".join(plugins) or "none"
    checks.append(
        _check("weights", bool(plugins), len(plugins), ">= 1", f"tracker weights to install: {listed_plugins}")
    )
    return checks


def render_markdown(report: PromotionReport) -> str:
    verdict = "PASSED" if report.passed else "REFUSED"
    lines = [
        f"# Promotion of backtest {report.run_id}: {verdict}",
        "",
        f"- operator: {report.operator}",
        f"- reason: {report.reason}",
        f"- evaluated at: {report.evaluated_at}",
        f"- result.json SHA-256: `{report.result_sha256}`",
        "",
        "| check | ok | value | limit | detail |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in report.checks:
        lines.append(f"| {c.name} | {'yes' if c.ok else '**NO**'} | {c.value} | {c.limit} | {c.detail} |")
    if report.passed:
        lines += ["", "Weights installed for live:" if report.installed else "Weights to install:", ""]
        lines += [f"- {p}: {w:.4f}" for p, w in sorted(report.weights.items())]
    else:
        lines += ["", "Refused because:", ""]
        lines += [f"- {why}" for why in report.failures]
    return "\n".join(lines) + "\n"


def _write_report(paths: RunPaths, report: PromotionReport) -> str:
    text = canonical_json(report.to_json())
    write_text(paths.promotion_json, text)
    write_text(paths.promotion_md, render_markdown(report))
    return hashlib.sha256(text.encode()).hexdigest()


async def promote(
    home: Path,
    run_id: str,
    *,
    operator: str,
    reason: str,
    roster: list[str],
    mandate: MandateSettings,
    env: str,
    now: datetime,
) -> tuple[PromotionReport, str]:
    """Check ``run_id`` against the mandate, write the report, and on a pass install its weights in the live
    home ``home``; every attempt by a roster operator is audited in the live audit log.

    Returns:
        The report and its SHA-256 (of ``promotion.json``). ``report.passed`` says whether it was installed.

    Raises:
        ops.backtest.artifacts.RunNotFound: no such finished run.
        PromotionBlocked: the live home is held by a running runtime (the report is written, nothing installed).
    """
    paths = RunPaths.existing(home, run_id)
    result_text = paths.result.read_bytes()
    result = read_json(paths.result)
    performance = read_json(paths.performance) if paths.performance.is_file() else {}
    who = operator.strip()
    checks = [
        _check(
            "operator",
            bool(who) and who in roster,
            who,
            "RUNTIME_OPERATORS",
            f"operator {who!r} is on the roster"
            if who in roster
            else f"operator {who!r} is not on the roster" + (" (RUNTIME_OPERATORS is empty)" if not roster else ""),
        ),
        _check("reason", bool(reason.strip()), reason.strip(), "non-empty", "a documented reason is required"),
        *evaluate_mandate(result, performance, mandate),
    ]
    passed = all(c.ok for c in checks)
    raw_weights = performance.get("weights") if isinstance(performance.get("weights"), dict) else {}
    report = PromotionReport(
        run_id=run_id,
        operator=who,
        reason=reason.strip(),
        evaluated_at=now.isoformat(timespec="seconds"),
        passed=passed,
        checks=checks,
        mandate=mandate.model_dump(mode="json"),
        result_sha256=hashlib.sha256(result_text).hexdigest(),
        weights={str(k): float(v) for k, v in (raw_weights or {}).items()},
    )
    digest = _write_report(paths, report)
    if not who or who not in roster:
        return report, digest  # not audited in the live log: only the roster may write there
    lock = HomeLock(home)
    try:
        lock.acquire("promotion")
    except HomeLocked as exc:
        raise PromotionBlocked(
            f"{exc}: stop the runtime to promote (its tracker is in memory); report written to {paths.promotion_md}"
        ) from None
    try:
        ledger = await Ledger.open(home / "ledger.sqlite")
        try:
            log = AuditLog(home / AUDIT_FILE, run_id=f"promotion-{run_id}", env=env, clock=lambda: now)
            try:
                base = {
                    "run_id": run_id,
                    "reason": report.reason,
                    "report_sha256": digest,
                    "result_sha256": report.result_sha256,
                    "report": str(paths.promotion_json),
                }
                if passed:
                    installed = await install_weights(ledger, performance, source=f"backtest:{run_id}", ts=now)
                    report.weights, report.installed = installed, True
                    digest = _write_report(paths, report)
                    record = log.append(PROMOTED, {**base, "report_sha256": digest, "weights": installed}, actor=who)
                else:
                    record = log.append(REFUSED, {**base, "failures": report.failures}, actor=who)
                await ledger.set_audit_head(record.seq, record.hash)
            finally:
                log.close()
        finally:
            await ledger.close()
    except ValueError as exc:  # a malformed weights document: nothing was installed
        raise PromotionBlocked(f"the run's weights cannot be installed: {exc}") from None
    finally:
        lock.release()
    return report, digest
