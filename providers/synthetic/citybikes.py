"""`synthetic-citybikes-hki`: HSL's real city-bike stations with synthetic availability.

Stations, names, addresses and capacities are real (the 2021 station register, HSL /
CityBike Finland, CC BY 4.0). Only the counts are invented. Only the stations inside the
HSL GTFS bounding box (24.85–25.00 E, 60.15–60.25 N) are kept: 219 of the 457, i.e. the
Helsinki ones the compiled network can route to; the Espoo stations lie outside every
stop and street of the embedded city and would only be unreachable noise in a trip search.

The counts ignore the time of day and the season (HSL's bikes are on the street from April
to October; the embedded service day is in February): each station is filled binomially
at ~50 %, a few are forced empty or full (the cases a planner must handle), a few docks and
bikes are broken, and a handful of stations are out of service.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from providers.synthetic._common import (
    CONTACT_EMAIL,
    TIMEZONE,
    TTL_DYNAMIC_S,
    TTL_STATIC_S,
    discovery,
    document,
    rfc3339,
    text,
)

PROVIDER_ID = "synthetic-citybikes-hki"
VEHICLE_TYPE_ID = "hsl-citybike-synthetic"
PLAN_ID = "per-trip-30min"
#: (min lon, min lat, max lon, max lat) of the HSL GTFS stops
HSL_BBOX = (24.85, 60.15, 25.00, 60.25)

FILL_RATE = 0.5  # mean share of working docks holding a bike
EMPTY_SHARE = 0.04  # stations forced empty
FULL_SHARE = 0.04  # stations forced full
BROKEN_DOCK_SHARE = 0.08  # stations with 1-2 disabled docks
BROKEN_BIKE_SHARE = 0.10  # stations with a disabled bike in a dock
CLOSED_SHARE = 0.01  # stations neither renting nor returning


@dataclass(frozen=True, slots=True)
class StationRow:
    """One row of the station register, as the feed needs it."""

    station_id: str
    name_fi: str
    name_sv: str
    name_en: str
    address: str
    capacity: int
    lat: float
    lon: float


def read_stations(
    path: Path, *, bbox: tuple[float, float, float, float] | None = HSL_BBOX
) -> list[StationRow]:
    """The stations of the register inside `bbox` (all of them when None), in file order.

    The register is read with its declared columns; a row with a missing or non-numeric
    capacity or position is an error naming the row, not a silent skip.
    """
    rows: list[StationRow] = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        for line_no, rec in enumerate(csv.DictReader(f), start=2):
            try:
                row = StationRow(
                    station_id=rec["ID"].strip(),
                    name_fi=rec["Nimi"].strip(),
                    name_sv=rec["Namn"].strip() or rec["Nimi"].strip(),
                    name_en=rec["Name"].strip() or rec["Nimi"].strip(),
                    address=rec["Osoite"].strip(),
                    capacity=int(rec["Kapasiteet"]),
                    lat=float(rec["y"]),
                    lon=float(rec["x"]),
                )
            except (KeyError, ValueError) as exc:
                raise ValueError(f"{path}:{line_no}: unreadable station row ({exc})") from None
            if bbox is None or (bbox[0] <= row.lon <= bbox[2] and bbox[1] <= row.lat <= bbox[3]):
                rows.append(row)
    return rows


def build(
    stations: list[StationRow], *, rng: np.random.Generator, now_s: int
) -> dict[str, dict[str, Any]]:
    """Every GBFS 3.0 file of the docked bike-share provider."""
    files: dict[str, dict[str, Any]] = {
        "system_information": document(
            {
                "system_id": PROVIDER_ID,
                "languages": ["en", "fi", "sv"],
                "name": text(
                    "Helsinki city bikes (SYNTHETIC availability)",
                    fi="Helsingin kaupunkipyörät (SYNTHETIC, synteettinen saatavuus)",
                    sv="Helsingfors stadscyklar (SYNTHETIC, syntetisk tillgänglighet)",
                ),
                "operator": text("fairtrip SYNTHETIC data (not HSL or CityBike Finland)"),
                "opening_hours": "24/7",
                "feed_contact_email": CONTACT_EMAIL,
                "timezone": TIMEZONE,
                "license_id": "CC-BY-4.0",
                "attribution_organization_name": text(
                    "Helsingin seudun liikenne (HSL) / CityBike Finland (station register)"
                ),
            },
            now_s=now_s,
            ttl_s=TTL_STATIC_S,
        ),
        "vehicle_types": document(
            {
                "vehicle_types": [
                    {
                        "vehicle_type_id": VEHICLE_TYPE_ID,
                        "form_factor": "bicycle",
                        "propulsion_type": "human",
                        "name": text("City bike (SYNTHETIC)", fi="Kaupunkipyörä"),
                        "rider_capacity": 1,
                        "wheel_count": 2,
                        "return_constraint": "any_station",
                        "default_pricing_plan_id": PLAN_ID,
                        "pricing_plan_ids": [PLAN_ID],
                    }
                ]
            },
            now_s=now_s,
            ttl_s=TTL_STATIC_S,
        ),
        "system_pricing_plans": document({"plans": [_plan()]}, now_s=now_s, ttl_s=TTL_STATIC_S),
        "station_information": document(
            {"stations": [_information(s) for s in stations]}, now_s=now_s, ttl_s=TTL_STATIC_S
        ),
        "station_status": document(
            {"stations": _status(stations, rng=rng, now_s=now_s)},
            now_s=now_s,
            ttl_s=TTL_DYNAMIC_S,
        ),
    }
    return {"gbfs": discovery(PROVIDER_ID, files, now_s=now_s), **files}


def _plan() -> dict[str, Any]:
    # Illustrative prices, NOT HSL's tariff (HSL sells day/week/season passes): a pass-free
    # per-trip plan with no unlock fee, the first 30 minutes free, then 1.00 EUR at the
    # start of every further 30 minutes.
    return {
        "plan_id": PLAN_ID,
        "name": text("Per trip (SYNTHETIC, illustrative prices)"),
        "currency": "EUR",
        "price": 0.0,
        "is_taxable": False,
        "description": text(
            "Illustrative prices, not HSL's tariff: first 30 min free, "
            "then 1.00 EUR per started 30 min."
        ),
        "per_min_pricing": [{"start": 30, "rate": 1.0, "interval": 30}],
    }


def _information(s: StationRow) -> dict[str, Any]:
    return {
        "station_id": s.station_id,
        "name": text(s.name_en, fi=s.name_fi, sv=s.name_sv),
        "lat": s.lat,
        "lon": s.lon,
        "address": s.address,
        "capacity": s.capacity,
        "is_virtual_station": False,
        "rental_methods": ["key", "phone"],
        "vehicle_docks_capacity": [{"vehicle_type_ids": [VEHICLE_TYPE_ID], "count": s.capacity}],
    }


def _status(
    stations: list[StationRow], *, rng: np.random.Generator, now_s: int
) -> list[dict[str, Any]]:
    n = len(stations)
    capacity = np.array([s.capacity for s in stations], dtype=np.int64)
    docks_disabled = np.where(rng.random(n) < BROKEN_DOCK_SHARE, rng.integers(1, 3, n), 0)
    docks_disabled = np.minimum(docks_disabled, capacity)
    working = capacity - docks_disabled
    bikes = rng.binomial(working, FILL_RATE)
    mode = rng.random(n)
    bikes = np.where(mode < EMPTY_SHARE, 0, bikes)
    bikes = np.where(mode > 1.0 - FULL_SHARE, working, bikes)
    bikes_disabled = np.where((rng.random(n) < BROKEN_BIKE_SHARE) & (bikes > 0), 1, 0)
    available = bikes - bikes_disabled
    closed = rng.random(n) < CLOSED_SHARE
    reported_ago_s = rng.integers(0, 120, n)
    out: list[dict[str, Any]] = []
    for i, s in enumerate(stations):
        docks_free = int(working[i] - bikes[i])
        out.append(
            {
                "station_id": s.station_id,
                "num_vehicles_available": int(available[i]),
                "vehicle_types_available": [
                    {"vehicle_type_id": VEHICLE_TYPE_ID, "count": int(available[i])}
                ],
                "num_vehicles_disabled": int(bikes_disabled[i]),
                "num_docks_available": docks_free,
                "vehicle_docks_available": [
                    {"vehicle_type_ids": [VEHICLE_TYPE_ID], "count": docks_free}
                ],
                "num_docks_disabled": int(docks_disabled[i]),
                "is_installed": True,
                "is_renting": not bool(closed[i]),
                "is_returning": not bool(closed[i]),
                "last_reported": rfc3339(now_s - int(reported_ago_s[i])),
            }
        )
    return out
