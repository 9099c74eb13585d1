"""Inputs of the New York evaluation benchmark: SYNTHETIC zones and demand, DECLARED fares.

Nothing here is observed data about New York's riders, and every file written says so.

Zones
    A square grid of `CELL_M` (600 m) cells in a local metric projection centred on the
    median stop; a cell is a zone when at least one *served* stop (a stop some pattern calls
    at on the benchmark's weekday) lies in it. On the MTA weekday this gives about 2,000 zones
    (2,041 on 2026-10-06) from Montauk to Poughkeepsie, most of them in the five boroughs.
    A zone is ``central`` when its cell centre lies within `CENTRAL_RADIUS_M` (6 km) of Times
    Square, ``peripheral`` otherwise: Manhattan from about the Battery to 120th Street, and
    Long Island City, Greenpoint, Williamsburg and Brooklyn Heights across the East River
    (185 of the 2,041 zones).

Demand (SYNTHETIC)
    A production-constrained gravity model (`ingest.gravity.gravity_trips`, the one that
    built Helsinki's table): production is a population proxy of `RESIDENTS_PER_STOP`
    residents per served stop of the cell, times `TRIP_RATE_PER_DAY` transit trips per
    resident; attraction is the number of departures (stop events) in the cell on the
    weekday; decay ``exp(-BETA_PER_KM * straight-line km)``. Every pair of distinct zones gets
    trips (no cut-off), so the table has n x (n - 1) rows; trips inside one zone are not
    modelled (the gravity model leaves them out). No income is given: the evaluation then
    reports no Suits index or affordability.

Fares (DECLARED)
    The MTA's GTFS feeds publish no fare files (no ``fare_attributes.txt``, no Fares v2), so
    the benchmark declares a base fare table and writes it as GTFS Fares v1 beside a copy of
    the merged feed (`DECLARED_FARES`): subway and local buses 2.90 USD with free transfers
    within 2 hours of the first boarding; express buses 7.00 USD, which also cover local
    rides within 2 hours; LIRR and Metro-North a flat 5.00 USD per ride (the in-city
    CityTicket level; the real commuter-rail fares are zonal, by time of day and higher out
    of the city). It is a declared stand-in for the fare structure, not the MTA's tariff.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ingest.gravity import gravity_trips
from routing.geo import LocalProjection, haversine_m

#: side of a grid cell, metres
CELL_M: Final = 600.0
#: Times Square (lat, lon): the centre of the central class
CENTRE_LAT_LON: Final = (40.7580, -73.9855)
#: a zone is central when its cell centre is this close to `CENTRE_LAT_LON`
CENTRAL_RADIUS_M: Final = 6000.0
#: SYNTHETIC population proxy: residents counted per served stop of a cell
RESIDENTS_PER_STOP: Final = 800.0
#: SYNTHETIC transit trips per resident per day
TRIP_RATE_PER_DAY: Final = 0.8
#: distance decay of the gravity model, per straight-line km
BETA_PER_KM: Final = 0.2

ZONES_NAME: Final = "zones.geojson"
DEMAND_NAME: Final = "demand-synthetic.csv"
FARE_ATTRIBUTES: Final = "fare_attributes.txt"
FARE_RULES: Final = "fare_rules.txt"

#: feeds of the merged GTFS (`bench.nyc_gtfs.FEED_TAGS` prefixes) that are commuter rail
RAIL_FEEDS: Final = frozenset({"lirr", "mnr"})
#: MTA express bus route names: X27, BxM1, BM5, QM2, SIM1C ...
EXPRESS_BUS_RE: Final = re.compile(r"^(X|BxM|BM|QM|SIM)\d+[A-Z]?$")


@dataclass(frozen=True)
class DeclaredFare:
    """One fare of the declared table (one `fare_attributes.txt` row) and who it is for."""

    fare_id: str
    price: str  # decimal text, as GTFS writes it
    transfers: str  # "" = unlimited, as in GTFS
    transfer_duration_s: int | None
    covers: tuple[str, ...]  # route kinds whose rides the ticket covers
    note: str


#: the DECLARED base fare table (USD); see the module docstring
DECLARED_FARES: Final = (
    DeclaredFare("local", "2.90", "", 7200, ("local",),
                 "subway and local bus, free transfers within 2 h of first boarding"),
    DeclaredFare("express_bus", "7.00", "", 7200, ("express", "local"),
                 "express bus, local rides within 2 h included"),
    DeclaredFare("commuter_rail", "5.00", "0", None, ("rail",),
                 "LIRR / Metro-North, flat per ride (declared, not the zonal tariff)"),
)
FARE_CURRENCY: Final = "USD"
FARES_NOTE: Final = (
    "DECLARED fares: the MTA publishes no GTFS fare files for these feeds; the benchmark "
    "prices with its own declared table (" + "; ".join(
        f"{f.fare_id} {f.price} {FARE_CURRENCY}: {f.note}" for f in DECLARED_FARES
    ) + ")"
)


@dataclass(frozen=True)
class ZoneGrid:
    """The zones: one per grid cell holding at least one served stop, in (row, column) order."""

    cell_m: float
    projection: LocalProjection
    cell_x: npt.NDArray[np.int64]  # zone -> cell column (x // cell_m)
    cell_y: npt.NDArray[np.int64]  # zone -> cell row
    stops: npt.NDArray[np.int64]  # zone -> served stops in the cell
    departures: npt.NDArray[np.int64]  # zone -> departures (stop events) in the cell
    central: npt.NDArray[np.bool_]  # zone -> central class

    def __len__(self) -> int:
        return int(self.cell_x.shape[0])

    @property
    def zone_ids(self) -> list[str]:
        """Zone ids ``z0000``...: short, because the demand repeats them n^2 times."""
        width = max(4, len(str(len(self) - 1)))
        return [f"z{i:0{width}d}" for i in range(len(self))]

    def centres(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(lat, lon) of each cell's centre."""
        x = (self.cell_x + 0.5) * self.cell_m
        y = (self.cell_y + 0.5) * self.cell_m
        return self.projection.to_latlon(x, y)

    @property
    def population(self) -> npt.NDArray[np.float64]:
        """SYNTHETIC population proxy per zone."""
        return self.stops.astype(np.float64) * RESIDENTS_PER_STOP


def zone_grid(
    stop_lat: npt.ArrayLike,
    stop_lon: npt.ArrayLike,
    stop_departures: npt.ArrayLike,
    *,
    cell_m: float = CELL_M,
    centre: tuple[float, float] = CENTRE_LAT_LON,
    central_radius_m: float = CENTRAL_RADIUS_M,
) -> ZoneGrid:
    """The grid zones over served stops (departures > 0); stops without any are left out.

    Raises ValueError when the arrays differ in length, the cell size is not positive or
    no stop is served: there would be no zone to evaluate.
    """
    lat = np.asarray(stop_lat, dtype=np.float64)
    lon = np.asarray(stop_lon, dtype=np.float64)
    deps = np.asarray(stop_departures, dtype=np.int64)
    if not lat.shape == lon.shape == deps.shape or lat.ndim != 1:
        raise ValueError(
            f"stop_lat, stop_lon and stop_departures must be 1-d of one length, got "
            f"{lat.shape}, {lon.shape}, {deps.shape}"
        )
    if not cell_m > 0:
        raise ValueError(f"cell_m {cell_m}: expected a positive number of metres")
    served = (deps > 0) & np.isfinite(lat) & np.isfinite(lon)
    if not served.any():
        raise ValueError("no served stop: expected at least one stop with departures")
    lat, lon, deps = lat[served], lon[served], deps[served]
    projection = LocalProjection(float(np.median(lat)), float(np.median(lon)))
    x, y = projection.to_xy(lat, lon)
    cx = np.floor(x / cell_m).astype(np.int64)
    cy = np.floor(y / cell_m).astype(np.int64)
    # lexsort: row-major order (south to north, then west to east), stable between runs
    cells, inverse = np.unique(np.column_stack([cy, cx]), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    stops = np.bincount(inverse, minlength=len(cells)).astype(np.int64)
    departures = np.bincount(inverse, weights=deps, minlength=len(cells)).astype(np.int64)
    grid = ZoneGrid(
        cell_m, projection, cells[:, 1].copy(), cells[:, 0].copy(), stops, departures,
        np.zeros(len(cells), dtype=bool),
    )
    c_lat, c_lon = grid.centres()
    central = haversine_m(c_lat, c_lon, centre[0], centre[1]) <= central_radius_m
    object.__setattr__(grid, "central", central)
    return grid


def zones_geojson(grid: ZoneGrid) -> dict[str, Any]:
    """The grid as a zone layer (`pricing.zones.ZoneLayer.from_geojson` reads it back).

    Properties: ``class``, ``population`` (SYNTHETIC proxy), ``opportunities`` (departures:
    the evaluation's accessibility weighs destinations by them), ``stops``, ``departures``.
    """
    x0 = grid.cell_x * grid.cell_m
    y0 = grid.cell_y * grid.cell_m
    s_lat, w_lon = grid.projection.to_latlon(x0, y0)
    n_lat, e_lon = grid.projection.to_latlon(x0 + grid.cell_m, y0 + grid.cell_m)
    features = []
    for i, zone_id in enumerate(grid.zone_ids):
        w, e, s, n = (round(float(v[i]), 6) for v in (w_lon, e_lon, s_lat, n_lat))
        ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
        features.append({
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {
                "zone_id": zone_id,
                "class": "central" if grid.central[i] else "peripheral",
                "population": float(grid.population[i]),
                "opportunities": int(grid.departures[i]),
                "stops": int(grid.stops[i]),
                "departures": int(grid.departures[i]),
                "synthetic": "population = served stops x "
                f"{RESIDENTS_PER_STOP:g} (a proxy, not a census)",
            },
        })
    return {"type": "FeatureCollection", "features": features}


def synthetic_demand(grid: ZoneGrid) -> npt.NDArray[np.float64]:
    """SYNTHETIC trips per day between every two distinct zones (origin row, dest column)."""
    lat, lon = grid.centres()
    dist_km = haversine_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :]) / 1000.0
    return gravity_trips(
        grid.population, grid.departures.astype(np.float64), dist_km,
        beta_per_km=BETA_PER_KM, trip_rate=TRIP_RATE_PER_DAY, min_trips=0.0,
    )


def demand_label(grid: ZoneGrid) -> str:
    """The demand file's ``# synthetic:`` line (the evaluation repeats it in its document)."""
    return (
        f"# synthetic: production-constrained gravity model over {len(grid):,} grid zones of "
        f"{grid.cell_m:g} m around the MTA stops; production = {RESIDENTS_PER_STOP:g} "
        f"residents per served stop x {TRIP_RATE_PER_DAY:g} trips/day, attraction = the "
        f"cell's weekday departures, decay exp(-{BETA_PER_KM:g}/km); not observed trips"
    )


def write_demand(path: Path, grid: ZoneGrid, trips: npt.NDArray[np.float64]) -> int:
    """Write the OD table in `pricing.demand`'s zone form; returns the data rows written.

    Pairs with no trips (the diagonal, or a product that underflowed to 0) are not written:
    the format requires trips > 0.
    """
    ids = np.array(grid.zone_ids)
    o, d = np.nonzero(trips > 0)
    values = np.char.mod("%.6g", trips[o, d])
    rows = np.char.add(np.char.add(np.char.add(np.char.add(ids[o], ","), ids[d]), ","), values)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(demand_label(grid) + "\n")
        fh.write("# trips: SYNTHETIC transit trips per day\n")
        fh.write("origin_zone,dest_zone,trips\n")
        fh.write("\n".join(rows.tolist()))
        fh.write("\n")
    return len(o)


def route_kind(route_id: str, short_name: str) -> str:
    """"rail", "express" or "local": which declared fare a route's rides need."""
    feed = route_id.split(":", 1)[0]
    if feed in RAIL_FEEDS:
        return "rail"
    if EXPRESS_BUS_RE.match(short_name.strip()):
        return "express"
    return "local"


def write_fare_tables(gtfs_dir: Path, routes: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Write the DECLARED table as GTFS Fares v1 into `gtfs_dir`; returns routes per kind.

    `routes` are (route_id, route_short_name). Every route gets a rule of each fare that
    covers its kind, so each ride can be priced.
    """
    by_kind: dict[str, list[str]] = {"local": [], "express": [], "rail": []}
    for route_id, short_name in routes:
        by_kind[route_kind(route_id, short_name)].append(route_id)
    with (gtfs_dir / FARE_ATTRIBUTES).open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["fare_id", "price", "currency_type", "payment_method", "transfers",
                      "transfer_duration"])
        for fare in DECLARED_FARES:
            duration = "" if fare.transfer_duration_s is None else str(fare.transfer_duration_s)
            out.writerow([fare.fare_id, fare.price, FARE_CURRENCY, "0", fare.transfers, duration])
    with (gtfs_dir / FARE_RULES).open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["fare_id", "route_id"])
        for fare in DECLARED_FARES:
            for kind in fare.covers:
                for route_id in by_kind[kind]:
                    out.writerow([fare.fare_id, route_id])
    return {kind: len(ids) for kind, ids in by_kind.items()}


def read_routes(gtfs_dir: Path) -> list[tuple[str, str]]:
    """(route_id, route_short_name) of every route of a GTFS directory."""
    with (gtfs_dir / "routes.txt").open(encoding="utf-8-sig", newline="") as fh:
        return [(r["route_id"], r.get("route_short_name", "")) for r in csv.DictReader(fh)]


def link_feed_with_fares(source: Path, target: Path) -> dict[str, int]:
    """`target`: the GTFS tables of `source` (symlinked, not copied: stop_times is 600 MB)
    plus the declared fare tables. Returns routes per fare kind.
    """
    target.mkdir(parents=True, exist_ok=True)
    for old in target.iterdir():
        old.unlink()
    for table in sorted(source.glob("*.txt")):
        if table.name not in (FARE_ATTRIBUTES, FARE_RULES):
            (target / table.name).symlink_to(table.resolve())
    return write_fare_tables(target, read_routes(source))


def write_zones(path: Path, grid: ZoneGrid) -> None:
    """Write the zone layer as GeoJSON."""
    path.write_text(json.dumps(zones_geojson(grid), separators=(",", ":")), encoding="utf-8")


def stop_departures(
    n_stops: int, stop_pat_ptr: npt.NDArray[Any], stop_pat_pattern: npt.NDArray[Any],
    pattern_trip_ptr: npt.NDArray[Any],
) -> npt.NDArray[np.int64]:
    """Departures (stop events) per stop of a compiled timetable: for every pattern calling
    at the stop, its number of trips (the timetable's CSR arrays, read as they are).
    """
    trips_per_pattern = np.diff(pattern_trip_ptr).astype(np.int64)
    per_incidence = trips_per_pattern[np.asarray(stop_pat_pattern, dtype=np.int64)]
    stop_of = np.repeat(np.arange(n_stops), np.diff(stop_pat_ptr))
    return np.bincount(stop_of, weights=per_incidence, minlength=n_stops).astype(np.int64)
