"""How much of each limit the post-trade book uses: the basis of soft-breach alerts and of ``runtime health``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.risk._monitor import MonitorReport
from agents.risk._pretrade import PretradeResult
from agents.risk._settings import RiskSettings

# Limits whose hard breach has its own action (breaker, stress alert): the soft alert covers only [ratio, 1).
ACTED_ON = frozenset({"daily_loss", "drawdown", "stress"})


@dataclass(frozen=True, slots=True)
class Usage:
    """``utilisation`` of one limit (1.0 = at the limit). ``key`` names the limit and its subject."""

    key: str
    limit: str
    utilisation: float
    detail: str


def usages(
    result: PretradeResult, report: MonitorReport, settings: RiskSettings, gross_cap: float, *, floor: float = 0.0
) -> list[Usage]:
    """Utilisation of every limit by the post-trade book (the books plus the approved intents).

    ``floor`` leaves out single names used below it (a hundred-name book need not list every small position).
    """
    book = result.after
    signed = book.values
    nav = book.nav_of(signed)
    out: list[Usage] = []
    if nav <= 0:
        return out
    values = np.abs(signed)
    for j in np.flatnonzero(values >= floor * settings.max_single_name_nav * nav - 1e-12).tolist():
        weight = float(values[j]) / nav
        symbol = book.symbols[j]
        out.append(
            Usage(
                f"single_name:{symbol}",
                "single_name",
                weight / settings.max_single_name_nav,
                f"{symbol} is {weight:.1%} of NAV (limit {settings.max_single_name_nav:.1%})",
            )
        )
    for sector, gross in sorted(book.sector_gross(signed).items()):
        if gross > 0:
            weight = gross / nav
            out.append(
                Usage(
                    f"sector:{sector}",
                    "sector",
                    weight / settings.max_sector_nav,
                    f"sector {sector} is {weight:.1%} of NAV (limit {settings.max_sector_nav:.1%})",
                )
            )
    leverage = float(values.sum()) / nav
    out.append(Usage("gross", "gross_leverage", leverage / gross_cap, f"gross {leverage:.2f}x (cap {gross_cap:.2f}x)"))
    var = result.var_after / nav
    out.append(
        Usage(
            "var",
            "var",
            var / settings.max_var_nav,
            f"1-day VaR {var:.2%} of NAV ({result.var_method}; limit {settings.max_var_nav:.2%})",
        )
    )
    for name, loss in sorted(result.stress_after.items()):
        out.append(
            Usage(
                f"stress:{name}",
                "stress",
                loss / nav / settings.stress_max_loss_nav,
                f"scenario {name} loses {loss / nav:.1%} of NAV (limit {settings.stress_max_loss_nav:.1%})",
            )
        )
    if report.daily_return is not None and report.daily_return < 0:
        out.append(
            Usage(
                "daily_loss",
                "daily_loss",
                -report.daily_return / settings.daily_loss_pause,
                f"day's return {report.daily_return:+.2%} (pause at -{settings.daily_loss_pause:.2%})",
            )
        )
    if report.drawdown < 0:
        out.append(
            Usage(
                "drawdown",
                "drawdown",
                -report.drawdown / settings.drawdown_limit,
                f"{settings.drawdown_sessions}-session drawdown {report.drawdown:+.2%} "
                f"(REDUCING at -{settings.drawdown_limit:.2%})",
            )
        )
    return out


def soft_breaches(found: list[Usage], ratio: float) -> list[Usage]:
    """The usages that deserve a soft-breach alert: at or above ``ratio`` of their limit."""
    return [u for u in found if u.utilisation >= ratio - 1e-12 and not (u.limit in ACTED_ON and u.utilisation >= 1)]
