"""Realistic change between two snapshots of the synthetic fleets (for demos and load tests).

`churn` reads only the GBFS documents, so it works on any feed shaped like the synthetic
ones: docked stations (counts only), free-floating vehicles, and vehicles parked at
stations. What changes per call (one "round", ~10 s of simulated time):

- docked stations: ~1 % of the available bikes are rented and the same number returned to
  free docks anywhere (bikes are conserved exactly; returns never exceed capacity);
  a few broken bikes get fixed, a few break;
- free-floating vehicles: ~2 % of the rentable scooters (0.5 % of cars) take a ride to a
  street node 0.2–6 km away (1–15 km for cars), drain range by 1.2 × the distance and get
  a new `vehicle_id` (GBFS asks ids to rotate after each trip); nearly flat ones are
  collected for charging and as many fully charged ones are deployed near the centre; a
  few reservations start and end, a few vehicles break or get fixed;
- station cars: ~1 % are taken on a round trip (they leave the feed) and cars come back to
  free bays, then `station_status` is recounted from `vehicle_status`.

Nothing ever lands in a zone whose geofencing rule forbids ending a ride there.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from providers.synthetic import carshare, geofences, scooters
from providers.synthetic._common import (
    DYNAMIC_FILES,
    FloatArray,
    Nodes,
    centre_weights,
    parse_rfc3339,
    random_ids,
    rfc3339,
    to_xy,
    weighted_choice,
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


@dataclass(frozen=True, slots=True)
class StreetNodes:
    """Street nodes vehicles may be moved to: walk nodes for light vehicles, car nodes for cars.

    Without them `churn` moves vehicles onto the current positions of other vehicles of
    the same type (which were on nodes), so it still keeps everyone on the street.
    """

    walk: Nodes
    car: Nodes


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


def _churn_provider(
    files: Mapping[str, Any], *, rng: np.random.Generator, now_s: int, nodes: StreetNodes | None
) -> dict[str, Any]:
    new: dict[str, Any] = copy.deepcopy(dict(files))
    types = {
        t["vehicle_type_id"]: t
        for t in new.get("vehicle_types", {}).get("data", {}).get("vehicle_types", [])
    }
    if "vehicle_status" in new:
        vehicles = new["vehicle_status"]["data"]["vehicles"]
        parked = [v for v in vehicles if "lat" not in v]
        free = [v for v in vehicles if "lat" in v]
        free = _churn_free(free, types, new.get("geofencing_zones"), rng, now_s, nodes)
        if "station_information" in new and "station_status" in new:
            stations = new["station_information"]["data"]["stations"]
            status = new["station_status"]["data"]["stations"]
            parked = _churn_station_cars(parked, stations, types, rng, now_s)
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
        _churn_docked(new["station_status"]["data"]["stations"], rng, now_s)
    for name, doc in new.items():
        if name in DYNAMIC_FILES:
            doc["last_updated"] = rfc3339(now_s)
        elif now_s - parse_rfc3339(doc["last_updated"]) > doc["ttl"] // 2:
            doc["last_updated"] = rfc3339(now_s)  # the operator republishes before expiry
    return new


def _churn_docked(status: list[dict[str, Any]], rng: np.random.Generator, now_s: int) -> None:
    """Rentals and returns between docked stations, conserving bikes."""
    n = len(status)
    avail = np.array([s["num_vehicles_available"] for s in status], dtype=np.int64)
    docks = np.array([s.get("num_docks_available", 0) for s in status], dtype=np.int64)
    broken = np.array([s.get("num_vehicles_disabled", 0) for s in status], dtype=np.int64)
    renting = np.array([s["is_renting"] for s in status], dtype=bool)
    returning = np.array([s["is_returning"] for s in status], dtype=bool)

    rented = rng.binomial(np.where(renting, avail, 0), BIKE_RENT_P)
    avail -= rented
    docks += rented
    slots = np.repeat(np.arange(n), np.where(returning, docks, 0))
    placed = min(int(rented.sum()), len(slots))
    back = np.bincount(slots[rng.choice(len(slots), size=placed, replace=False)], minlength=n)
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

    fixed = rng.binomial(broken, BIKE_REPAIR_P)
    broke = rng.binomial(avail, BIKE_BREAK_P)
    avail += fixed - broke
    broken += broke - fixed

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
            lat, lon = (
                np.asarray(a, dtype=np.float64) for a in (nodes.car if is_car else nodes.walk)
            )
            ok = geofences.outside(banned, lat, lon)
            lat, lon, raw = lat[ok], lon[ok], True
        else:
            lat = np.array([v["lat"] for v in group], dtype=np.float64)
            lon = np.array([v["lon"] for v in group], dtype=np.float64)
            raw = False
        if len(lat) == 0:
            return None
        return cls(lat, lon, raw, banned, cKDTree(np.column_stack(to_xy(lat, lon))))

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
        )
        out += _churn_free_type(group, fleet, rng, now_s, taken)
    return out


@dataclass(frozen=True, slots=True)
class _FreeType:
    """One free-floating vehicle type: how it moves and where it may be put."""

    type_id: str
    is_car: bool
    motion: _Motion
    max_range_m: float
    spots: _Spots


def _churn_free_type(
    group: list[dict[str, Any]],
    fleet: _FreeType,
    rng: np.random.Generator,
    now_s: int,
    taken: set[str],
) -> list[dict[str, Any]]:
    """One round of the vehicles of one type; nearly flat ones are swapped for charged ones."""
    kept: list[dict[str, Any]] = []
    collected = 0
    for v in group:
        range_m = float(v.get("current_range_meters", fleet.max_range_m))
        if range_m < fleet.motion.collect_below_m and rng.random() < fleet.motion.collect_p:
            collected += 1
            continue
        _step_free(v, fleet, rng, now_s, taken)
        kept.append(v)
    if collected:
        kept += _deploy_charged(fleet, collected, rng, now_s, taken)
    return kept


def _step_free(
    v: dict[str, Any], fleet: _FreeType, rng: np.random.Generator, now_s: int, taken: set[str]
) -> None:
    """At most one change to one vehicle: released, repaired, ridden, reserved or broken."""
    if v["is_reserved"]:
        if rng.random() < RELEASE_P:
            _set(v, "is_reserved", False, now_s)
    elif v["is_disabled"]:
        if rng.random() < REPAIR_P:
            _set(v, "is_disabled", False, now_s)
    elif rng.random() < fleet.motion.ride_p:
        _ride(v, fleet.motion, fleet.max_range_m, fleet.spots, rng, now_s, taken)
    elif rng.random() < RESERVE_P:
        _set(v, "is_reserved", True, now_s)
    elif rng.random() < BREAK_P:
        _set(v, "is_disabled", True, now_s)
    _report_if_stale(v, now_s)


def _deploy_charged(
    fleet: _FreeType, count: int, rng: np.random.Generator, now_s: int, taken: set[str]
) -> list[dict[str, Any]]:
    """`count` fully charged vehicles with fresh ids, put down near the centre."""
    idx = weighted_choice(rng, centre_weights(fleet.spots.lat, fleet.spots.lon), count)
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
    v: dict[str, Any],
    motion: _Motion,
    max_range_m: float,
    spots: _Spots,
    rng: np.random.Generator,
    now_s: int,
    taken: set[str],
) -> None:
    """Move one vehicle along a plausible trip and drain its range; it gets a new id."""
    has_range = "current_range_meters" in v
    range_m = float(v["current_range_meters"]) if has_range else math.inf
    ride_m = float(np.clip(rng.lognormal(math.log(motion.median_ride_m), 0.6), *motion.ride_m))
    ride_m = min(ride_m, (range_m - 100.0) / DRAIN_PER_M)
    if ride_m < motion.ride_m[0]:
        return  # not enough charge for a ride anyone would take
    x, y = to_xy(v["lat"], v["lon"])
    heading = rng.uniform(0.0, 2.0 * math.pi)
    straight = ride_m / DETOUR
    k = spots.nearest(
        float(x) + straight * math.cos(heading), float(y) + straight * math.sin(heading)
    )
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
            v["current_fuel_percent"] = round(left / max_range_m, 2)


def _churn_station_cars(
    parked: list[dict[str, Any]],
    stations: list[dict[str, Any]],
    types: Mapping[str, Mapping[str, Any]],
    rng: np.random.Generator,
    now_s: int,
) -> list[dict[str, Any]]:
    """Round trips leave; returning cars fill free bays of their (new) home station."""
    kept = [v for v in parked if _station_car_stays(v, rng, now_s)]
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


def _station_car_stays(v: dict[str, Any], rng: np.random.Generator, now_s: int) -> bool:
    """One round of one parked car: False when it leaves on a round trip."""
    if v["is_reserved"]:
        if rng.random() < RELEASE_P:
            return False  # the reservation turned into a round trip
    elif v["is_disabled"]:
        if rng.random() < REPAIR_P:
            _set(v, "is_disabled", False, now_s)
    elif rng.random() < STATION_CAR_RENT_P:
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
