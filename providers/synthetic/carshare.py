"""`synthetic-carshare-hki`: car sharing with both station-based and free-floating cars.

Density: Helsinki's car-sharing fleets were a few hundred cars city-wide in the early 2020s
(mostly free-floating electric cars plus a few round-trip station operators). For the
~13 km² the embedded network covers, 80 free-floating cars and 8 round-trip stations of
3–6 bays (about 20 cars parked) make ~100 cars: one car per ~0.13 km², so a car is usually
within 300–500 m in the centre, which is what a planner offering "car share" must cope
with and what a load test needs (tens of candidates, not thousands).

Two vehicle types exercise both GBFS return constraints:
- `compact-roundtrip-synthetic`: combustion compact cars that must go back to the station
  they were taken from (`roundtrip_station`); in `vehicle_status` they carry `station_id`
  and `home_station_id` and no coordinates of their own (GBFS 3.0 allows that);
- `ev-freefloating-synthetic`: electric cars parked anywhere on the car network
  (`free_floating`), with a position.
Every car has winter tyres (the embedded service day is in February).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from providers.synthetic._common import (
    CONTACT_EMAIL,
    HELSINKI,
    TTL_DYNAMIC_S,
    TTL_STATIC_S,
    FleetCity,
    Nodes,
    centre_weights,
    discovery,
    document,
    jitter,
    random_ids,
    rfc3339,
    text,
    to_xy,
    weighted_choice,
)

PROVIDER_ID = "synthetic-carshare-hki"
STATION_TYPE_ID = "compact-roundtrip-synthetic"
FREE_TYPE_ID = "ev-freefloating-synthetic"
STATION_PLAN_ID = "roundtrip-hourly"
FREE_PLAN_ID = "freefloating-per-minute"
N_FREE_CARS = 80
N_STATIONS = 8
STATION_SPACING_M = 500.0
STATION_BAYS = (3, 6)
STATION_FILL_RATE = 0.6
COMBUSTION_RANGE_M = 700_000
EV_RANGE_M = 350_000
RESERVED_SHARE = 0.04
DISABLED_SHARE = 0.02
EQUIPMENT = ["winter_tires"]


def provider_id(city: FleetCity = HELSINKI) -> str:
    """The car-share provider's id in `city` (`PROVIDER_ID` in Helsinki)."""
    return f"synthetic-carshare-{city.key}"


def build(
    car_nodes: Nodes,
    *,
    rng: np.random.Generator,
    now_s: int,
    n_free_cars: int = N_FREE_CARS,
    n_stations: int = N_STATIONS,
    city: FleetCity = HELSINKI,
) -> dict[str, dict[str, Any]]:
    """Every GBFS 3.0 file of the car-share provider, cars and stations on car-graph nodes."""
    pid = provider_id(city)
    node_lat, node_lon = (np.asarray(a, dtype=np.float64) for a in car_nodes)
    stations = _stations(node_lat, node_lon, rng=rng, n=n_stations)
    parked = [int(rng.binomial(s["capacity"], STATION_FILL_RATE)) for s in stations]
    station_cars = _station_cars(stations, parked, rng=rng, now_s=now_s)
    free_cars = _free_cars(node_lat, node_lon, rng=rng, now_s=now_s, n=n_free_cars)
    vehicles = station_cars + free_cars
    files: dict[str, dict[str, Any]] = {
        "system_information": document(
            {
                "system_id": pid,
                "languages": ["en"],
                "name": text(f"{city.name} car sharing (SYNTHETIC fleet)"),
                "operator": text("fairtrip SYNTHETIC data (no real operator)"),
                "opening_hours": "24/7",
                "feed_contact_email": CONTACT_EMAIL,
                "timezone": city.timezone,
                "license_id": "ODbL-1.0",
                "attribution_organization_name": text("OpenStreetMap contributors"),
            },
            now_s=now_s,
            ttl_s=TTL_STATIC_S,
        ),
        "vehicle_types": document(
            {"vehicle_types": vehicle_types()}, now_s=now_s, ttl_s=TTL_STATIC_S
        ),
        "system_pricing_plans": document(
            {"plans": _plans(city.currency)}, now_s=now_s, ttl_s=TTL_STATIC_S
        ),
        "station_information": document({"stations": stations}, now_s=now_s, ttl_s=TTL_STATIC_S),
        "station_status": document(
            {"stations": station_status(stations, vehicles, now_s=now_s)},
            now_s=now_s,
            ttl_s=TTL_DYNAMIC_S,
        ),
        "vehicle_status": document({"vehicles": vehicles}, now_s=now_s, ttl_s=TTL_DYNAMIC_S),
    }
    return {"gbfs": discovery(pid, files, now_s=now_s), **files}


def vehicle_types() -> list[dict[str, Any]]:
    """The round-trip combustion type and the free-floating electric type."""
    return [
        {
            "vehicle_type_id": STATION_TYPE_ID,
            "form_factor": "car",
            "propulsion_type": "combustion",
            "name": text("Compact car, round trip (SYNTHETIC)"),
            "max_range_meters": COMBUSTION_RANGE_M,
            "rider_capacity": 5,
            "wheel_count": 4,
            "g_CO2_km": 125,
            "vehicle_accessories": ["manual", "air_conditioning", "doors_5"],
            "return_constraint": "roundtrip_station",
            "default_pricing_plan_id": STATION_PLAN_ID,
            "pricing_plan_ids": [STATION_PLAN_ID],
        },
        {
            "vehicle_type_id": FREE_TYPE_ID,
            "form_factor": "car",
            "propulsion_type": "electric",
            "name": text("Electric car, free floating (SYNTHETIC)"),
            "max_range_meters": EV_RANGE_M,
            "rider_capacity": 4,
            "wheel_count": 4,
            "g_CO2_km": 0,
            "vehicle_accessories": ["automatic", "air_conditioning", "navigation", "doors_4"],
            "return_constraint": "free_floating",
            "default_pricing_plan_id": FREE_PLAN_ID,
            "pricing_plan_ids": [FREE_PLAN_ID],
        },
    ]


def _plans(currency: str = "EUR") -> list[dict[str, Any]]:
    # Illustrative prices, not any operator's tariff. The round-trip plan charges 6.00 at
    # the start of every hour plus 0.19/km; the free-floating plan charges 0.35/min with the
    # first 50 km included, then 0.29/km (in the city's currency: EUR or USD)
    return [
        {
            "plan_id": STATION_PLAN_ID,
            "name": text("Round trip by the hour (SYNTHETIC, illustrative prices)"),
            "currency": currency,
            "price": 0.0,
            "is_taxable": False,
            "description": text(
                f"Illustrative prices: 6.00 {currency} per started hour plus 0.19 {currency} "
                "per km."
            ),
            "per_min_pricing": [{"start": 0, "rate": 6.0, "interval": 60}],
            "per_km_pricing": [{"start": 0, "rate": 0.19, "interval": 1}],
        },
        {
            "plan_id": FREE_PLAN_ID,
            "name": text("Free floating per minute (SYNTHETIC, illustrative prices)"),
            "currency": currency,
            "price": 0.0,
            "is_taxable": False,
            "description": text(
                f"Illustrative prices: 0.35 {currency} per minute, first 50 km included, "
                f"then 0.29 {currency} per km."
            ),
            "per_min_pricing": [{"start": 0, "rate": 0.35, "interval": 1}],
            "per_km_pricing": [{"start": 50, "rate": 0.29, "interval": 1}],
        },
    ]


def _stations(
    node_lat: np.ndarray, node_lon: np.ndarray, *, rng: np.random.Generator, n: int
) -> list[dict[str, Any]]:
    """`n` stations on car nodes, central-weighted and at least 500 m apart where possible.

    Greedy in a random central-weighted order: a tiny test graph that cannot fit `n`
    stations 500 m apart still gets `n` (the remaining ones closer together).
    """
    weights = centre_weights(node_lat, node_lon)
    order = rng.choice(len(node_lat), size=len(node_lat), replace=False, p=weights / weights.sum())
    x, y = to_xy(node_lat[order], node_lon[order])
    chosen: list[int] = []
    for k in range(len(order)):
        if len(chosen) == n:
            break
        if all(np.hypot(x[k] - x[c], y[k] - y[c]) >= STATION_SPACING_M for c in chosen):
            chosen.append(k)
    taken = set(chosen)
    chosen += [k for k in range(len(order)) if k not in taken][: n - len(chosen)]
    bays = rng.integers(STATION_BAYS[0], STATION_BAYS[1] + 1, len(chosen))
    out = []
    for number, (k, cap) in enumerate(zip(chosen, bays, strict=True), start=1):
        node = int(order[k])
        out.append(
            {
                "station_id": f"car-station-{number:02d}",
                "name": text(f"SYNTHETIC car-share station {number}"),
                "lat": round(float(node_lat[node]), 6),
                "lon": round(float(node_lon[node]), 6),
                "capacity": int(cap),
                "is_virtual_station": False,
                "parking_type": "street_parking",
                "is_charging_station": False,
                "rental_methods": ["phone"],
            }
        )
    return out


def _station_cars(
    stations: list[dict[str, Any]], parked: list[int], *, rng: np.random.Generator, now_s: int
) -> list[dict[str, Any]]:
    home = [s["station_id"] for s, k in zip(stations, parked, strict=True) for _ in range(k)]
    return [
        station_car(station_id, vehicle_id=vid, rng=rng, now_s=now_s)
        for station_id, vid in zip(home, random_ids(rng, len(home)), strict=True)
    ]


def station_car(
    station_id: str, *, vehicle_id: str, rng: np.random.Generator, now_s: int
) -> dict[str, Any]:
    """A round-trip car parked at its home station (no coordinates of its own)."""
    fuel = float(np.clip(rng.beta(4.0, 1.5), 0.05, 1.0))
    state = rng.random()
    return {
        "vehicle_id": vehicle_id,
        "station_id": station_id,
        "home_station_id": station_id,
        "is_reserved": bool(state < RESERVED_SHARE),
        "is_disabled": bool(RESERVED_SHARE <= state < RESERVED_SHARE + DISABLED_SHARE),
        "vehicle_type_id": STATION_TYPE_ID,
        "last_reported": rfc3339(now_s - int(rng.integers(0, 300))),
        "current_range_meters": round(fuel * COMBUSTION_RANGE_M),
        "current_fuel_percent": round(fuel, 2),
        "vehicle_equipment": list(EQUIPMENT),
    }


def _free_cars(
    node_lat: np.ndarray, node_lon: np.ndarray, *, rng: np.random.Generator, now_s: int, n: int
) -> list[dict[str, Any]]:
    idx = weighted_choice(rng, centre_weights(node_lat, node_lon), n)
    lat, lon = jitter(rng, node_lat[idx], node_lon[idx])
    soc = np.clip(rng.beta(3.0, 1.5, n), 0.03, 1.0)
    state = rng.random(n)
    ids = random_ids(rng, n)
    ago = rng.integers(0, 300, n)
    return [
        {
            "vehicle_id": ids[i],
            "lat": float(lat[i]),
            "lon": float(lon[i]),
            "is_reserved": bool(state[i] < RESERVED_SHARE),
            "is_disabled": bool(RESERVED_SHARE <= state[i] < RESERVED_SHARE + DISABLED_SHARE),
            "vehicle_type_id": FREE_TYPE_ID,
            "last_reported": rfc3339(now_s - int(ago[i])),
            "current_range_meters": round(float(soc[i]) * EV_RANGE_M),
            "current_fuel_percent": round(float(soc[i]), 2),
            "vehicle_equipment": list(EQUIPMENT),
        }
        for i in range(n)
    ]


def station_status(
    stations: list[dict[str, Any]],
    vehicles: list[dict[str, Any]],
    *,
    now_s: int,
    type_ids: tuple[str, ...] = (STATION_TYPE_ID,),
) -> list[dict[str, Any]]:
    """Station counts derived from the cars in `vehicle_status`, so the two files agree.

    A reserved or disabled car is not available but still fills a bay; the type breakdown
    counts available cars only, so it sums to `num_vehicles_available`.
    """
    out = []
    for s in stations:
        here = [v for v in vehicles if v.get("station_id") == s["station_id"]]
        available = [v for v in here if not v["is_reserved"] and not v["is_disabled"]]
        types = sorted(set(type_ids) | {v["vehicle_type_id"] for v in here})
        out.append(
            {
                "station_id": s["station_id"],
                "num_vehicles_available": len(available),
                "vehicle_types_available": [
                    {
                        "vehicle_type_id": t,
                        "count": sum(v["vehicle_type_id"] == t for v in available),
                    }
                    for t in types
                ],
                "num_vehicles_disabled": sum(v["is_disabled"] for v in here),
                "num_docks_available": max(0, s["capacity"] - len(here)),
                "is_installed": True,
                "is_renting": True,
                "is_returning": True,
                "last_reported": rfc3339(now_s),
            }
        )
    return out
