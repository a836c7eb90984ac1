"""Vendor providers over HTTP (httpx). Keys come from the constructor; see :mod:`agents.data.settings`."""

from agents.data._http._alphavantage import AlphaVantageProvider
from agents.data._http._base import HttpProvider
from agents.data._http._client import HttpClient, HttpStats, HttpStatusError, InBandRetry, RetryPolicy
from agents.data._http._finnhub import FinnhubProvider
from agents.data._http._fred import FredProvider
from agents.data._http._newsapi import NewsApiProvider

__all__ = [
    "AlphaVantageProvider",
    "FinnhubProvider",
    "FredProvider",
    "HttpClient",
    "HttpProvider",
    "HttpStats",
    "HttpStatusError",
    "InBandRetry",
    "NewsApiProvider",
    "RetryPolicy",
]
