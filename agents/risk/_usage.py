"""How much of each limit the post-trade book uses: the basis of soft-breach alerts and of ``runtime health``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from agents.risk._monitor import MonitorReport
from agents.risk._pretrade import PretradeResult
from agents.risk._settings import RiskSettings

# Limits whose hard breach has its own action (breaker, stress alert): the soft alert covers only [ratio, 1).
ACTED_ON = frozenset({"daily_loss", "drawdown", "stress"})


@dataclass(frozen=True, slots=True)
class Usage:
    """``utilisation`` of one limit (1.0 = at the limit). ``key`` names the limit and its subject.

    ``described`` is the :attr:`detail` text, or what formats it when first read: most usages of most ticks are
    never shown (only alerts and the health view read them)."""

    key: str
    limit: str
    utilisation: float
    described: str | Callable[[], str] = field(repr=False, compare=False)

    @property
    def detail(self) -> str:
        text = self.described
        return text if isinstance(text, str) else text()


def usages(
    result: PretradeResult, report: MonitorReport, settings: RiskSettings, gross_cap: float, *, floor: float = 0.0
) -> list[Usage]:
    """Utilisation of every limit by the post-trade book (the books plus the approved intents).

    ``floor`` leaves out single names used below it (a hundred-name book need not list every small position).
    """
    book = result.after
    signed = result.after_values()
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
                partial("{} is {:.1%} of NAV (limit {:.1%})".format, symbol, weight, settings.max_single_name_nav),
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
                    partial(
                        "sector {} is {:.1%} of NAV (limit {:.1%})".format, sector, weight, settings.max_sector_nav
                    ),
                )
            )
    leverage = float(values.sum()) / nav
    detail = partial("gross {:.2f}x (cap {:.2f}x)".format, leverage, gross_cap)
    out.append(Usage("gross", "gross_leverage", leverage / gross_cap, detail))
    var = result.var_after / nav
    out.append(
        Usage(
            "var",
            "var",
            var / settings.max_var_nav,
            partial("1-day VaR {:.2%} of NAV ({}; limit {:.2%})".format, var, result.var_method, settings.max_var_nav),
        )
    )
    for name, loss in sorted(result.stress_after.items()):
        out.append(
            Usage(
                f"stress:{name}",
                "stress",
                loss / nav / settings.stress_max_loss_nav,
                partial(
                    "scenario {} loses {:.1%} of NAV (limit {:.1%})".format,
                    name,
                    loss / nav,
                    settings.stress_max_loss_nav,
                ),
            )
        )
    if report.daily_return is not None and report.daily_return < 0:
        out.append(
            Usage(
                "daily_loss",
                "daily_loss",
                -report.daily_return / settings.daily_loss_pause,
                partial(
                    "day's return {:+.2%} (pause at -{:.2%})".format, report.daily_return, settings.daily_loss_pause
                ),
            )
        )
    if report.drawdown < 0:
        out.append(
            Usage(
                "drawdown",
                "drawdown",
                -report.drawdown / settings.drawdown_limit,
                partial(
                    "{}-session drawdown {:+.2%} (REDUCING at -{:.2%})".format,
                    settings.drawdown_sessions,
                    report.drawdown,
                    settings.drawdown_limit,
                ),
            )
        )
    return out


def soft_breaches(found: list[Usage], ratio: float) -> list[Usage]:
    """The usages that deserve a soft-breach alert: at or above ``ratio`` of their limit."""
    return [u for u in found if u.utilisation >= ratio - 1e-12 and not (u.limit in ACTED_ON and u.utilisation >= 1)]
