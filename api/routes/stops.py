"""`/stops`: stops near a point, and the next departures from one stop."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.errors import ApiError
from api.examples import DEPARTURES, STOPS, responses
from api.schemas import (
    DeparturesQuery,
    DeparturesResponse,
    StopsQuery,
    StopsResponse,
    parse_near,
)
from api.state import StateDep
from trips.departures import next_departures

router = APIRouter(tags=["stops"])


@router.get("/stops", response_model=StopsResponse, responses=responses(STOPS, 422))
def stops_near(q: Annotated[StopsQuery, Query()], state: StateDep) -> dict[str, Any]:
    """Stops within `radius` metres of `near`, nearest first."""
    lat, lon = parse_near(q.near)
    s = state.network.stops
    found = state.stops.near(lat, lon, q.radius, limit=q.limit)
    return {
        "stops": [
            {
                "stop_id": str(s.stop_id[n.stop]),
                "name": str(s.name[n.stop]),
                "lat": round(float(s.lat[n.stop]), 6),
                "lon": round(float(s.lon[n.stop]), 6),
                "zone_id": str(s.zone_id[n.stop]) or None,
                "distance_m": round(n.distance_m, 1),
            }
            for n in found
        ]
    }


@router.get(
    "/stops/{stop_id}/departures",
    response_model=DeparturesResponse,
    responses=responses(DEPARTURES, 404, 422),
)
def departures(
    stop_id: Annotated[str, Path(max_length=256, description="GTFS stop_id", examples=["1040408"])],
    q: Annotated[DeparturesQuery, Query()],
    state: StateDep,
) -> dict[str, Any]:
    """The next departures from a stop, from the timetable."""
    stop = state.stops.lookup(stop_id)
    if stop is None:
        raise ApiError(404, "unknown_stop", f"no stop with id {stop_id!r}", field="stop_id")
    when = q.at or dt.datetime.now(state.network.timezone)
    # a date outside the feed is a 422 naming the valid dates
    resolved = state.planning.service.resolve(when)
    return next_departures(
        state.network, stop, resolved, limit=q.limit, horizon_s=q.horizon_min * 60
    )
