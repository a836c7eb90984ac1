"""Settings of the metrics endpoint (``PROMETHEUS_METRICS_PORT``, default 9464)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MetricsSettings(BaseSettings):
    """Where the daemon serves ``/metrics``: ``PROMETHEUS_METRICS_PORT``, ``_ADDR``, ``_ENABLED``."""

    model_config = SettingsConfigDict(env_prefix="PROMETHEUS_METRICS_", env_file=".env", extra="ignore")

    enabled: bool = Field(default=True, description="Serve the Prometheus endpoint from the daemon")
    port: int = Field(default=9464, ge=0, le=65535, description="TCP port of /metrics (0: any free port)")
    addr: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="Address to bind; 0.0.0.0 to let a Prometheus outside this host scrape (NAV is in the figures)",
    )
