"""Build the embedded city's SYNTHETIC origin-destination demand with a gravity model.

Nobody publishes a free OD matrix for Helsinki, yet equity metrics need trips to weigh
prices by. This build-time module derives one from real inputs and says so everywhere:

* demand zones are the real HSY 2020 population grid cells (real population) plus 1 km
  cells over the rest of the served area (>= 3 GTFS stops, no overlap with the real grid),
  whose population is ESTIMATED from their stop count, because the real grid covers only
  the centre (fare zone A) and a planner could not otherwise compare central with
  peripheral residents;
* each zone's class comes from the GTFS fare zones (A central, B peripheral) derived with
  `pricing.zones.fare_zone_layer`;
* trips come from a production-constrained gravity model, and income groups are fixed
  placeholder shares, identical in every zone.

``python -m ingest.gravity`` regenerates the committed files under ``data/helsinki/demand/``
byte for byte (rows in layer order, fixed float formatting, no timestamps).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely

from ingest.errors import GtfsError, InputFileError
from pricing.zones import Zone, ZoneLayer, fare_zone_layer
from routing.geo import LocalProjection, haversine_m

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_GTFS = ROOT / "data" / "helsinki" / "gtfs" / "hsl-gtfs-2022-02-22.zip"
DEFAULT_POPULATION = ROOT / "data" / "helsinki" / "population-grid-2020.gpkg"
DEFAULT_OUT = ROOT / "data" / "helsinki" / "demand"

CSV_NAME: Final = "od-gravity-synthetic.csv"
ZONES_NAME: Final = "demand-zones.geojson"
FARE_ZONES_NAME: Final = "fare-zones.geojson"
README_NAME: Final = "README.md"

#: HSL fare zones in the embedded feed: A is the centre, B the ring around it
HELSINKI_FARE_CLASSES: Final = MappingProxyType({"A": "central", "B": "peripheral"})
HELSINKI_FARE_RINGS: Final = MappingProxyType({"A": 0, "B": 1})

#: assumption: public-transport trips per resident per day (order of magnitude of HSL surveys)
TRIP_RATE_PER_DAY: Final = 0.8
#: distance decay of the gravity model, per straight-line km
BETA_PER_KM: Final = 0.25
#: pairs with fewer modelled trips per day than this are dropped. 2.0 rather than 0.5: with
#: 162 zones a 0.5 cut keeps 21k pairs (63k rows, 2.1 MB with the income split), over the
#: 2 MB budget for committed data; 2.0 keeps ~15k pairs and drops ~2% of the trips
MIN_PAIR_TRIPS: Final = 2.0
#: attraction proxy: a stop stands for this many "opportunities" (jobs, shops, schools)
OPPORTUNITIES_PER_STOP: Final = 50
#: side of the estimated-population cells, metres
EST_CELL_M: Final = 1000.0
#: an estimated cell needs at least this many stops to count as served
EST_MIN_STOPS: Final = 3
#: overlap (m²) below which a 1 km cell only touches the real grid's footprint
_TOUCH_M2: Final = 1.0

#: SYNTHETIC placeholder income groups: (label, share of each zone's trips, monthly income
#: in EUR cents). Same in every zone: no geography of income is invented.
INCOME_GROUPS: Final = (("low", 0.3, 180_000), ("middle", 0.4, 320_000), ("high", 0.3, 520_000))

REAL_SOURCE: Final = "HSY 2020 grid (real)"
EST_SOURCE: Final = "estimated from stop count (synthetic)"


@dataclass(frozen=True)
class GravityResult:
    """What `build_gravity_demand` wrote and the totals its README reports."""

    csv_path: Path
    zones_path: Path
    fare_zones_path: Path
    readme_path: Path
    zones_real: int
    zones_estimated: int
    population_real: int
    population_estimated: int
    people_per_stop: float  # real population per stop inside the real grid's footprint
    pairs: int  # OD pairs kept after the MIN_PAIR_TRIPS cut
    rows: int  # CSV data rows (pairs x income groups)
    trips: float  # trips per day in the CSV
    trips_dropped: float  # trips per day in the pairs cut away


@dataclass(frozen=True)
class GtfsStops:
    """Boarding stops of a GTFS feed (location_type empty or 0) with their fare zone."""

    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    zone_id: npt.NDArray[np.str_]


def read_stops(gtfs_zip: Path) -> GtfsStops:
    """Boarding stops and fare zones from ``stops.txt`` of a GTFS zip (csv module, no pandas).

    Stations (location_type 1) and entrances are skipped: they would count a place twice.
    """
    path = Path(gtfs_zip)
    if not path.is_file():
        raise InputFileError(f"GTFS zip {path} does not exist")
    try:
        with zipfile.ZipFile(path) as zf, zf.open("stops.txt") as fh:
            rows = list(csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8-sig")))
    except (KeyError, zipfile.BadZipFile, UnicodeDecodeError, csv.Error) as exc:
        raise GtfsError(f"{path}: cannot read stops.txt: {exc}") from exc
    lat, lon, zone = [], [], []
    for n, row in enumerate(rows, start=2):
        if (row.get("location_type") or "").strip() not in ("", "0"):
            continue
        try:
            lat.append(float(row["stop_lat"]))
            lon.append(float(row["stop_lon"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise GtfsError(f"{path}: stops.txt line {n}: bad stop_lat/stop_lon: {exc}") from exc
        zone.append((row.get("zone_id") or "").strip())
    if not lat:
        raise GtfsError(f"{path}: stops.txt has no boarding stops")
    return GtfsStops(np.array(lat), np.array(lon), np.array(zone, dtype=str))


def gravity_trips(
    production: npt.ArrayLike,
    attraction: npt.ArrayLike,
    dist_km: npt.ArrayLike,
    *,
    beta_per_km: float = BETA_PER_KM,
    trip_rate: float = TRIP_RATE_PER_DAY,
    min_trips: float = MIN_PAIR_TRIPS,
) -> npt.NDArray[np.float64]:
    """Production-constrained gravity model; returns the trip matrix (origin row, dest column).

    ``T_ij = P_i r A_j f(d_ij) / sum_k A_k f(d_ik)`` with ``f(d) = exp(-beta d)``, summing over
    k != i: intra-zonal trips are not modelled, so each origin's row sums to ``P_i r`` before
    pairs with fewer than ``min_trips`` trips are set to 0. An origin with nothing to attract
    it (all other A_k = 0) produces no trips.
    """
    P = np.asarray(production, dtype=np.float64)
    A = np.asarray(attraction, dtype=np.float64)
    D = np.asarray(dist_km, dtype=np.float64)
    n = P.shape[0]
    if P.ndim != 1 or A.shape != (n,) or D.shape != (n, n):
        raise ValueError(
            f"gravity_trips: expected production (n,), attraction (n,), dist_km (n, n); got "
            f"{P.shape}, {A.shape}, {D.shape}"
        )
    if (P < 0).any() or (A < 0).any() or (D < 0).any() or not np.isfinite(D).all():
        raise ValueError("gravity_trips: production, attraction and distances must be >= 0")
    weight = A[None, :] * np.exp(-beta_per_km * D)
    np.fill_diagonal(weight, 0.0)
    denom = weight.sum(axis=1)
    share = np.divide(weight, denom[:, None], out=np.zeros_like(weight), where=denom[:, None] > 0)
    trips: npt.NDArray[np.float64] = P[:, None] * trip_rate * share
    trips[trips < min_trips] = 0.0
    return trips


def helsinki_fare_zones(stops: GtfsStops, *, source: str) -> ZoneLayer:
    """The A (central, ring 0) / B (peripheral, ring 1) layer derived from the stops."""
    return fare_zone_layer(
        stops.lat,
        stops.lon,
        stops.zone_id,
        class_of=HELSINKI_FARE_CLASSES,
        ring_of=HELSINKI_FARE_RINGS,
        source=source,
    )


def _read_population(path: Path) -> gpd.GeoDataFrame:
    if not Path(path).is_file():
        raise InputFileError(f"population grid {path} does not exist")
    grid = gpd.read_file(path)
    if grid.crs is None or grid.crs.to_epsg() != 4326:
        raise InputFileError(f"{path}: expected EPSG:4326, got {grid.crs}")
    for col in ("id", "population"):
        if col not in grid.columns:
            raise InputFileError(f"{path}: no column {col!r}; has {list(grid.columns)}")
    pop = grid["population"].to_numpy()
    if not np.issubdtype(pop.dtype, np.integer) or (pop < 0).any():
        raise InputFileError(f"{path}: population must be integers >= 0")
    return grid.sort_values("id", kind="stable").reset_index(drop=True)


def _zone(zone_id: str, geometry: Any, props: dict[str, Any]) -> Zone:
    """A demand zone; the class is a placeholder until `_classify` sets it."""
    return Zone(zone_id, "central", None, geometry, MappingProxyType(props))


def _demand_zones(
    grid: gpd.GeoDataFrame, stops: GtfsStops, fare: ZoneLayer, source: str
) -> tuple[ZoneLayer, float]:
    """The real grid cells plus estimated 1 km cells, classified by fare zone."""
    proj = LocalProjection(float(stops.lat.mean()), float(stops.lon.mean()))

    def to_m(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.column_stack(proj.to_xy(xy[:, 1], xy[:, 0]))

    def to_deg(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        lat, lon = proj.to_latlon(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    # real cells: population as published, stops counted inside each cell
    real = [
        _zone(f"hsy-{int(cid)}", geom, {"population": int(pop), "population_source": REAL_SOURCE})
        for cid, pop, geom in zip(grid["id"], grid["population"], grid.geometry, strict=True)
    ]
    real_layer = ZoneLayer(tuple(real), source="hsy")
    in_real = real_layer.assign(stops.lat, stops.lon)
    real_stops = np.bincount(in_real[in_real >= 0], minlength=len(real))
    population_real = int(grid["population"].sum())
    n_stops_real = int(real_stops.sum())
    if n_stops_real == 0:
        raise InputFileError("no GTFS stop lies inside the population grid; cannot estimate")
    people_per_stop = population_real / n_stops_real

    # 1 km cells on a grid anchored at the stops' south-west corner (metres, local projection)
    x, y = proj.to_xy(stops.lat, stops.lon)
    x0, y0 = float(x.min()), float(y.min())
    col = np.floor((x - x0) / EST_CELL_M).astype(np.int64)
    row = np.floor((y - y0) / EST_CELL_M).astype(np.int64)
    footprint_m = shapely.transform(shapely.union_all(np.asarray(grid.geometry)), to_m)
    cells, counts = np.unique(np.column_stack([row, col]), axis=0, return_counts=True)
    estimated = []
    for (r, c), n in zip(cells.tolist(), counts.tolist(), strict=True):
        if n < EST_MIN_STOPS:
            continue
        box_m = shapely.box(
            x0 + c * EST_CELL_M,
            y0 + r * EST_CELL_M,
            x0 + (c + 1) * EST_CELL_M,
            y0 + (r + 1) * EST_CELL_M,
        )
        if shapely.intersection(box_m, footprint_m).area > _TOUCH_M2:
            continue
        geom = shapely.set_precision(shapely.transform(box_m, to_deg), 1e-7)
        props = {
            "population": round(n * people_per_stop),
            "population_source": EST_SOURCE,
            "stops": int(n),
        }
        estimated.append(_zone(f"est-{r}-{c}", geom, props))

    zones: list[Zone] = []
    for zone, n in zip(real, real_stops.tolist(), strict=True):
        zones.append(_zone(zone.zone_id, zone.geometry, {**zone.properties, "stops": int(n)}))
    zones += estimated
    layer = _classify(ZoneLayer(tuple(zones), source=source), stops, fare)
    return layer, people_per_stop


def _classify(layer: ZoneLayer, stops: GtfsStops, fare: ZoneLayer) -> ZoneLayer:
    """Class = fare zone at the representative point, else fare zone of the nearest stop."""
    lat, lon = layer.representative_points()
    fare_idx = fare.assign(lat, lon)
    zoned = np.flatnonzero(np.isin(stops.zone_id, [z.zone_id for z in fare.zones]))
    stop_fare = np.array([fare.index_of(z) for z in stops.zone_id[zoned]], dtype=np.int64)
    out = []
    for i, zone in enumerate(layer.zones):
        f = int(fare_idx[i])
        if f < 0:
            d_m = haversine_m(lat[i], lon[i], stops.lat[zoned], stops.lon[zoned])
            nearest = int(np.argmin(d_m))
            f = int(stop_fare[nearest])
        fz = fare.zones[f]
        props = dict(zone.properties)
        props["fare_zone"] = fz.zone_id
        props["opportunities"] = int(props["population"]) + OPPORTUNITIES_PER_STOP * int(
            props["stops"]
        )
        out.append(Zone(zone.zone_id, fz.zone_class, None, zone.geometry, MappingProxyType(props)))
    return ZoneLayer(tuple(out), source=layer.source)


def build_gravity_demand(
    gtfs_zip: Path,
    population_gpkg: Path,
    out_dir: Path,
    *,
    beta_per_km: float = BETA_PER_KM,
    trip_rate: float = TRIP_RATE_PER_DAY,
    min_pair_trips: float = MIN_PAIR_TRIPS,
) -> GravityResult:
    """Write the synthetic OD table, the demand zones, the fare zones and their README.

    Files in ``out_dir``: ``od-gravity-synthetic.csv`` (zone-id form, ``# synthetic:``
    header; read it with ``load_demand(path, zones=ZoneLayer.from_geojson(<demand zones>))``),
    ``demand-zones.geojson``, ``fare-zones.geojson`` and ``README.md``. Deterministic: the
    same inputs give byte-identical files.
    """
    if not (math.isfinite(beta_per_km) and beta_per_km >= 0):
        raise ValueError(f"beta_per_km {beta_per_km!r}; expected a finite number >= 0")
    if not (math.isfinite(trip_rate) and trip_rate > 0):
        raise ValueError(f"trip_rate {trip_rate!r}; expected a finite number > 0")
    if not (math.isfinite(min_pair_trips) and min_pair_trips >= 0):
        raise ValueError(f"min_pair_trips {min_pair_trips!r}; expected a finite number >= 0")
    gtfs_zip, population_gpkg, out_dir = Path(gtfs_zip), Path(population_gpkg), Path(out_dir)
    stops = read_stops(gtfs_zip)
    fare = helsinki_fare_zones(stops, source=f"{gtfs_zip.name} stops (Voronoi, 500 m)")
    grid = _read_population(population_gpkg)
    layer, people_per_stop = _demand_zones(grid, stops, fare, source=ZONES_NAME)

    population = np.array([z.properties["population"] for z in layer.zones], dtype=np.float64)
    attraction = np.array([z.properties["opportunities"] for z in layer.zones], dtype=np.float64)
    lat, lon = layer.representative_points()
    dist_km = haversine_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :]) / 1000.0
    trips = gravity_trips(
        population,
        attraction,
        dist_km,
        beta_per_km=beta_per_km,
        trip_rate=trip_rate,
        min_trips=min_pair_trips,
    )
    dropped = float(population.sum() * trip_rate - trips.sum())

    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / CSV_NAME
    rows, written = _write_csv(csv_path, layer, trips, beta_per_km, trip_rate, min_pair_trips)
    zones_path = out_dir / ZONES_NAME
    _write_json(zones_path, layer.to_geojson())
    fare_path = out_dir / FARE_ZONES_NAME
    _write_json(fare_path, fare.to_geojson())

    is_real = np.array([z.zone_id.startswith("hsy-") for z in layer.zones])
    result = GravityResult(
        csv_path=csv_path,
        zones_path=zones_path,
        fare_zones_path=fare_path,
        readme_path=out_dir / README_NAME,
        zones_real=int(is_real.sum()),
        zones_estimated=int((~is_real).sum()),
        population_real=int(population[is_real].sum()),
        population_estimated=int(population[~is_real].sum()),
        people_per_stop=people_per_stop,
        pairs=int((trips > 0).sum()),
        rows=rows,
        trips=written,
        trips_dropped=dropped,
    )
    _write_readme(result, layer, trips, fare, beta_per_km, trip_rate, min_pair_trips)
    log.info(
        "gravity demand: %d zones, %d pairs, %d rows, %.0f trips/day -> %s",
        len(layer),
        result.pairs,
        rows,
        written,
        out_dir,
    )
    return result


def _fmt(value: float) -> str:
    """Fixed formatting for committed numbers: 3 decimals, no '-0.000'."""
    text = f"{value:.3f}"
    return "0.000" if text == "-0.000" else text


def _write_csv(
    path: Path,
    layer: ZoneLayer,
    trips: npt.NDArray[np.float64],
    beta_per_km: float,
    trip_rate: float,
    min_pair_trips: float,
) -> tuple[int, float]:
    """Helsinki's demand CSV: its `# synthetic:` line states this model's assumptions."""
    groups = ", ".join(f"{g} {s:g} @ {m}" for g, s, m in INCOME_GROUPS)
    header = (
        f"# synthetic: production-constrained gravity model (beta {beta_per_km:g}/km, "
        f"{trip_rate:g} trips/resident/day, pairs under {min_pair_trips:g} trips dropped) "
        f"on the HSY 2020 grid plus stop-count population "
        f"estimates; income groups are placeholder shares ({groups} EUR cents/month), the "
        f"same in every zone; see README.md",
        "# trips: public-transport trips per day; income_minor: monthly income, EUR cents",
    )
    return write_demand_csv(path, layer, trips, header=header, income_groups=INCOME_GROUPS)


def write_demand_csv(
    path: Path,
    layer: ZoneLayer,
    trips: npt.NDArray[np.float64],
    *,
    header: Sequence[str],
    income_groups: Sequence[tuple[str, float, int]],
) -> tuple[int, float]:
    """One row per (origin, destination, income group), in layer order, after the comment
    lines of `header`; returns rows, trips. Shared by every city's demand generator so the
    committed files keep one format (`pricing.demand` reads them back).
    """
    ids = [z.zone_id for z in layer.zones]
    lines = [*header, "origin_zone,dest_zone,trips,income_group,income_minor"]
    total = 0.0
    n_rows = 0
    for i, j in zip(*np.nonzero(trips), strict=True):
        for group, share, income in income_groups:
            value = _fmt(float(trips[i, j]) * share)
            lines.append(f"{ids[i]},{ids[j]},{value},{group},{income}")
            total += float(value)
            n_rows += 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
    return n_rows, total


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8", newline="\n")


def _write_readme(
    result: GravityResult,
    layer: ZoneLayer,
    trips: npt.NDArray[np.float64],
    fare: ZoneLayer,
    beta_per_km: float,
    trip_rate: float,
    min_pair_trips: float,
) -> None:
    classes = layer.classes(np.arange(len(layer)))
    population = np.array([z.properties["population"] for z in layer.zones])
    real = np.array([z.zone_id.startswith("hsy-") for z in layer.zones])
    produced = trips.sum(axis=1)
    attracted = trips.sum(axis=0)
    table = [
        "| origin class | zones (real + estimated) | population | trips produced/day | "
        "trips attracted/day |",
        "|---|---|---|---|---|",
    ]
    for cls in ("central", "peripheral"):
        m = classes == cls
        table.append(
            f"| {cls} | {int((m & real).sum())} + {int((m & ~real).sum())} | "
            f"{int(population[m].sum()):,} | {produced[m].sum():,.1f} | "
            f"{attracted[m].sum():,.1f} |"
        )
    table.append(
        f"| all | {result.zones_real} + {result.zones_estimated} | "
        f"{int(population.sum()):,} | {produced.sum():,.1f} | {attracted.sum():,.1f} |"
    )
    fare_lines = [f"| {z.zone_id} | {z.zone_class} | {z.properties['stops']} |" for z in fare.zones]
    groups = "\n".join(
        f"| {g} | {s:.0%} | {m:,} (= {m / 100:,.0f} EUR) |" for g, s, m in INCOME_GROUPS
    )
    text = _README.format(
        csv=CSV_NAME,
        zones=ZONES_NAME,
        fare=FARE_ZONES_NAME,
        real_src=REAL_SOURCE,
        est_src=EST_SOURCE,
        cell_m=f"{EST_CELL_M:.0f}",
        min_stops=EST_MIN_STOPS,
        pps=f"{result.people_per_stop:.1f}",
        opp=OPPORTUNITIES_PER_STOP,
        rate=f"{trip_rate:g}",
        beta=f"{beta_per_km:g}",
        cut=f"{min_pair_trips:g}",
        groups=groups,
        table="\n".join(table),
        fare_table="\n".join(fare_lines),
        n_real=result.zones_real,
        pop_real=f"{result.population_real:,}",
        pop_est=f"{result.population_estimated:,}",
        expected=f"{float(population.sum()) * trip_rate:,.1f}",
        kept=f"{float(trips.sum()):,.1f}",
        dropped=f"{result.trips_dropped:,.1f}",
        written=f"{result.trips:,.1f}",
        pairs=f"{result.pairs:,}",
        rows=f"{result.rows:,}",
    )
    result.readme_path.write_text(text, encoding="utf-8", newline="\n")


_README = """\
# Helsinki demand — SYNTHETIC

**Everything in this folder except the real HSY populations is SYNTHETIC.** The trips are the
output of a textbook gravity model, not observations; the income groups are placeholders. Use
them to exercise and compare pricing policies, not to describe Helsinki.

Generated by `python -m ingest.gravity` (deterministic: re-running it gives byte-identical
files). Do not edit by hand.

- `{csv}`: OD trips per day between demand zones, split into three income groups
  (zone-id form; its `# synthetic:` first line marks it). Read it with
  `pricing.demand.load_demand(path, zones=ZoneLayer.from_geojson(<{zones}>))`.
- `{zones}`: the demand zones, with `zone_id`, `class` (central/peripheral),
  `fare_zone`, `population`, `population_source`, `stops` and `opportunities`.
- `{fare}`: HSL fare zones A (central) and B (peripheral) as polygons derived from
  the GTFS stops.

## Method

1. **Fare zones.** `pricing.zones.fare_zone_layer` on the boarding stops of the HSL GTFS
   (`stops.zone_id`): Voronoi cells of the stops in a local metric projection, dissolved by
   zone id and clipped to 500 m discs around all stops. A = central, B = peripheral.

| fare zone | class | stops |
|---|---|---|
{fare_table}

2. **Demand zones.** The {n_real} cells (~250 m) of the real HSY 2020 population grid keep their
   real population (`population_source: "{real_src}"`). The real grid covers only the centre
   (all of it in fare zone A), so the rest of the served area is covered with {cell_m} m ×
   {cell_m} m cells (a grid anchored at the stops' south-west corner) that hold >= {min_stops}
   GTFS stops and do not overlap the real grid's footprint. Their population is ESTIMATED as
   stop count × {pps} residents per stop, the real population per stop inside the real grid's
   footprint (`population_source: "{est_src}"`). A zone's class is the fare zone at its
   representative point (or, if that point lies beyond the fare-zone polygons, the fare zone
   of the nearest stop). Estimated population: {pop_est} (synthetic); real: {pop_real}.

3. **Opportunities** (attraction) = population + {opp} × stops. This is a proxy: there is no
   open jobs/services layer here; stops stand for activity that transit serves.

4. **Trips.** Production-constrained gravity model

   T_ij = P_i × r × A_j f(d_ij) / Σ_(k≠i) A_k f(d_ik),  f(d) = exp(−{beta} d_km)

   with P = population, A = opportunities, r = {rate} public-transport trips per resident
   per day (an ASSUMPTION of the right order for Helsinki, not a survey value), d the
   straight-line distance in km between the zones' representative points. Intra-zonal trips
   are not modelled (each origin's trips go to other zones); pairs with T_ij < {cut} trips/day
   are dropped to keep the committed table under 2 MB (a 0.5 cut would keep ~21k pairs, 63k
   rows, 2.1 MB); the trips dropped are counted in the totals below.

5. **Income (SYNTHETIC placeholders).** Every origin zone's trips are split into three income
   groups with the same shares everywhere; no geography of income is invented.

| income group | share of trips | monthly income, EUR cents |
|---|---|---|
{groups}

## Totals

| quantity | value |
|---|---|
| r × total population (trips/day before the cut) | {expected} |
| trips kept after the < {cut} cut | {kept} |
| trips dropped by the cut | {dropped} |
| trips in the CSV (3-decimal rounding) | {written} |
| OD pairs | {pairs} |
| CSV rows (pairs × 3 income groups) | {rows} |

{table}

## Sources and attribution

- Population: Helsinki Region Environmental Services (HSY), population grid 2020, CC BY 4.0
  (`data/helsinki/population-grid-2020.gpkg`).
- Stops and fare zones: © Helsingin seudun liikenne (HSL), GTFS 2022-02-22, CC BY 4.0.
- Derived files here (estimates, trips, incomes) are SYNTHETIC outputs of fairtrip's model.
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: regenerate the committed synthetic demand files."""
    parser = argparse.ArgumentParser(
        prog="python -m ingest.gravity",
        description="Build the SYNTHETIC gravity-model OD demand for the embedded Helsinki.",
    )
    parser.add_argument("--gtfs", type=Path, default=DEFAULT_GTFS, help="GTFS zip")
    parser.add_argument(
        "--population", type=Path, default=DEFAULT_POPULATION, help="HSY population grid"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--beta", type=float, default=BETA_PER_KM, help="decay per km")
    parser.add_argument(
        "--trip-rate", type=float, default=TRIP_RATE_PER_DAY, help="trips/resident/day"
    )
    parser.add_argument(
        "--min-pair-trips", type=float, default=MIN_PAIR_TRIPS, help="drop smaller OD pairs"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    result = build_gravity_demand(
        args.gtfs,
        args.population,
        args.out,
        beta_per_km=args.beta,
        trip_rate=args.trip_rate,
        min_pair_trips=args.min_pair_trips,
    )
    log.info(
        "wrote %s (%d rows), %s, %s, %s",
        result.csv_path,
        result.rows,
        result.zones_path.name,
        result.fare_zones_path.name,
        result.readme_path.name,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
