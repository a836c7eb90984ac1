"""FRED (St. Louis Fed): ``series/observations`` mapped onto the canonical macro series.

``rates`` is the 10-year Treasury yield DGS10 (monthly average) or the effective fed funds rate
FEDFUNDS; ``inflation`` is CPI (CPIAUCSL) turned into a year-over-year percentage here; ``unemployment``
is UNRATE. FRED marks a missing value as ``"."``; those observations are skipped. Errors come as
HTTP 400 with ``{"error_code": ..., "error_message": ...}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Literal

from pydantic import SecretStr

from agents.data._errors import ProviderAuthError, ProviderResponseError, SymbolNotFound
from agents.data._http._base import HttpProvider
from agents.data._http._client import HttpStatusError
from agents.data._provider import per_symbol
from agents.data._types import MACRO_SERIES, Dataset, MacroObservation, MacroSeries

RatesSeries = Literal["DGS10", "FEDFUNDS"]


def _months_before(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


class FredProvider(HttpProvider):
    """Monthly macro series from FRED (one request per series)."""

    default_base_url = "https://api.stlouisfed.org"
    capabilities = frozenset({Dataset.MACRO})

    def __init__(
        self,
        api_key: str | SecretStr | None,
        *,
        rates_series: RatesSeries = "DGS10",
        name: str = "fred",
        **kwargs: Any,
    ) -> None:
        super().__init__(api_key, name=name, **kwargs)
        self.series_ids: dict[MacroSeries, str] = {
            "rates": rates_series,
            "inflation": "CPIAUCSL",
            "unemployment": "UNRATE",
        }

    async def _observations(self, series_id: str, start: date, end: date) -> list[tuple[date, float]]:
        params = {
            "series_id": series_id,
            "api_key": self._api_key(),
            "file_type": "json",
            "observation_start": start.isoformat(),
            "observation_end": end.isoformat(),
            "frequency": "m",
            "aggregation_method": "avg",
        }
        try:
            payload = await self.http.get_json("/fred/series/observations", params)
        except HttpStatusError as exc:
            message = str(exc.payload.get("error_message", exc.body)) if isinstance(exc.payload, dict) else exc.body
            if "api_key" in message:
                raise ProviderAuthError(self.name, message) from None
            if "does not exist" in message:
                raise SymbolNotFound(self.name, series_id, message) from None
            raise
        if not isinstance(payload, dict) or not isinstance(payload.get("observations"), list):
            raise ProviderResponseError(self.name, f"{series_id}: no 'observations' array")
        out = []
        for row in payload["observations"]:
            try:
                value = row["value"]
                if value == ".":
                    continue
                out.append((date.fromisoformat(row["date"]), float(value)))
            except (KeyError, TypeError, ValueError) as exc:
                raise ProviderResponseError(self.name, f"{series_id}: malformed observation ({exc!r})") from None
        return sorted(out)

    async def macro(self, series: Sequence[MacroSeries], start: date, end: date) -> dict[str, list[MacroObservation]]:
        names: dict[str, MacroSeries] = {str(s): s for s in series}

        async def one(key: str) -> list[MacroObservation]:
            name = names[key]
            if name not in MACRO_SERIES:
                raise SymbolNotFound(self.name, name, f"macro series are {MACRO_SERIES}")
            series_id = self.series_ids[name]
            if name == "inflation":
                levels = dict(await self._observations(series_id, _months_before(start, 13), end))
                points = [
                    (d, round((v / levels[prior] - 1.0) * 100.0, 3))
                    for d, v in levels.items()
                    if (prior := _months_before(d, 12)) in levels and levels[prior] > 0
                ]
            else:
                points = await self._observations(series_id, start, end)
            return [MacroObservation(name, d, v) for d, v in sorted(points) if start <= d <= end]

        return await per_symbol(list(names), one)
