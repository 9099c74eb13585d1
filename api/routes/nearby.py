"""`/vehicles`: the shared vehicles and stations near a point, live from the availability
store (what a rider standing there could rent now).

Only fresh providers are listed (a stale feed is not routed either, so showing it would
promise vehicles the planner will not use). Each item says its provider, whether the fleet
is SYNTHETIC, its vehicle type and mode, and what the feed says of its battery or fuel.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.errors import ApiError
from api.examples import responses
from api.schemas import parse_near
from api.state import StateDep
from providers.errors import StoreUnavailableError
from providers.model import RENTAL_MODE_OF_FORM_FACTOR, FleetSnapshot, VehicleType
from providers.store.base import NearbyStation, NearbyVehicle

router = APIRouter(tags=["providers"])

_EXAMPLE = {
    "vehicles": [
        {
            "provider_id": "synthetic-scooters-hki",
            "provider_name": "SYNTHETIC Helsinki scooters",
            "synthetic": True,
            "vehicle_id": "sc-0042",
            "lat": 60.16874,
            "lon": 24.93101,
            "distance_m": 48.2,
            "mode": "SCOOTER_RENTAL",
            "form_factor": "scooter_standing",
            "propulsion": "electric",
            "vehicle_type": "Scooter",
            "range_m": 18200.0,
            "fuel_percent": 0.61,
        }
    ],
    "stations": [
        {
            "provider_id": "synthetic-citybikes-hki",
            "provider_name": "SYNTHETIC Helsinki city bikes",
            "synthetic": True,
            "station_id": "st-012",
            "name": "Kamppi (M)",
            "lat": 60.16868,
            "lon": 24.93063,
            "distance_m": 66.0,
            "capacity": 30,
            "vehicles_available": 7,
            "docks_available": 23,
        }
    ],
}


class NearbyQuery(BaseModel):
    """`near=LAT,LON&radius=M&limit=N`."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    near: str = Field(description="LAT,LON", examples=["60.1685,24.9316"], max_length=64)
    radius: float = Field(default=500.0, gt=0, le=5000, description="metres")
    limit: int = Field(default=100, ge=1, le=1000, description="most vehicles, and most stations")

    @field_validator("near")
    @classmethod
    def _latlon(cls, value: str) -> str:
        parse_near(value)
        return value


def _type_of(snapshot: FleetSnapshot | None, type_id: str | None) -> VehicleType | None:
    if snapshot is None:
        return None
    if type_id is None:  # a 1.x feed: one implied type
        return snapshot.vehicle_types[0] if len(snapshot.vehicle_types) == 1 else None
    return next((t for t in snapshot.vehicle_types if t.id == type_id), None)


def _provider(snapshot: FleetSnapshot | None, provider_id: str) -> dict[str, Any]:
    return {
        "provider_id": provider_id,
        "provider_name": snapshot.system.name if snapshot is not None else None,
        "synthetic": snapshot is not None and snapshot.source == "synthetic",
    }


def vehicle_item(hit: NearbyVehicle, snapshot: FleetSnapshot | None) -> dict[str, Any]:
    """One vehicle as listed: where, how far, what it is, how much charge it has left."""
    v = hit.vehicle
    vtype = _type_of(snapshot, v.vehicle_type_id)
    return {
        **_provider(snapshot, hit.provider_id),
        "vehicle_id": v.id,
        "lat": v.lat,
        "lon": v.lon,
        "distance_m": round(hit.distance_m, 1),
        "mode": RENTAL_MODE_OF_FORM_FACTOR.get(vtype.form_factor) if vtype else None,
        "form_factor": str(vtype.form_factor) if vtype else None,
        "propulsion": str(vtype.propulsion) if vtype else None,
        "vehicle_type": vtype.name if vtype else None,
        "range_m": v.current_range_m,
        "fuel_percent": v.current_fuel_percent,
    }


def station_item(hit: NearbyStation, snapshot: FleetSnapshot | None) -> dict[str, Any]:
    """One station as listed: where, how far, vehicles to rent and docks to return to."""
    st = hit.station
    status = hit.status
    return {
        **_provider(snapshot, hit.provider_id),
        "station_id": st.id,
        "name": st.name,
        "lat": st.lat,
        "lon": st.lon,
        "distance_m": round(hit.distance_m, 1),
        "capacity": st.capacity,
        "vehicles_available": status.num_vehicles_available if status else None,
        "docks_available": status.num_docks_available if status else None,
    }


@router.get("/vehicles", responses=responses(_EXAMPLE, 422, 503))
def vehicles_near(q: Annotated[NearbyQuery, Query()], state: StateDep) -> dict[str, Any]:
    """Rentable shared vehicles and stations within `radius` metres of `near`, nearest first
    (fresh providers only).
    """
    lat, lon = parse_near(q.near)
    store = state.fleets.store
    now_s = int(time.time())
    try:
        vehicles = store.nearby_vehicles(lat, lon, q.radius, limit=q.limit, now_s=now_s)
        stations = store.nearby_stations(lat, lon, q.radius, limit=q.limit, now_s=now_s)
        providers = {h.provider_id for h in vehicles} | {h.provider_id for h in stations}
        snapshots = {pid: store.snapshot(pid) for pid in providers}
    except StoreUnavailableError as exc:
        raise ApiError(
            503,
            "store_unavailable",
            str(exc),
            headers={"Retry-After": str(max(1, int(exc.retry_after_s)))},
        ) from exc
    return {
        "vehicles": [vehicle_item(h, snapshots[h.provider_id]) for h in vehicles],
        "stations": [station_item(h, snapshots[h.provider_id]) for h in stations],
    }
