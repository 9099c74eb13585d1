"""Service settings, read from `FAIRTRIP_*` environment variables (pydantic-settings).

`fairtrip serve` turns its flags into these variables before uvicorn starts, so every
worker process builds the same settings without sharing Python objects.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from network.embedded import CITY_KEYS, DEFAULT_CITY, UnknownCityError


class Settings(BaseSettings):
    """Everything an operator can tune; defaults serve the built-in Helsinki city."""

    model_config = SettingsConfigDict(env_prefix="FAIRTRIP_", extra="forbid")

    network: Path | None = Field(
        default=None, description="compiled network directory; none = the built-in `city`"
    )
    #: the built-in city served when no `network` is given (its demand, zones and SYNTHETIC
    #: fleets follow the network actually served, whichever way it was chosen)
    city: str = Field(default=DEFAULT_CITY, description=f"one of {', '.join(CITY_KEYS)}")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    #: largest request body accepted (a /plan body is a few hundred bytes; GBFS pushes are
    #: bigger and have their own limit)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=1024 * 1024)
    max_push_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, le=200 * 1024 * 1024)
    max_window_min: int = Field(default=240, ge=0, le=240)
    max_itineraries: int = Field(default=10, ge=1, le=50)
    #: wall-clock budget of one /plan request, queueing included
    plan_budget_s: float = Field(default=5.0, gt=0, le=60)
    store_url: str = Field(default="memory", description="'memory' or redis://host:port/db")
    #: prefix of every Redis key this deployment writes (several deployments can share one)
    redis_namespace: str = Field(default="fairtrip:", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    admin_token: SecretStr | None = None
    synthetic_providers: bool = True
    poll_allow_hosts: list[str] = Field(default_factory=list)
    #: THE durable store: policies, provider accounts and API key hashes (credentials, not
    #: cache; they never live only in `store_url`'s Redis). sqlite:///path or
    #: redis://host:port/db?namespace=x (a Redis run with AOF); empty = a SQLite file in the
    #: cache directory
    policy_store_url: str = ""
    #: evaluation jobs live in that store too; a finished job's result is deleted this many
    #: days after it finished (then the job answers 410 for as long again, then 404)
    job_retention_days: float = Field(default=7.0, gt=0, le=3650)
    #: how often each worker checks the availability cache's epoch key, to notice a Redis
    #: that came back empty (restart without persistence, flush, failover) and re-seed it
    cache_check_s: float = Field(default=2.0, gt=0, le=60)
    #: how often each worker rebuilds its fleet views from the store's fresh snapshots when
    #: nothing asked sooner: the delay before another worker's push is planned with
    fleet_refresh_s: float = Field(default=1.0, gt=0, le=60)
    #: seconds between two samples of the aggregated availability history (0: not recorded)
    history_period_s: float = Field(default=300.0, ge=0, le=86_400)
    #: central/peripheral zones /plan applies policies with (default: the embedded city's
    #: fare zones A = central, B = peripheral)
    policy_zones: Path | None = None
    #: demand the active policy is solved against, and its zones (default: the embedded
    #: city's SYNTHETIC gravity-model table)
    demand_csv: Path | None = None
    demand_zones: Path | None = None
    #: largest policy document or evaluation request (an uploaded OD table rides in it)
    max_policy_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    #: a request body must arrive in full within this many seconds of the request's start;
    #: a client that declares more than it sends gets 408 instead of holding a worker
    body_read_timeout_s: float = Field(default=10.0, gt=0, le=300)
    #: where evaluations route their OD matrix: "" in the worker's own process, "local" a
    #: Dask LocalCluster per evaluation, tcp://host:port an existing Dask cluster
    dask_scheduler: str = Field(default="", pattern=r"^(|local|(tcp|tls)://\S+)$")

    @field_validator("city")
    @classmethod
    def _known_city(cls, value: str) -> str:
        """A typo must stop the server at start, not serve the default city unnoticed."""
        if value not in CITY_KEYS:
            raise ValueError(str(UnknownCityError(value)))
        return value

    @field_validator("admin_token")
    @classmethod
    def _strong_admin_token(cls, value: SecretStr | None) -> SecretStr | None:
        """A guessable admin token would hand every provider's fleet to an attacker."""
        if value is not None and len(value.get_secret_value()) < 24:
            raise ValueError("FAIRTRIP_ADMIN_TOKEN must be at least 24 characters")
        return value


@lru_cache
def get_settings() -> Settings:
    """The process's settings (cached; tests pass their own to `create_app`)."""
    return Settings()
