"""Helpers shared by the synthetic providers: GBFS 3.0 envelopes, ids, street geometry, and
the cities they are generated for (`FleetCity`: Helsinki and Northern Kentucky).

Positions are handled in a local equirectangular projection (metres east/north of the
city's centre): over a city a few tens of kilometres across its error is far below the
5 m a vehicle may sit from its street node, and it keeps every distance a numpy expression.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

GBFS_VERSION = "3.0"
#: ttl of files that change only when the operator edits its system (stations, prices, zones)
TTL_STATIC_S = 86_400
#: ttl of the real-time files (station_status, vehicle_status)
TTL_DYNAMIC_S = 60
#: the files a consumer polls often; `churn` changes only these and advances their clock
DYNAMIC_FILES = frozenset({"station_status", "vehicle_status"})
#: `.invalid` is reserved (RFC 2606): these URLs can never reach a real operator
FEED_BASE_URL = "https://synthetic.fairtrip.invalid/gbfs"
TIMEZONE = "Europe/Helsinki"
CONTACT_EMAIL = "synthetic-data@fairtrip.invalid"

#: Helsinki Central railway station: the point the synthetic fleets are densest around
CENTRE_LAT, CENTRE_LON = 60.1710, 24.9414
_EARTH_RADIUS_M = 6_371_008.8
_M_PER_DEG_LAT = math.radians(1.0) * _EARTH_RADIUS_M

FloatArray = npt.NDArray[np.float64]
Nodes = tuple[FloatArray, FloatArray]  # (node -> latitude, node -> longitude)


@dataclass(frozen=True, slots=True)
class FleetCity:
    """Where a city's synthetic fleets are generated from, and how they thin out.

    Attributes
    ----------
    key
        the suffix of the providers' ids (`synthetic-scooters-<key>`).
    name
        the city's name in the feeds' `system_information`.
    centre_lat, centre_lon
        the point the fleets are densest around, and the origin of the local projection.
    timezone, currency
        the feeds' `timezone` and the pricing plans' currency.
    scale_m, floor
        `centre_weights`: the weight falls off as exp(-distance / scale_m), plus `floor`.
    """

    key: str
    name: str
    centre_lat: float
    centre_lon: float
    timezone: str
    currency: str
    scale_m: float
    floor: float

    @property
    def m_per_deg_lon(self) -> float:
        """Metres per degree of longitude at the centre's latitude."""
        return _M_PER_DEG_LAT * math.cos(math.radians(self.centre_lat))


#: Helsinki: densest around the railway station, 1.5 km fall-off, a 10 % floor
HELSINKI = FleetCity("hki", "Helsinki", CENTRE_LAT, CENTRE_LON, TIMEZONE, "EUR", 1500.0, 0.1)
#: Northern Kentucky: densest at the Roebling bridge (Covington, Newport and downtown
#: Cincinnati lie within 2 km of it); a 2.5 km fall-off with a 2 % floor puts about four in
#: five vehicles in the urban core (within 4.5 km, the demand model's core) although only
#: a third of the street nodes lie there: shared fleets thin out toward car-oriented suburbs
NKY = FleetCity(
    "nky", "Northern Kentucky", 39.0923, -84.5097, "America/New_York", "USD", 2500.0, 0.02
)
FLEET_CITIES: tuple[FleetCity, ...] = (HELSINKI, NKY)


def city_near(lat: npt.ArrayLike, lon: npt.ArrayLike) -> FleetCity:
    """The synthetic city whose centre is nearest to these points (Helsinki if none is finite).

    The cities lie thousands of kilometres apart, so the points of a fleet, a street graph
    or a vehicle always pick their own city; this lets the churn, which reads only GBFS
    documents, measure distances in the right city without being told which it is.
    """
    a_lat = np.asarray(lat, dtype=np.float64).ravel()
    a_lon = np.asarray(lon, dtype=np.float64).ravel()
    ok = np.isfinite(a_lat) & np.isfinite(a_lon)
    if not ok.any():
        return HELSINKI
    mid_lat, mid_lon = float(a_lat[ok].mean()), float(a_lon[ok].mean())
    return min(
        FLEET_CITIES,
        key=lambda c: (c.centre_lat - mid_lat) ** 2 + (c.centre_lon - mid_lon) ** 2,
    )


def rfc3339(epoch_s: int) -> str:
    """Epoch seconds as an RFC 3339 UTC timestamp (GBFS 3.0), e.g. 2022-02-22T06:00:00+00:00."""
    return dt.datetime.fromtimestamp(int(epoch_s), dt.UTC).isoformat()


def parse_rfc3339(text: str) -> int:
    """The epoch seconds of an RFC 3339 timestamp written by `rfc3339` (or any with an offset)."""
    when = dt.datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset; RFC 3339 requires one")
    return int(when.timestamp())


def document(data: Mapping[str, Any], *, now_s: int, ttl_s: int) -> dict[str, Any]:
    """One GBFS 3.0 file: the envelope (last_updated, ttl, version) around `data`."""
    return {"last_updated": rfc3339(now_s), "ttl": ttl_s, "version": GBFS_VERSION, "data": data}


def text(en: str, **others: str) -> list[dict[str, str]]:
    """A GBFS 3.0 localized string: English first, then e.g. fi=..., sv=..."""
    return [{"text": en, "language": "en"}] + [
        {"text": value, "language": lang} for lang, value in others.items()
    ]


def discovery(provider_id: str, names: Iterable[str], *, now_s: int) -> dict[str, Any]:
    """The `gbfs` auto-discovery file listing every other file of the provider."""
    feeds = [{"name": n, "url": f"{FEED_BASE_URL}/{provider_id}/{n}.json"} for n in names]
    return document({"feeds": feeds}, now_s=now_s, ttl_s=TTL_STATIC_S)


def random_ids(rng: np.random.Generator, n: int, taken: set[str] | None = None) -> list[str]:
    """`n` distinct random 16-hex-digit ids, none in `taken`.

    GBFS (since 2.0) wants free-floating vehicle ids rotated after every trip, so ids are
    random strings rather than fleet numbers; they are drawn from `rng` to stay reproducible.
    """
    used = set(taken or ())
    out: list[str] = []
    while len(out) < n:
        for value in rng.integers(0, 2**62, size=n - len(out), dtype=np.int64):
            vid = f"{int(value):016x}"
            if vid not in used:
                used.add(vid)
                out.append(vid)
    return out


def to_xy(
    lat: npt.ArrayLike, lon: npt.ArrayLike, *, city: FleetCity | None = None
) -> tuple[FloatArray, FloatArray]:
    """Latitude/longitude to metres east/north of the centre of `city` (local
    equirectangular); by default the city the points lie in (`city_near`).
    """
    c = city if city is not None else city_near(lat, lon)
    x = (np.asarray(lon, dtype=np.float64) - c.centre_lon) * c.m_per_deg_lon
    y = (np.asarray(lat, dtype=np.float64) - c.centre_lat) * _M_PER_DEG_LAT
    return x, y


def from_xy(
    x: npt.ArrayLike, y: npt.ArrayLike, *, city: FleetCity = HELSINKI
) -> tuple[FloatArray, FloatArray]:
    """Inverse of `to_xy`: (latitude, longitude)."""
    lat = np.asarray(y, dtype=np.float64) / _M_PER_DEG_LAT + city.centre_lat
    lon = np.asarray(x, dtype=np.float64) / city.m_per_deg_lon + city.centre_lon
    return lat, lon


def centre_weights(
    lat: FloatArray, lon: FloatArray, *, city: FleetCity | None = None
) -> FloatArray:
    """Sampling weight per point, falling off with distance from the city's centre.

    Demand for shared vehicles is highest around the centre (in Helsinki the railway
    station and the shopping streets); an exponential fall-off (`FleetCity.scale_m`) plus a
    floor keeps the outer districts served but thinner, as operators' maps show.
    """
    c = city if city is not None else city_near(lat, lon)
    x, y = to_xy(lat, lon, city=c)
    return c.floor + np.exp(-np.hypot(x, y) / c.scale_m)


def jitter(
    rng: np.random.Generator, lat: FloatArray, lon: FloatArray, *, max_m: float = 3.0
) -> tuple[FloatArray, FloatArray]:
    """Move each point up to `max_m` metres in a random direction (GPS noise), rounded to 1e-6°.

    Rounding to six decimals (≤ 0.11 m) is what operators publish; the total stays within
    the 5 m a vehicle may sit from its street node.
    """
    n = len(lat)
    r = max_m * np.sqrt(rng.random(n))
    a = rng.random(n) * 2.0 * math.pi
    city = city_near(lat, lon)
    x, y = to_xy(lat, lon, city=city)
    jlat, jlon = from_xy(x + r * np.cos(a), y + r * np.sin(a), city=city)
    return np.round(jlat, 6), np.round(jlon, 6)


def weighted_choice(rng: np.random.Generator, weights: FloatArray, n: int) -> npt.NDArray[np.int64]:
    """`n` indexes drawn by weight, without replacement when there are enough candidates.

    Distinct nodes look like a real fleet (vehicles spread along streets); tiny test graphs
    with fewer nodes than vehicles fall back to drawing with replacement.
    """
    candidates = int(np.count_nonzero(weights > 0))
    if candidates == 0:
        raise ValueError("no street node is eligible for placing a vehicle")
    p = weights / weights.sum()
    return rng.choice(len(weights), size=n, replace=n > candidates, p=p).astype(np.int64)
