"""The provider interface every source and every wrapper implements."""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Self, TypeVar

from agents.data._errors import DataError, DatasetUnavailable, PartialFailure, ProviderAuthError, RateLimited
from agents.data._types import (
    Bar,
    Dataset,
    Fundamentals,
    Headline,
    MacroObservation,
    MacroSeries,
    ProviderHealth,
)


class DataProvider(abc.ABC):
    """An async source of market data.

    Contract for implementers:

    * ``bars``/``headlines`` return an entry for every requested symbol (an empty list when there is
      nothing in range); ``fundamentals`` and ``macro`` likewise key by symbol / series.
    * A symbol the source does not know at all raises :class:`~agents.data.SymbolNotFound`.
    * A dataset outside :attr:`capabilities` raises :class:`~agents.data.DatasetUnavailable` (the
      default implementations below do exactly that).
    * Upstream failures raise :class:`~agents.data.ProviderError` subclasses, never bare httpx or
      OS errors.
    * Bars are sorted by date; headlines by timestamp; macro observations by date.
    """

    name: str = "provider"
    capabilities: frozenset[Dataset] = frozenset()

    def supports(self, dataset: Dataset) -> bool:
        return dataset in self.capabilities

    def _unavailable(self, dataset: Dataset) -> DatasetUnavailable:
        return DatasetUnavailable(self.name, dataset)

    async def bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
        """Daily bars in ``[start, end]`` (inclusive) per symbol."""
        raise self._unavailable(Dataset.BARS)

    async def fundamentals(self, symbols: Sequence[str], asof: date) -> dict[str, Fundamentals]:
        """The latest fundamentals known on ``asof`` per symbol (never anything published after it)."""
        raise self._unavailable(Dataset.FUNDAMENTALS)

    async def headlines(self, symbols: Sequence[str], since: datetime, until: datetime) -> dict[str, list[Headline]]:
        """Headlines published in ``[since, until)`` per symbol. Both bounds timezone-aware."""
        raise self._unavailable(Dataset.HEADLINES)

    async def macro(self, series: Sequence[MacroSeries], start: date, end: date) -> dict[str, list[MacroObservation]]:
        """Observations dated in ``[start, end]`` per canonical series."""
        raise self._unavailable(Dataset.MACRO)

    @abc.abstractmethod
    async def health(self) -> ProviderHealth:
        """The provider's current health. Must not raise."""

    async def aclose(self) -> None:
        """Release network clients and files. Idempotent."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


T = TypeVar("T")


async def per_symbol(symbols: Sequence[str], fetch_one: Callable[[str], Awaitable[T]]) -> dict[str, T]:
    """Fetch symbol by symbol, keeping what succeeded when some fail.

    A single symbol's error is raised as is; with several symbols, failures raise
    :class:`PartialFailure` carrying the successes. After an auth or rate-limit error the remaining
    symbols are not tried (they would fail the same way and spend quota): they get the same error.
    """
    wanted = dedupe_symbols(symbols)
    out: dict[str, T] = {}
    errors: dict[str, DataError] = {}
    fatal: DataError | None = None
    for sym in wanted:
        if fatal is not None:
            errors[sym] = fatal
            continue
        try:
            out[sym] = await fetch_one(sym)
        except DataError as exc:
            errors[sym] = exc
            if isinstance(exc, ProviderAuthError | RateLimited):
                fatal = exc
    if errors:
        if len(wanted) == 1:
            raise errors[wanted[0]]
        raise PartialFailure(out, errors)
    return out


def dedupe_symbols(symbols: Sequence[str]) -> list[str]:
    """Symbols in first-seen order without repeats (requests with repeats are answered once)."""
    return list(dict.fromkeys(symbols))


def check_aware(*stamps: datetime) -> None:
    for ts in stamps:
        if ts.tzinfo is None or ts.utcoffset() is None:
            raise ValueError(f"datetime bounds must be timezone-aware, got {ts!r}")
