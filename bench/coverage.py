"""Availability history benchmark: what recording costs the server at 10,000 vehicles.

    python -m bench.coverage

Synthetic fleets over the embedded city's 162 demand zones (vehicles drawn uniformly
inside zones chosen in proportion to their residents): free-floating scooters and e-bikes,
docked bike stations, and cars, 10,000 vehicles in all by default. Every sample moves 5 %
of the free-floating vehicles (new positions, new ids, as GBFS rotates them) and re-deals
the station counts, then times what the server's recorder does per sample: aggregate every
provider's snapshot and record the rows in a SQLite history file on disk (WAL,
synchronous FULL, as in the server). Reported: wall and CPU milliseconds per sample
(median, p95), the share of one core at the 300 s cadence (CPU per sample / cadence), rows
and bytes per sample and what 35 days of retention hold, and the read side over the day
recorded (reading the samples back and computing the service measures).
Figures are printed and saved to `bench/results/coverage.json`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import shapely

from bench.common import machine, peak_rss_mib, save, stats_ms
from providers.model import (
    FeedFile,
    FleetSnapshot,
    FormFactor,
    Propulsion,
    ReturnConstraint,
    Station,
    StationStatus,
    SystemInfo,
    Vehicle,
    VehicleType,
)
from service_coverage.history import DEFAULT_RETENTION_S, HistoryStore, aggregate
from service_coverage.measures import service_measures
from service_coverage.zones import ServiceZones, default_service_zones

#: 2022-02-22T00:00+02:00, the embedded city's service day
DAY0_S = 1_645_480_800
#: share of the fleet per kind (free-floating scooters, e-bikes, docked bikes, cars)
MIX = {"scooter": 0.55, "ebike": 0.15, "dock": 0.25, "car": 0.05}
#: docked bikes per station on average (HSL: ~450 stations)
BIKES_PER_STATION = 5.5
#: share of free-floating vehicles that move between two samples (5 minutes)
MOVED_SHARE = 0.05


def _points_in_zones(zones: ServiceZones, rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 2) lat/lon drawn inside zones picked in proportion to their residents."""
    weights = zones.population / zones.population.sum()
    picks = rng.choice(len(zones), size=n, p=weights)
    out = np.empty((n, 2))
    polygons = zones.polygons
    for z in np.unique(picks):
        want = np.flatnonzero(picks == z)
        poly = polygons[z]
        min_lon, min_lat, max_lon, max_lat = poly.bounds
        got: list[np.ndarray] = []
        while sum(len(g) for g in got) < want.size:
            lon = rng.uniform(min_lon, max_lon, 2 * want.size)
            lat = rng.uniform(min_lat, max_lat, 2 * want.size)
            inside = shapely.contains_xy(poly, lon, lat)
            got.append(np.column_stack((lat[inside], lon[inside])))
        out[want] = np.concatenate(got)[: want.size]
    return out


def _feeds(now_s: int) -> tuple[FeedFile, ...]:
    return tuple(
        FeedFile(name, now_s, 60, f"{name}-{now_s}", now_s)
        for name in ("system_information", "vehicle_status", "station_status")
    )


def _system(pid: str) -> SystemInfo:
    return SystemInfo(pid, f"{pid} (SYNTHETIC)", "Europe/Helsinki")


class _Fleets:
    """Three SYNTHETIC providers whose vehicles move a little between samples."""

    def __init__(self, zones: ServiceZones, n_vehicles: int, seed: int) -> None:
        self.zones = zones
        self.rng = np.random.default_rng(seed)
        n_scooter = int(n_vehicles * MIX["scooter"])
        n_ebike = int(n_vehicles * MIX["ebike"])
        n_car = int(n_vehicles * MIX["car"])
        self.n_docked = n_vehicles - n_scooter - n_ebike - n_car
        n_stations = max(1, round(self.n_docked / BIKES_PER_STATION))
        self.free_types = np.array(["scooter"] * n_scooter + ["ebike"] * n_ebike)
        self.free_xy = _points_in_zones(zones, self.rng, self.free_types.size)
        self.car_xy = _points_in_zones(zones, self.rng, n_car)
        self.stations = tuple(
            Station(f"st{i}", f"Station {i}", float(la), float(lo), capacity=12)
            for i, (la, lo) in enumerate(_points_in_zones(zones, self.rng, n_stations))
        )
        self.serial = 0

    def _ids(self, n: int) -> list[str]:
        first = self.serial
        self.serial += n
        return [f"v{first + i}" for i in range(n)]

    def step(self, now_s: int) -> list[FleetSnapshot]:
        """Move 5 % of the free vehicles, re-deal the docks; the three providers' snapshots."""
        moved = self.rng.random(self.free_types.size) < MOVED_SHARE
        self.free_xy[moved] = _points_in_zones(self.zones, self.rng, int(moved.sum()))
        ids = self._ids(self.free_types.size)
        scooters = FleetSnapshot(
            provider_id="bench-scooters",
            gbfs_version="3.0",
            system=_system("bench-scooters"),
            feeds=_feeds(now_s),
            vehicle_types=(
                VehicleType("scooter", FormFactor.SCOOTER_STANDING, Propulsion.ELECTRIC),
                VehicleType("ebike", FormFactor.BICYCLE, Propulsion.ELECTRIC_ASSIST),
            ),
            vehicles=tuple(
                Vehicle(vid, float(la), float(lo), vehicle_type_id=str(t))
                for vid, (la, lo), t in zip(ids, self.free_xy, self.free_types, strict=True)
            ),
            source="synthetic",
        )
        counts = self.rng.multinomial(self.n_docked, [1 / len(self.stations)] * len(self.stations))
        bikes = FleetSnapshot(
            provider_id="bench-bikes",
            gbfs_version="3.0",
            system=_system("bench-bikes"),
            feeds=_feeds(now_s),
            vehicle_types=(
                VehicleType(
                    "bike",
                    FormFactor.BICYCLE,
                    Propulsion.HUMAN,
                    return_constraint=ReturnConstraint.ANY_STATION,
                ),
            ),
            stations=self.stations,
            station_status=tuple(
                StationStatus(s.id, int(n), num_docks_available=max(0, 12 - int(n)))
                for s, n in zip(self.stations, counts.tolist(), strict=True)
            ),
            source="synthetic",
        )
        cars = FleetSnapshot(
            provider_id="bench-cars",
            gbfs_version="3.0",
            system=_system("bench-cars"),
            feeds=_feeds(now_s),
            vehicle_types=(VehicleType("car", FormFactor.CAR, Propulsion.ELECTRIC),),
            vehicles=tuple(
                Vehicle(vid, float(la), float(lo), vehicle_type_id="car")
                for vid, (la, lo) in zip(self._ids(len(self.car_xy)), self.car_xy, strict=True)
            ),
            source="synthetic",
        )
        return [scooters, bikes, cars]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--vehicles", type=int, default=10_000)
    ap.add_argument("--samples", type=int, default=288, help="one day at the 300 s cadence")
    ap.add_argument("--period-s", type=int, default=300)
    ap.add_argument("--seed", type=int, default=2022)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    zones = default_service_zones()
    fleets = _Fleets(zones, args.vehicles, args.seed)
    wall: list[float] = []
    cpu: list[float] = []
    rows: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.sqlite3"
        store = HistoryStore(path)
        for k in range(args.samples):
            now_s = DAY0_S + k * args.period_s
            snapshots = fleets.step(now_s)
            t_wall, t_cpu = time.perf_counter(), time.process_time()
            samples = [
                row for snap in snapshots for row in aggregate(snap, zones, sampled_at_s=now_s)
            ]
            rows.append(store.record(samples))
            cpu.append(time.process_time() - t_cpu)
            wall.append(time.perf_counter() - t_wall)
        store.close()
        size_bytes = sum(p.stat().st_size for p in Path(tmp).iterdir())
        store = HistoryStore(path)
        t = time.perf_counter()
        day = store.samples(from_s=DAY0_S, to_s=DAY0_S + 86_400)
        read_s = time.perf_counter() - t
        t = time.perf_counter()
        measures = service_measures(day, zones, tz=ZoneInfo("Europe/Helsinki"))
        measures_s = time.perf_counter() - t
        store.close()

    n_vehicles = fleets.free_types.size + len(fleets.car_xy) + fleets.n_docked
    cpu_ms = stats_ms(cpu)
    samples_per_retention = DEFAULT_RETENTION_S / args.period_s
    result = {
        "benchmark": "service_coverage",
        "machine": machine(),
        "setup": {
            "vehicles": int(n_vehicles),
            "providers": 3,
            "zones": len(zones),
            "stations": len(fleets.stations),
            "samples": args.samples,
            "period_s": args.period_s,
        },
        "record_per_sample_wall": stats_ms(wall),
        "record_per_sample_cpu": cpu_ms,
        "core_share_at_period": {
            "median_percent": round(cpu_ms["median_ms"] / 1000 / args.period_s * 100, 4),
            "p95_percent": round(cpu_ms["p95_ms"] / 1000 / args.period_s * 100, 4),
        },
        "storage": {
            "rows_per_sample": round(float(np.mean(rows)), 1),
            "bytes_per_sample": round(size_bytes / args.samples),
            "retention_days": DEFAULT_RETENTION_S // 86_400,
            "retention_mib": round(size_bytes / args.samples * samples_per_retention / 2**20, 1),
        },
        "one_day_read": {
            "rows": len(day),
            "read_s": round(read_s, 3),
            "measures_s": round(measures_s, 3),
            "measured_samples": measures.samples,
        },
        "peak_rss_mib": peak_rss_mib(),
    }
    out = save("service_coverage", result)
    sys.stdout.write(json.dumps(result, indent=2) + f"\nsaved {out}\n")


if __name__ == "__main__":
    main()
