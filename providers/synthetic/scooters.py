"""`synthetic-scooters-hki`: free-floating e-scooters parked on the walking network.

Density: Helsinki had on the order of ten thousand shared e-scooters from several operators
in the early 2020s seasons, most of them inside the inner city. The embedded street network
covers about 13 km² of land (the southern peninsula plus Alppila-Vallila). One large
operator with 900 scooters there is ~70 per km² — a scooter within roughly 100–150 m of
most doors in the centre and thinner further out — which is realistic for one operator and
big enough (hundreds of candidate vehicles per query) to load-test the vehicle index.

Battery: 8 % of the fleet is nearly flat (150–1,900 m of range left, the scooters a
planner must not send on a long ride), the rest is spread over 2.5–40 km. About 2 % are
reserved and 1.5 % disabled (visible in the feed, not rentable), as operators publish them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from providers.synthetic import geofences
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
    weighted_choice,
)

PROVIDER_ID = "synthetic-scooters-hki"
VEHICLE_TYPE_ID = "escooter-synthetic"
PLAN_ID = "standard"
N_SCOOTERS = 900
MAX_RANGE_M = 40_000
LOW_BATTERY_SHARE = 0.08
LOW_RANGE_M = (150, 1_900)
RESERVED_SHARE = 0.02
DISABLED_SHARE = 0.015


def provider_id(city: FleetCity = HELSINKI) -> str:
    """The scooter provider's id in `city` (`PROVIDER_ID` in Helsinki)."""
    return f"synthetic-scooters-{city.key}"


def build(
    walk_nodes: Nodes,
    *,
    rng: np.random.Generator,
    now_s: int,
    n_scooters: int = N_SCOOTERS,
    city: FleetCity = HELSINKI,
) -> dict[str, dict[str, Any]]:
    """Every GBFS 3.0 file of the scooter provider, scooters on walk-graph nodes.

    Helsinki's operator has geofencing zones on three real places there; elsewhere the
    file carries the global speed rule only (no places were traced for other cities).
    """
    zones = geofences.geofencing_zones(
        [VEHICLE_TYPE_ID], now_s=now_s, places=city is HELSINKI
    )
    pid = provider_id(city)
    files: dict[str, dict[str, Any]] = {
        "system_information": document(
            {
                "system_id": pid,
                "languages": ["en"],
                "name": text(f"{city.name} e-scooters (SYNTHETIC fleet)"),
                "operator": text("fairtrip SYNTHETIC data (no real operator)"),
                "opening_hours": "24/7",
                "feed_contact_email": CONTACT_EMAIL,
                "timezone": city.timezone,
                # positions are OpenStreetMap nodes, hence the ODbL attribution
                "license_id": "ODbL-1.0",
                "attribution_organization_name": text("OpenStreetMap contributors"),
            },
            now_s=now_s,
            ttl_s=TTL_STATIC_S,
        ),
        "vehicle_types": document(
            {"vehicle_types": [vehicle_type()]}, now_s=now_s, ttl_s=TTL_STATIC_S
        ),
        "system_pricing_plans": document(
            {"plans": [_plan(city.currency)]}, now_s=now_s, ttl_s=TTL_STATIC_S
        ),
        "geofencing_zones": zones,
        "vehicle_status": document(
            {"vehicles": _vehicles(walk_nodes, zones, rng=rng, now_s=now_s, n=n_scooters)},
            now_s=now_s,
            ttl_s=TTL_DYNAMIC_S,
        ),
    }
    return {"gbfs": discovery(pid, files, now_s=now_s), **files}


def vehicle_type() -> dict[str, Any]:
    """The one scooter type."""
    return {
        "vehicle_type_id": VEHICLE_TYPE_ID,
        "form_factor": "scooter_standing",
        "propulsion_type": "electric",
        "name": text("E-scooter (SYNTHETIC)"),
        "max_range_meters": MAX_RANGE_M,
        "rider_capacity": 1,
        "wheel_count": 2,
        "max_permitted_speed": geofences.GLOBAL_MAX_SPEED_KPH,
        "return_constraint": "free_floating",
        "default_pricing_plan_id": PLAN_ID,
        "pricing_plan_ids": [PLAN_ID],
    }


def _plan(currency: str = "EUR") -> dict[str, Any]:
    # Illustrative prices in the range Helsinki operators charged, not any operator's tariff;
    # the same numbers in US dollars are in the range US operators charged around 2019
    return {
        "plan_id": PLAN_ID,
        "name": text("Pay as you go (SYNTHETIC, illustrative prices)"),
        "currency": currency,
        "price": 1.0,
        "is_taxable": False,
        "description": text(
            f"Illustrative prices: unlock 1.00 {currency}, then 0.25 {currency} per minute."
        ),
        "per_min_pricing": [{"start": 0, "rate": 0.25, "interval": 1}],
    }


def initial_range_m(rng: np.random.Generator, n: int) -> np.ndarray:
    """Current range per scooter: a nearly flat minority, the rest mostly well charged."""
    low = rng.random(n) < LOW_BATTERY_SHARE
    charged = 2_500 + (MAX_RANGE_M - 2_500) * rng.beta(3.0, 1.6, n)
    flat = rng.uniform(LOW_RANGE_M[0], LOW_RANGE_M[1], n)
    return np.round(np.where(low, flat, charged)).astype(np.int64)


def _vehicles(
    walk_nodes: Nodes,
    zones: dict[str, Any],
    *,
    rng: np.random.Generator,
    now_s: int,
    n: int,
) -> list[dict[str, Any]]:
    node_lat, node_lon = (np.asarray(a, dtype=np.float64) for a in walk_nodes)
    banned = geofences.no_parking_polygons(zones, VEHICLE_TYPE_ID)
    weights = centre_weights(node_lat, node_lon) * geofences.outside(banned, node_lat, node_lon)
    idx = weighted_choice(rng, weights, n)
    lat, lon = place(rng, node_lat[idx], node_lon[idx], banned)
    range_m = initial_range_m(rng, n)
    state = rng.random(n)
    reserved = state < RESERVED_SHARE
    disabled = (state >= RESERVED_SHARE) & (state < RESERVED_SHARE + DISABLED_SHARE)
    reported_ago_s = rng.integers(0, 300, n)
    ids = random_ids(rng, n)
    return [
        {
            "vehicle_id": ids[i],
            "lat": float(lat[i]),
            "lon": float(lon[i]),
            "is_reserved": bool(reserved[i]),
            "is_disabled": bool(disabled[i]),
            "vehicle_type_id": VEHICLE_TYPE_ID,
            "last_reported": rfc3339(now_s - int(reported_ago_s[i])),
            "current_range_meters": int(range_m[i]),
            "current_fuel_percent": round(float(range_m[i]) / MAX_RANGE_M, 2),
        }
        for i in range(n)
    ]


def place(
    rng: np.random.Generator,
    node_lat: np.ndarray,
    node_lon: np.ndarray,
    banned: list[Any],
) -> tuple[np.ndarray, np.ndarray]:
    """Jittered positions for vehicles at these nodes, never jittered into a banned zone.

    A node outside a no-parking zone may lie within the jitter radius of one; such a
    vehicle keeps the node's exact (rounded) position instead.
    """
    lat, lon = jitter(rng, node_lat, node_lon)
    bad = ~geofences.outside(banned, lat, lon)
    lat[bad] = np.round(node_lat[bad], 6)
    lon[bad] = np.round(node_lon[bad], 6)
    return lat, lon
