"""The data layer's exceptions. Everything raised on purpose is a :class:`DataError`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.data._types import Dataset


class DataError(Exception):
    """Base class of every error the data layer raises on purpose."""


class DatasetUnavailable(DataError):
    """The provider does not serve this dataset (or not for this request, e.g. point in time)."""

    def __init__(self, provider: str, dataset: Dataset, reason: str = "") -> None:
        detail = f": {reason}" if reason else ""
        super().__init__(f"provider {provider!r} does not serve {dataset.value}{detail}")
        self.provider = provider
        self.dataset = dataset


class SymbolNotFound(DataError):
    """The provider does not know the symbol (or macro series) at all."""

    def __init__(self, provider: str, symbol: str, detail: str = "") -> None:
        extra = f" ({detail})" if detail else ""
        super().__init__(f"provider {provider!r} has no data for {symbol!r}{extra}")
        self.provider = provider
        self.symbol = symbol


class CsvFormatError(DataError, ValueError):
    """A CSV file that cannot be read: bad header or a bad row. The message names ``file:line``."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")
        self.path = Path(path)
        self.line = line
        self.reason = reason


class ProviderError(DataError):
    """An upstream source failed: network, status, payload or vendor-reported error."""

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider


class ProviderUnreachable(ProviderError):
    """Connect error or timeout, after the retries."""


class RateLimited(ProviderError):
    """The vendor refused for rate reasons (HTTP 429 or an in-band note) and retrying did not help."""

    def __init__(self, provider: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(provider, message)
        self.retry_after = retry_after


class ProviderAuthError(ProviderError):
    """Missing, invalid or insufficient API key (401/403 or the vendor's in-band equivalent)."""


class ProviderResponseError(ProviderError):
    """An unexpected status or a payload that is not in the vendor's documented format."""


class PartialFailure(DataError):
    """Some symbols of a multi-symbol request failed. ``data`` holds what succeeded (keyed like the
    full answer would be), ``errors`` the error of each symbol that did not."""

    def __init__(self, data: dict[str, Any], errors: dict[str, DataError]) -> None:
        detail = "; ".join(f"{sym}: {err}" for sym, err in errors.items())
        super().__init__(f"{len(errors)} of {len(data) + len(errors)} failed: {detail}")
        self.data = data
        self.errors = errors
