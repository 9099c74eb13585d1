"""Request and response models of the provider and admin endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

ProviderIdPath = Annotated[
    str,
    Path(
        pattern=r"^[a-z0-9][a-z0-9_-]{1,63}$",
        description="provider id",
        examples=["synthetic-scooters-hki"],
    ),
]
FileNamePath = Annotated[
    str,
    Path(pattern=r"^[a-z_]{1,40}$", description="GBFS file name", examples=["vehicle_status"]),
]


class FileFreshness(BaseModel):
    """Freshness of one stored feed file."""

    name: str
    last_updated_s: int
    ttl_s: int
    age_s: int
    content_sha256: str
    received_at_s: int


class PollError(BaseModel):
    """Why a polled provider's last poll failed (null while polling succeeds)."""

    reason: str = Field(description="e.g. 'UnsafeUrlError: ... resolves to a private address'")
    at_s: int = Field(description="when it failed, epoch seconds")
    consecutive_failures: int
    refused: bool = Field(description="the poll URL itself is refused: it is not polled")


class ProviderStatusOut(BaseModel):
    """A provider's data and its freshness; stale providers are not offered to the router."""

    provider_id: str
    name: str | None = None
    source: str | None = Field(description="push, poll or synthetic; null when data_lost")
    gbfs_version: str | None
    age_s: int | None
    stale: bool
    vehicles: int
    stations: int
    files: list[FileFreshness]
    data_lost: bool = Field(
        default=False,
        description="the availability cache lost this provider's data (a Redis restarted "
        "without persistence, a flush); cleared by its next push",
    )
    lost_at_s: int | None = Field(default=None, description="when the loss was noticed")
    poll_error: PollError | None = None
    warnings: list[str] = Field(
        default_factory=list,
        description="what the last push (or poll) had tolerated or left out, at most 50 lines",
    )


class ProviderSummary(BaseModel):
    """One entry of GET /providers."""

    provider_id: str
    name: str
    source: str | None = None
    polled: bool
    stale: bool | None = None
    age_s: int | None = None
    vehicles: int = 0
    stations: int = 0
    poll_error: PollError | None = None
    data_lost: bool = False
    lost_at_s: int | None = None


class ProvidersOut(BaseModel):
    """Every registered provider."""

    providers: list[ProviderSummary]


class PushResult(BaseModel):
    """What a push stored."""

    provider_id: str
    gbfs_version: str
    vehicles: int
    stations: int
    files: list[str]
    received_at_s: int
    warnings: list[str] = Field(
        default_factory=list,
        description=(
            "what was tolerated or left out (0/1 booleans, stations or vehicles outside the "
            "service area, counts above a station's capacity), at most 50 lines"
        ),
    )


class NewProvider(BaseModel):
    """Register a provider (pushing, or polled at `poll_url`)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"provider_id": "acme-bikes", "name": "Acme Bikes"}]},
    )

    provider_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{1,63}$")
    name: str = Field(min_length=1, max_length=200)
    poll_url: str | None = Field(default=None, max_length=2048)


class ProviderOut(BaseModel):
    """A registered provider."""

    provider_id: str
    name: str
    poll_url: str | None
    created_at_s: int


class KeyOut(BaseModel):
    """A new API key: the secret is shown once and never stored (only its hash is)."""

    key_id: str
    secret: str


class KeyInfoOut(BaseModel):
    """A key's id and lifecycle, never its secret."""

    key_id: str
    created_at_s: int
    revoked_at_s: int | None


class KeysOut(BaseModel):
    """A provider's keys."""

    keys: list[KeyInfoOut]
