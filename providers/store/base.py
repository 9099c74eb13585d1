"""The availability store's interface: what the poller, the push API and the router rely on.

The API is synchronous on purpose: FastAPI runs sync handlers in its threadpool and the
poller calls the store through `asyncio.to_thread`, so one implementation serves both without
an async twin. Every backend keeps the same promises, checked by one contract test suite:

* `put_snapshot` replaces a provider's whole fleet atomically: a reader sees the old fleet
  or the new one, never a mix and never an empty gap; an invalid snapshot is refused before
  anything is written.
* Reads are answered from immutable snapshots, so a caller may keep what it got.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from providers.model import FleetSnapshot, Station, StationStatus, Vehicle
from providers.store.freshness import ProviderStatus

#: largest search radius of `nearby_*`: a shared vehicle farther than a 5 km walk is no option
MAX_RADIUS_M = 5000.0
#: most results one `nearby_*` call returns
MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class NearbyVehicle:
    """A rentable vehicle found near a point."""

    provider_id: str
    vehicle: Vehicle
    distance_m: float


@dataclass(frozen=True, slots=True)
class NearbyStation:
    """A station found near a point, with its current status when the feed gives one."""

    provider_id: str
    station: Station
    status: StationStatus | None
    distance_m: float


def check_nearby_query(
    lat: float, lon: float, radius_m: float, limit: int
) -> tuple[float, float, float]:
    """(lat, lon, radius_m) as plain floats; ValueError (with the value) on a bad query.

    Any real number is accepted (numpy scalars included) and converted, because Redis
    clients encode a float by its repr and `np.float64(60.1)` is not a number to Redis.
    """
    checked: list[float] = []
    for name, value, low, high in (
        ("lat", lat, -90.0, 90.0),
        ("lon", lon, -180.0, 180.0),
        ("radius_m", radius_m, 0.0, MAX_RADIUS_M),
    ):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"{name}={value!r} must be a number")
        x = float(value)
        if not (low <= x <= high and math.isfinite(x)) or (name == "radius_m" and x == 0):
            raise ValueError(f"{name}={value!r} must be a finite number within [{low}, {high}]")
        checked.append(x)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit={limit!r} must be an int in [1, {MAX_LIMIT}]")
    return checked[0], checked[1], checked[2]


class AvailabilityStore(ABC):
    """Where providers' fleets live between a push (or poll) and the router's queries."""

    @abstractmethod
    def put_snapshot(self, snapshot: FleetSnapshot) -> None:
        """Replace the provider's whole fleet atomically (validated before any write).

        Raises `FeedError` (a ValueError) for a snapshot the store cannot hold and
        `StoreUnavailableError` when the backend cannot take the write now.
        """

    @abstractmethod
    def snapshot(self, provider_id: str) -> FleetSnapshot | None:
        """The provider's current snapshot, or None when it has none."""

    @abstractmethod
    def provider_ids(self) -> list[str]:
        """Ids of the providers with a snapshot, sorted."""

    @abstractmethod
    def delete_provider(self, provider_id: str) -> None:
        """Forget the provider's fleet (raises UnknownProviderError when there is none)."""

    @abstractmethod
    def nearby_vehicles(
        self,
        lat: float,
        lon: float,
        radius_m: float,
        *,
        limit: int = 100,
        provider_ids: Collection[str] | None = None,
        now_s: int | None = None,
    ) -> list[NearbyVehicle]:
        """Rentable vehicles (with coordinates, not reserved, not disabled), nearest first.

        `provider_ids` restricts the search; with `now_s`, stale providers are skipped.
        Raises ValueError when `radius_m` exceeds `MAX_RADIUS_M` or `limit` `MAX_LIMIT`.
        """

    @abstractmethod
    def nearby_stations(
        self,
        lat: float,
        lon: float,
        radius_m: float,
        *,
        limit: int = 100,
        provider_ids: Collection[str] | None = None,
        now_s: int | None = None,
    ) -> list[NearbyStation]:
        """Stations with their status, nearest first (same rules as `nearby_vehicles`)."""

    @abstractmethod
    def status(self, provider_id: str, now_s: int) -> ProviderStatus:
        """Freshness report of the provider's snapshot (raises UnknownProviderError)."""

    @abstractmethod
    def fresh_snapshots(self, now_s: int) -> Mapping[str, FleetSnapshot]:
        """The snapshots the router may use at `now_s` (stale providers left out), read-only."""

    @abstractmethod
    def digest(self) -> str:
        """sha256 hex over the canonical bytes of everything stored, by provider id."""

    @abstractmethod
    def epoch(self, *, create: bool = True) -> str | None:
        """A token naming this incarnation of the stored data; created if there is none
        (None then, with ``create=False``: a read-only look, e.g. for /ready).

        The token stays the same for as long as the data does. A different token than the
        one a caller saw before means everything stored before may be gone (a Redis
        restarted without persistence, a flush, a failover to an empty replica): the caller
        re-seeds what it can and reports what it cannot. Raises `StoreUnavailableError` when
        the backend cannot answer now.
        """

    @abstractmethod
    def ping(self) -> bool:
        """True when the backend answers now (for /ready)."""

    @abstractmethod
    def health(self) -> dict[str, Any]:
        """A small JSON-able report of the backend's state (for /ready and operators)."""
