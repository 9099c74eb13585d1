"""The next departures from one stop, as riders read them on a departure board."""

from __future__ import annotations

from typing import Any

from network.compiled import Network
from trips.itinerary import transit_mode


def next_departures(
    net: Network, stop: int, resolved: tuple[str, str, int], *, limit: int, horizon_s: int
) -> dict[str, Any]:
    """Departures from `stop` at or after the resolved time within `horizon_s`, earliest first.

    A departure at the last stop of a trip (where nobody can board) is not listed; a trip
    from the previous service day running past midnight is (the timetable includes it).
    """
    date, key, seconds = resolved  # Network.resolve of the asked time
    tt, trips = net.timetable(key)
    trip_idx, _positions, deps = tt.next_departures(
        stop, seconds, limit=limit, horizon_s=horizon_s
    )
    r, s = net.routes, net.stops
    agencies = net.manifest.get("agencies") or {}
    out = []
    for trip, dep in zip(trip_idx.tolist(), deps.tolist(), strict=True):
        src = int(tt.trip_source[trip])
        route = int(trips.route[src])
        pattern = int(tt.trip_pattern[trip])
        last_stop = int(tt.pattern_stops[int(tt.pattern_stop_ptr[pattern + 1]) - 1])
        shift = int(tt.trip_shift_s[trip])
        out.append(
            {
                "departure": net.at(date, dep).isoformat(),
                "mode": transit_mode(int(r.route_type[route])),
                "route": {
                    "route_id": str(r.route_id[route]),
                    "short_name": str(r.short_name[route]),
                    "long_name": str(r.long_name[route]),
                    "agency_id": str(r.agency_id[route]),
                    "agency_name": (agencies.get(str(r.agency_id[route])) or {}).get("name"),
                },
                "headsign": str(trips.headsign[src]) or str(s.name[last_stop]),
                "trip_id": str(trips.trip_id[src]),
                "trip_start_time": str(trips.start_time[src]) or None,
                "service_date": (net.at(date, shift).date().isoformat() if shift else date),
            }
        )
    return {
        "stop": {
            "stop_id": str(s.stop_id[stop]),
            "name": str(s.name[stop]),
            "lat": round(float(s.lat[stop]), 6),
            "lon": round(float(s.lon[stop]), 6),
        },
        "service_date": date,
        "departures": out,
    }
