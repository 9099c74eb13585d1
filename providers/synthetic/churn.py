"""Realistic change between two snapshots of the SYNTHETIC fleets, following the time of day.

`churn` reads only the GBFS documents, so it works on any feed shaped like the synthetic
ones: docked stations (counts only), free-floating vehicles, and vehicles parked at
stations. What changes per call (one "round"):

- docked stations: ~1 % of the available bikes are rented and returned to free docks
  (bikes are conserved exactly; returns never exceed capacity); a few broken bikes get
  fixed, a few break;
- free-floating vehicles: ~2 % of the rentable scooters (0.5 % of cars) take a ride to a
  street node 0.2–6 km away (1–15 km for cars; ends are drawn where the operator deploys,
  so rides keep the fleet's spread), drain range by 1.2 × the distance and get
  a new `vehicle_id` (GBFS asks ids to rotate after each trip); nearly flat ones are
  collected for charging and as many fully charged ones are deployed near the centre; a
  few reservations start and end, a few vehicles break or get fixed;
- station cars: ~1 % are taken on a round trip (they leave the feed) and cars come back to
  free bays, then `station_status` is recounted from `vehicle_status`.

Those rates are for an average hour. The daily pattern (local time, the feed's
`system_information.timezone`) is SYNTHETIC, made up from the shape commuter cities
commonly show, not fitted to any operator's data. Its assumptions:

- activity (`ACTIVITY`, rentals per round relative to the rates above) is lowest at
  03-04 (0.1), peaks at 08 (2.0) and 17 (2.0), and stays near 1 at midday;
- commute flows (`FLOW`): at 07-09 riders start from outer places and end near the centre
  (+1: a bike or scooter is more likely rented the further out it stands, and its ride ends
  toward the centre); at 16-18 the flow is reversed (-1); the shoulder hours 06, 09, 15 and
  18 carry a third of it. "Outer" is a smooth distance from the city centre
  (`centrality`, e-folding `COMMUTE_SCALE_M`), not a zone layer: the fleets know no zones;
- operator rebalancing at night (`REBALANCE_HOURS`, 01-05): vans move bikes from stations
  above half full to those below (a share of the imbalance a round, at most
  `REBALANCE_MAX_BIKES`), and crews pick up free-floating vehicles and put them down where
  the fleet is deployed in the morning (the same centre-weighted spread as a fresh fleet);
- round-trip station cars leave with the activity and come back at a steady rate, so
  stations fill up at night and thin out by day.

One round per 5 minutes of simulated time (`service_coverage.replay`) gives a day of ~5 rides per
scooter and ~3 rentals per city bike, the order real fleets report; the server's
in-process fleets take one round a minute, busier than life, so change is visible in a
demo. Nothing ever lands in a zone whose geofencing rule forbids ending a ride there.

Unchanged files are shared between the input and the output (only the real-time files and
republished envelopes are new objects): treat the documents as immutable.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import shapely
from scipy.spatial import cKDTree

from providers.synthetic import carshare, geofences, scooters
from providers.synthetic._common import (
    DYNAMIC_FILES,
    TIMEZONE,
    FloatArray,
    Nodes,
    centre_weights,
    parse_rfc3339,
    random_ids,
    rfc3339,
    to_xy,
)

BIKE_RENT_P = 0.01
BIKE_REPAIR_P = 0.05
BIKE_BREAK_P = 0.001
STATION_CAR_RENT_P = 0.01
STATION_CAR_RETURN_P = 0.01  # per free bay: keeps stations ~half full in the long run
RESERVE_P = 0.003
RELEASE_P = 0.3
BREAK_P = 0.0005
REPAIR_P = 0.02
STALE_REPORT_S = 600  # a parked vehicle reports at least this often
DETOUR = 1.3  # street distance / straight-line distance
DRAIN_PER_M = 1.2  # range used per metre ridden (hills, stops, cold)

# -- the daily pattern (SYNTHETIC; module docstring) ------------------------------------------
#: local hour -> rentals per round relative to the base rates
ACTIVITY: Final[tuple[float, ...]] = (
    0.3, 0.2, 0.15, 0.1, 0.1, 0.2, 0.5, 1.5, 2.0, 1.2, 0.8, 0.9,
    1.0, 1.0, 1.0, 1.2, 1.7, 2.0, 1.5, 1.1, 0.9, 0.7, 0.5, 0.4,
)  # fmt: skip
#: local hour -> commute flow: +1 from outer places toward the centre, -1 back out
FLOW: Final[Mapping[int, float]] = {
    6: 1 / 3, 7: 1.0, 8: 1.0, 9: 1 / 3, 15: -1 / 3, 16: -1.0, 17: -1.0, 18: -1 / 3,
}  # fmt: skip
#: how far a full flow tilts where rentals start and end: a weight exp(±bias·(1 - 2·c)) at
#: centrality c, so inbound an outer station (c ~0.1) is ~13 times likelier than a central
#: one (c ~0.8) to lose a bike and as much less likely to get one back
COMMUTE_BIAS = 2.0
#: share of free-floating rides at full flow that are commutes (to the centre, or out)
COMMUTE_SHARE = 0.7
#: centrality falls to 1/e this far from the centre (the outer city bike stations are
#: 5-10 km out, the edge of the embedded street network ~4 km)
COMMUTE_SCALE_M = 3000.0
#: ends drawn for an ordinary ride, the one at the drawn ride length taken (`_ordinary_ride`)
RIDE_CANDIDATES = 8
#: local hours the operators rebalance in
REBALANCE_HOURS: Final[frozenset[int]] = frozenset({1, 2, 3, 4, 5})
#: share of the docked stations' imbalance a round of night rebalancing moves, and its cap
REBALANCE_SHARE = 0.1
REBALANCE_MAX_BIKES = 40
#: chance a rentable free-floating vehicle is picked up and redeployed, per night round
REDEPLOY_P = 0.03
#: spot sets kept per `StreetNodes` (one per vehicle type and no-parking layout)
_MAX_CACHED_SPOTS = 32


@dataclass(frozen=True, slots=True)
class _Motion:
    """How one kind of free-floating vehicle moves in a round."""

    ride_p: float
    median_ride_m: float
    ride_m: tuple[float, float]
    collect_below_m: float  # vehicles with less range are taken away for charging
    collect_p: float


# Operators sweep flat scooters up in batches, not within seconds: a slow collection of the
# critically low (< 600 m) keeps a realistic share of low-but-rentable scooters around.
_LIGHT = _Motion(
    ride_p=0.02, median_ride_m=1_500, ride_m=(200, 6_000), collect_below_m=600, collect_p=0.02
)
_CAR = _Motion(
    ride_p=0.005,
    median_ride_m=4_000,
    ride_m=(1_000, 15_000),
    collect_below_m=20_000,
    collect_p=0.01,
)


def centrality(lat: Any, lon: Any) -> FloatArray:
    """How central each point is: 1 at the city centre, 1/e at `COMMUTE_SCALE_M`, toward 0
    beyond (the commute flows' notion of "outer", module docstring).
    """
    x, y = to_xy(lat, lon)
    return np.asarray(np.exp(-np.hypot(x, y) / COMMUTE_SCALE_M), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class DayTime:
    """The daily pattern at one moment: how busy, which way commuters ride, rebalancing."""

    hour: int
    activity: float
    flow: float
    rebalancing: bool

    @classmethod
    def at(cls, now_s: int, timezone: str = TIMEZONE) -> DayTime:
        """The pattern at `now_s` in the local time of `timezone`."""
        hour = dt.datetime.fromtimestamp(now_s, ZoneInfo(timezone)).hour
        return cls(hour, ACTIVITY[hour], FLOW.get(hour, 0.0), hour in REBALANCE_HOURS)

    def without_flow(self) -> DayTime:
        """The same moment for vehicles nobody commutes with (car sharing)."""
        return DayTime(self.hour, self.activity, 0.0, self.rebalancing)

    def origin_weight(self, central: FloatArray) -> FloatArray:
        """Relative chance that a rental starts at places of this centrality (1 at 0.5)."""
        return np.exp(self.flow * COMMUTE_BIAS * (1.0 - 2.0 * central))

    def destination_weight(self, central: FloatArray) -> FloatArray:
        """Relative chance that a rental ends at places of this centrality (1 at 0.5)."""
        return np.exp(self.flow * COMMUTE_BIAS * (2.0 * central - 1.0))


@dataclass(frozen=True, slots=True)
class StreetNodes:
    """Street nodes vehicles may be moved to: walk nodes for light vehicles, car nodes for cars.

    Without them `churn` moves vehicles onto the current positions of other vehicles of
    the same type (which were on nodes), so it still keeps everyone on the street.

    The spots derived from the nodes (those outside a type's no-parking zones, their
    k-d tree and weights) are built on a vehicle type's first round and kept here, so the
    rounds after it do not rebuild them: pass the same `StreetNodes` to every round.
    """

    walk: Nodes
    car: Nodes
    #: (is car, no-parking polygons as WKB) -> the spots built for them
    _spots: dict[tuple[bool, tuple[bytes, ...]], _Spots] = field(
        default_factory=dict, compare=False, repr=False
    )

    def spots(self, *, is_car: bool, banned: list[Any]) -> _Spots | None:
        """The nodes of the profile outside `banned`, as spots (cached; module docstring)."""
        key = (is_car, tuple(shapely.to_wkb(p) for p in banned))
        spots = self._spots.get(key)
        if spots is None:
            lat, lon = (
                np.asarray(a, dtype=np.float64) for a in (self.car if is_car else self.walk)
            )
            ok = geofences.outside(banned, lat, lon)
            if not ok.any():
                return None
            if len(self._spots) >= _MAX_CACHED_SPOTS:  # zones changed many times: start over
                self._spots.clear()
            spots = self._spots[key] = _Spots.make(lat[ok], lon[ok], raw=True, banned=banned)
        return spots


def churn(
    feeds: Mapping[str, Mapping[str, Any]],
    *,
    rng: np.random.Generator,
    now_s: int,
    nodes: StreetNodes | None = None,
) -> dict[str, dict[str, Any]]:
    """One round of realistic change for every provider; returns new documents, inputs untouched.

    Parameters
    ----------
    feeds
        provider id -> file name -> GBFS 3.0 document (as made by `synthetic_fleets`).
    rng
        the only source of randomness, so a seeded simulation replays exactly.
    now_s
        the new `last_updated` of the real-time files (epoch seconds).
    nodes
        street nodes to move vehicles to; see `StreetNodes`.
    """
    return {
        pid: _churn_provider(files, rng=rng, now_s=now_s, nodes=nodes)
        for pid, files in feeds.items()
    }


def _json_copy(value: Any) -> Any:
    """A deep copy of plain JSON data (several times faster than `copy.deepcopy`)."""
    if isinstance(value, dict):
        return {k: _json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_copy(v) for v in value]
    return value


def _copy_realtime(name: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a real-time file that churn may change in place.

    Vehicles are changed field by field and hold no container churn changes (equipment
    lists are replaced, never edited), so each is copied one level deep; the rest of the
    document is copied whole.
    """
    if name != "vehicle_status":
        return dict(_json_copy(doc))
    data = doc["data"]
    vehicles = [dict(v) for v in data["vehicles"]]
    return {**doc, "data": {**data, "vehicles": vehicles}}


def _timezone(files: Mapping[str, Any]) -> str:
    """The feed's time zone (`system_information`), Helsinki's when it gives none."""
    info = files.get("system_information", {}).get("data", {})
    return str(info.get("timezone") or TIMEZONE)


def _churn_provider(
    files: Mapping[str, Any], *, rng: np.random.Generator, now_s: int, nodes: StreetNodes | None
) -> dict[str, Any]:
    # the real-time files change: copied; the others are shared until they are republished
    new: dict[str, Any] = {
        name: _copy_realtime(name, doc) if name in DYNAMIC_FILES else doc
        for name, doc in files.items()
    }
    day = DayTime.at(now_s, _timezone(files))
    types = {
        t["vehicle_type_id"]: t
        for t in new.get("vehicle_types", {}).get("data", {}).get("vehicle_types", [])
    }
    if "vehicle_status" in new:
        vehicles = new["vehicle_status"]["data"]["vehicles"]
        parked = [v for v in vehicles if "lat" not in v]
        free = [v for v in vehicles if "lat" in v]
        free = _churn_free(free, types, new.get("geofencing_zones"), rng, now_s, nodes, day)
        if "station_information" in new and "station_status" in new:
            stations = new["station_information"]["data"]["stations"]
            status = new["station_status"]["data"]["stations"]
            parked = _churn_station_cars(parked, stations, types, rng, now_s, day)
            listed = tuple(
                sorted(
                    {
                        e["vehicle_type_id"]
                        for s in status
                        for e in s.get("vehicle_types_available", [])
                    }
                )
            )
            new["station_status"]["data"]["stations"] = carshare.station_status(
                stations, parked, now_s=now_s, type_ids=listed
            )
        new["vehicle_status"]["data"]["vehicles"] = parked + free
    elif "station_status" in new:
        info = new.get("station_information", {}).get("data", {}).get("stations", [])
        _churn_docked(new["station_status"]["data"]["stations"], info, rng, now_s, day)
    for name, doc in list(new.items()):
        if name in DYNAMIC_FILES:
            doc["last_updated"] = rfc3339(now_s)
        elif now_s - parse_rfc3339(doc["last_updated"]) > doc["ttl"] // 2:
            # the operator republishes before expiry (a new envelope; the input is untouched)
            new[name] = {**doc, "last_updated": rfc3339(now_s)}
    return new


def _churn_docked(
    status: list[dict[str, Any]],
    info: list[dict[str, Any]],
    rng: np.random.Generator,
    now_s: int,
    day: DayTime,
) -> None:
    """Rentals and returns between docked stations (and night rebalancing), conserving bikes."""
    avail = np.array([s["num_vehicles_available"] for s in status], dtype=np.int64)
    docks = np.array([s.get("num_docks_available", 0) for s in status], dtype=np.int64)
    broken = np.array([s.get("num_vehicles_disabled", 0) for s in status], dtype=np.int64)
    renting = np.array([s["is_renting"] for s in status], dtype=bool)
    returning = np.array([s["is_returning"] for s in status], dtype=bool)
    central = _station_centrality(status, info)
    rent_p = np.clip(BIKE_RENT_P * day.activity * day.origin_weight(central), 0.0, 1.0)
    rented = rng.binomial(np.where(renting, avail, 0), rent_p)
    avail -= rented
    docks += rented
    _return_bikes(rented, avail, docks, np.where(returning, docks, 0),
                  day.destination_weight(central), rng)  # fmt: skip
    if day.rebalancing:
        _rebalance_docked(avail, docks, renting & returning, rng)

    fixed = rng.binomial(broken, BIKE_REPAIR_P)
    broke = rng.binomial(avail, BIKE_BREAK_P)
    avail += fixed - broke
    broken += broke - fixed
    _write_counts(status, avail, docks, broken, now_s)


def _return_bikes(
    rented: np.ndarray,
    avail: np.ndarray,
    docks: np.ndarray,
    open_docks: np.ndarray,
    weight: FloatArray,
    rng: np.random.Generator,
) -> None:
    """Put the `rented` bikes back into free docks, station by `weight` (in place)."""
    n = len(avail)
    slots = np.repeat(np.arange(n), open_docks)
    placed = min(int(rented.sum()), len(slots))
    if placed:
        w = weight[slots]
        chosen = rng.choice(len(slots), size=placed, replace=False, p=w / w.sum())
        back = np.bincount(slots[chosen], minlength=n)
        avail += back
        docks -= back
    # bikes that found no returning station go back where they came from (docks are free)
    leftover = int(rented.sum()) - placed
    for origin in np.flatnonzero(rented):
        if leftover == 0:
            break
        k = min(leftover, int(rented[origin]))
        avail[origin] += k
        docks[origin] -= k
        leftover -= k


def _write_counts(
    status: list[dict[str, Any]],
    avail: np.ndarray,
    docks: np.ndarray,
    broken: np.ndarray,
    now_s: int,
) -> None:
    """The stations' new counts into their `station_status` entries (reported if changed)."""
    for i, s in enumerate(status):
        changed = (
            s["num_vehicles_available"] != avail[i]
            or s.get("num_vehicles_disabled", 0) != broken[i]
        )
        s["num_vehicles_available"] = int(avail[i])
        if "num_vehicles_disabled" in s:
            s["num_vehicles_disabled"] = int(broken[i])
        if "num_docks_available" in s:
            s["num_docks_available"] = int(docks[i])
        if len(s.get("vehicle_types_available", [])) == 1:
            s["vehicle_types_available"][0]["count"] = int(avail[i])
        if len(s.get("vehicle_docks_available", [])) == 1:
            s["vehicle_docks_available"][0]["count"] = int(docks[i])
        if changed or now_s - parse_rfc3339(s["last_reported"]) > STALE_REPORT_S:
            s["last_reported"] = rfc3339(now_s)


def _station_centrality(status: list[dict[str, Any]], info: list[dict[str, Any]]) -> FloatArray:
    """`centrality` of each station in `status` (0.5, neither in nor out, when unplaced)."""
    where = {s["station_id"]: (s["lat"], s["lon"]) for s in info if "lat" in s and "lon" in s}
    lat = np.array([where.get(s["station_id"], (np.nan, np.nan))[0] for s in status])
    lon = np.array([where.get(s["station_id"], (np.nan, np.nan))[1] for s in status])
    central = centrality(lat, lon)
    return np.where(np.isnan(central), 0.5, central)


def _rebalance_docked(
    avail: np.ndarray, docks: np.ndarray, open_: np.ndarray, rng: np.random.Generator
) -> None:
    """The night vans: bikes from stations above half full to those below (in place).

    Moves a `REBALANCE_SHARE` of the imbalance (at least one bike, at most
    `REBALANCE_MAX_BIKES`); a station never gets more bikes than it has free docks.
    """
    target = (avail + docks) // 2
    surplus = np.where(open_, np.maximum(avail - target, 0), 0)
    deficit = np.where(open_, np.maximum(target - avail, 0), 0)
    imbalance = int(min(surplus.sum(), deficit.sum()))
    moved = min(math.ceil(imbalance * REBALANCE_SHARE), REBALANCE_MAX_BIKES, imbalance)
    if moved == 0:
        return
    n = len(avail)
    donors = np.repeat(np.arange(n), surplus)
    takers = np.repeat(np.arange(n), deficit)
    taken = np.bincount(donors[rng.choice(len(donors), size=moved, replace=False)], minlength=n)
    given = np.bincount(takers[rng.choice(len(takers), size=moved, replace=False)], minlength=n)
    avail += given - taken
    docks += taken - given


@dataclass(frozen=True, slots=True)
class _Spots:
    """Where vehicles of one type may be put: allowed street nodes, or current positions.

    `raw` says whether the positions are street nodes (jittered when used) or positions of
    vehicles already jittered off a node (copied as they are, so a vehicle never drifts
    more than the one jitter from its node).
    """

    lat: FloatArray
    lon: FloatArray
    raw: bool
    banned: list[Any]
    tree: cKDTree
    #: cumulative deployment weight (`centre_weights`): where fresh vehicles go, and rides
    deploy_cum: FloatArray
    #: cumulative weight as a morning commute's end (near the centre) / an evening one's
    inbound_cum: FloatArray
    outbound_cum: FloatArray

    @classmethod
    def make(cls, lat: FloatArray, lon: FloatArray, *, raw: bool, banned: list[Any]) -> _Spots:
        """Spots at these positions, with their k-d tree and weights."""
        central = centrality(lat, lon)
        return cls(
            lat=lat,
            lon=lon,
            raw=raw,
            banned=banned,
            tree=cKDTree(np.column_stack(to_xy(lat, lon))),
            deploy_cum=np.cumsum(centre_weights(lat, lon)),
            inbound_cum=np.cumsum(central**2),
            outbound_cum=np.cumsum(1.0 - central),
        )

    @classmethod
    def build(
        cls,
        group: list[dict[str, Any]],
        *,
        is_car: bool,
        banned: list[Any],
        nodes: StreetNodes | None,
    ) -> _Spots | None:
        """The spots for one vehicle type; None when there is nowhere to put anything."""
        if nodes is not None:
            return nodes.spots(is_car=is_car, banned=banned)
        if not group:
            return None
        lat = np.array([v["lat"] for v in group], dtype=np.float64)
        lon = np.array([v["lon"] for v in group], dtype=np.float64)
        return cls.make(lat, lon, raw=False, banned=banned)

    def draw(self, rng: np.random.Generator, cum: FloatArray, n: int) -> npt.NDArray[np.intp]:
        """`n` spots drawn with replacement by the weights whose cumulative sum is `cum`."""
        k = np.searchsorted(cum, rng.random(n) * cum[-1], side="right")
        return np.asarray(np.minimum(k, cum.size - 1), dtype=np.intp)

    def nearest(self, x_m: float, y_m: float) -> int:
        """The spot nearest to a point given in local metres (see `to_xy`)."""
        _, k = self.tree.query([x_m, y_m])
        return int(k)

    def put(self, rng: np.random.Generator, idx: np.ndarray) -> tuple[FloatArray, FloatArray]:
        """Published positions for vehicles parked at these spots."""
        if self.raw:
            return scooters.place(rng, self.lat[idx], self.lon[idx], self.banned)
        return self.lat[idx].copy(), self.lon[idx].copy()


def _churn_free(
    vehicles: list[dict[str, Any]],
    types: Mapping[str, Mapping[str, Any]],
    zones: Mapping[str, Any] | None,
    rng: np.random.Generator,
    now_s: int,
    nodes: StreetNodes | None,
    day: DayTime,
) -> list[dict[str, Any]]:
    """One round of every free-floating vehicle, type by type (ids stay unique across types)."""
    taken = {v["vehicle_id"] for v in vehicles}
    out: list[dict[str, Any]] = []
    by_type: dict[str, list[dict[str, Any]]] = {}
    for v in vehicles:
        by_type.setdefault(v.get("vehicle_type_id", ""), []).append(v)
    for type_id, group in by_type.items():
        vtype = types.get(type_id, {})
        is_car = vtype.get("form_factor") == "car"
        banned = geofences.no_parking_polygons(zones, type_id)
        spots = _Spots.build(group, is_car=is_car, banned=banned, nodes=nodes)
        if spots is None:
            out += group
            continue
        fleet = _FreeType(
            type_id=type_id,
            is_car=is_car,
            motion=_CAR if is_car else _LIGHT,
            max_range_m=float(vtype.get("max_range_meters", scooters.MAX_RANGE_M)),
            spots=spots,
            day=day.without_flow() if is_car else day,
        )
        out += _churn_free_type(group, fleet, rng, now_s, taken)
    return out


@dataclass(frozen=True, slots=True)
class _FreeType:
    """One free-floating vehicle type: how it moves, where it may be put, the time of day."""

    type_id: str
    is_car: bool
    motion: _Motion
    max_range_m: float
    spots: _Spots
    day: DayTime

    def commute_spot(self, rng: np.random.Generator) -> int | None:
        """A commute's destination spot now, or None when this ride is not a commute
        (inbound rides end near the centre, outbound ones anywhere outward).
        """
        flow = self.day.flow
        if flow == 0.0 or rng.random() >= COMMUTE_SHARE * abs(flow):
            return None
        cum = self.spots.inbound_cum if flow > 0 else self.spots.outbound_cum
        return int(self.spots.draw(rng, cum, 1)[0])


def _churn_free_type(
    group: list[dict[str, Any]],
    fleet: _FreeType,
    rng: np.random.Generator,
    now_s: int,
    taken: set[str],
) -> list[dict[str, Any]]:
    """One round of the vehicles of one type; nearly flat ones are swapped for charged ones,
    and at night the crews redeploy some of the others.
    """
    central = centrality([v["lat"] for v in group], [v["lon"] for v in group])
    ride_p = np.clip(
        fleet.motion.ride_p * fleet.day.activity * fleet.day.origin_weight(central), 0.0, 1.0
    )
    kept: list[dict[str, Any]] = []
    collected = 0
    for v, p in zip(group, ride_p.tolist(), strict=True):
        range_m = float(v.get("current_range_meters", fleet.max_range_m))
        if range_m < fleet.motion.collect_below_m and rng.random() < fleet.motion.collect_p:
            collected += 1
            continue
        if fleet.day.rebalancing and _rentable(v) and rng.random() < REDEPLOY_P:
            collected += 1  # picked up by the night crew, put down with the fresh ones
            continue
        _step_free(v, fleet, p, rng, now_s, taken)
        kept.append(v)
    if collected:
        kept += _deploy_charged(fleet, collected, rng, now_s, taken)
    return kept


def _rentable(v: Mapping[str, Any]) -> bool:
    return not (v["is_reserved"] or v["is_disabled"])


def _step_free(
    v: dict[str, Any],
    fleet: _FreeType,
    ride_p: float,
    rng: np.random.Generator,
    now_s: int,
    taken: set[str],
) -> None:
    """At most one change to one vehicle: released, repaired, ridden, reserved or broken."""
    if v["is_reserved"]:
        if rng.random() < RELEASE_P:
            _set(v, "is_reserved", False, now_s)
    elif v["is_disabled"]:
        if rng.random() < REPAIR_P:
            _set(v, "is_disabled", False, now_s)
    elif rng.random() < ride_p:
        _ride(v, fleet, rng, now_s, taken)
    elif rng.random() < RESERVE_P:
        _set(v, "is_reserved", True, now_s)
    elif rng.random() < BREAK_P:
        _set(v, "is_disabled", True, now_s)
    _report_if_stale(v, now_s)


def _deploy_charged(
    fleet: _FreeType, count: int, rng: np.random.Generator, now_s: int, taken: set[str]
) -> list[dict[str, Any]]:
    """`count` fully charged vehicles with fresh ids, put down near the centre."""
    idx = fleet.spots.draw(rng, fleet.spots.deploy_cum, count)
    lat, lon = fleet.spots.put(rng, idx)
    ids = random_ids(rng, count, taken)
    taken.update(ids)
    deployed: list[dict[str, Any]] = []
    for k in range(count):
        full = round(fleet.max_range_m * rng.uniform(0.9, 1.0))
        deployed.append(
            {
                **({"vehicle_equipment": list(carshare.EQUIPMENT)} if fleet.is_car else {}),
                "vehicle_id": ids[k],
                "lat": float(lat[k]),
                "lon": float(lon[k]),
                "is_reserved": False,
                "is_disabled": False,
                "vehicle_type_id": fleet.type_id,
                "last_reported": rfc3339(now_s),
                "current_range_meters": full,
                "current_fuel_percent": round(full / fleet.max_range_m, 2),
            }
        )
    return deployed


def _set(v: dict[str, Any], flag: str, value: bool, now_s: int) -> None:
    """Change one status flag of a vehicle; a change is reported at once."""
    v[flag] = value
    v["last_reported"] = rfc3339(now_s)


def _report_if_stale(v: dict[str, Any], now_s: int) -> None:
    """A parked vehicle reports at least every `STALE_REPORT_S`, changed or not."""
    if now_s - parse_rfc3339(v["last_reported"]) > STALE_REPORT_S:
        v["last_reported"] = rfc3339(now_s)


def _ride(
    v: dict[str, Any], fleet: _FreeType, rng: np.random.Generator, now_s: int, taken: set[str]
) -> None:
    """Move one vehicle along a plausible trip (a commute in the peak hours) and drain its
    range; it gets a new id.
    """
    motion, spots = fleet.motion, fleet.spots
    has_range = "current_range_meters" in v
    range_m = float(v["current_range_meters"]) if has_range else math.inf
    reach_m = (range_m - 100.0) / DRAIN_PER_M
    x, y = to_xy(v["lat"], v["lon"])
    k = fleet.commute_spot(rng)
    if k is not None:
        sx, sy = to_xy(spots.lat[k], spots.lon[k])
        ride_m = float(np.hypot(sx - x, sy - y)) * DETOUR
        if not motion.ride_m[0] <= ride_m <= reach_m:
            k = None  # too short to ride, or too far for the charge left: an ordinary ride
    if k is None:
        ride_m = float(np.clip(rng.lognormal(math.log(motion.median_ride_m), 0.6), *motion.ride_m))
        ride_m = min(ride_m, reach_m)
        if ride_m < motion.ride_m[0]:
            return  # not enough charge for a ride anyone would take
        ride = _ordinary_ride(fleet, float(x), float(y), ride_m, reach_m, rng)
        if ride is None:
            return
        k, ride_m = ride
    lat, lon = spots.put(rng, np.array([k]))
    (new_id,) = random_ids(rng, 1, taken)
    taken.add(new_id)
    v["vehicle_id"] = new_id
    v["lat"], v["lon"] = float(lat[0]), float(lon[0])
    v["last_reported"] = rfc3339(now_s)
    if has_range:
        left = max(0.0, range_m - ride_m * DRAIN_PER_M)
        v["current_range_meters"] = round(left)
        if "current_fuel_percent" in v:
            v["current_fuel_percent"] = round(left / fleet.max_range_m, 2)


def _ordinary_ride(
    fleet: _FreeType, x: float, y: float, ride_m: float, reach_m: float, rng: np.random.Generator
) -> tuple[int, float] | None:
    """(end spot, metres ridden) of an ordinary ride of about `ride_m` from (x, y), or None.

    People ride to where the activity is, and the operator deploys where the activity is:
    `RIDE_CANDIDATES` ends are drawn as a fresh fleet is deployed (`centre_weights`) and the
    one whose distance is nearest to `ride_m` is taken. Rides in random directions would
    instead spread a fleet outward round after round.
    """
    k = fleet.spots.draw(rng, fleet.spots.deploy_cum, RIDE_CANDIDATES)
    sx, sy = to_xy(fleet.spots.lat[k], fleet.spots.lon[k])
    ridden = np.hypot(sx - x, sy - y) * DETOUR
    best = int(np.argmin(np.abs(ridden - ride_m)))
    if not fleet.motion.ride_m[0] <= ridden[best] <= reach_m:
        return None
    return int(k[best]), float(ridden[best])


def _churn_station_cars(
    parked: list[dict[str, Any]],
    stations: list[dict[str, Any]],
    types: Mapping[str, Mapping[str, Any]],
    rng: np.random.Generator,
    now_s: int,
    day: DayTime,
) -> list[dict[str, Any]]:
    """Round trips leave (with the day's activity); returning cars fill free bays of their
    (new) home station at a steady rate.
    """
    rent_p = min(1.0, STATION_CAR_RENT_P * day.activity)
    kept = [v for v in parked if _station_car_stays(v, rent_p, rng, now_s)]
    station_type = next(
        (
            tid
            for tid, t in types.items()
            if t.get("return_constraint") in ("roundtrip_station", "any_station")
        ),
        None,
    )
    if station_type is None or not stations:
        return kept
    taken = {v["vehicle_id"] for v in parked}
    return kept + _returning_cars(kept, stations, station_type, rng, now_s, taken)


def _station_car_stays(
    v: dict[str, Any], rent_p: float, rng: np.random.Generator, now_s: int
) -> bool:
    """One round of one parked car: False when it leaves on a round trip."""
    if v["is_reserved"]:
        if rng.random() < RELEASE_P:
            return False  # the reservation turned into a round trip
    elif v["is_disabled"]:
        if rng.random() < REPAIR_P:
            _set(v, "is_disabled", False, now_s)
    elif rng.random() < rent_p:
        return False
    elif rng.random() < RESERVE_P:
        _set(v, "is_reserved", True, now_s)
    _report_if_stale(v, now_s)
    return True


def _returning_cars(
    kept: list[dict[str, Any]],
    stations: list[dict[str, Any]],
    station_type: str,
    rng: np.random.Generator,
    now_s: int,
    taken: set[str],
) -> list[dict[str, Any]]:
    """Cars back from round trips, in the bays the `kept` cars leave free."""
    used = np.zeros(len(stations), dtype=np.int64)
    index = {s["station_id"]: i for i, s in enumerate(stations)}
    for v in kept:
        if v.get("station_id") in index:
            used[index[v["station_id"]]] += 1
    free = np.maximum(0, np.array([s.get("capacity", 0) for s in stations]) - used)
    back = rng.binomial(free, STATION_CAR_RETURN_P)
    returned: list[dict[str, Any]] = []
    for i in np.flatnonzero(back):
        for vid in random_ids(rng, int(back[i]), taken):
            taken.add(vid)
            car = carshare.station_car(
                stations[i]["station_id"], vehicle_id=vid, rng=rng, now_s=now_s
            )
            car["vehicle_type_id"] = station_type
            car["is_reserved"] = car["is_disabled"] = False
            returned.append(car)
    return returned
