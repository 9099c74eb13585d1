"""Response examples for the OpenAPI document (shortened real answers from Helsinki)."""

from __future__ import annotations

from typing import Any

from api.errors import error_responses

_PLACE = {"name": "Kampintori", "stop_id": "1040408", "lat": 60.16795, "lon": 24.93143}
_ROUTE = {
    "route_id": "1009",
    "short_name": "9",
    "long_name": "Länsiterminaali - Rautatieasema - Kallio - Pasilan asema",
    "agency_id": "HSL",
    "agency_name": "Helsingin seudun liikenne",
}

PLAN = {
    "network": "Helsinki (HSL 2022-02-22, OSM centre + Alppila-Vallila)",
    "service_date": "2022-02-22",
    "reason": "",
    "itineraries": [
        {
            "id": "ed84c2b4af2000f4",
            "start": "2022-02-22T08:00:05+02:00",
            "end": "2022-02-22T08:14:07+02:00",
            "duration_s": 842,
            "walk_distance_m": 639.2,
            "transfers": 0,
            "legs": [
                {
                    "mode": "TRAM",
                    "from": _PLACE,
                    "to": {
                        "name": "Kaisaniemenpuisto",
                        "stop_id": "1020459",
                        "lat": 60.17143,
                        "lon": 24.9469,
                    },
                    "start": "2022-02-22T08:01:00+02:00",
                    "end": "2022-02-22T08:07:00+02:00",
                    "duration_s": 360,
                    "distance_m": 1443.0,
                    "route": _ROUTE,
                    "trip_id": "1009_20220204_Ti_1_0740",
                    "trip_start_time": "07:50:00",
                    "headsign": "Pasila as.",
                    "service_date": "2022-02-22",
                    "intermediate_stops": [],
                    "geometry": {
                        "type": "LineString",
                        "coordinates": [[24.93143, 60.16795], [24.9469, 60.17143]],
                    },
                }
            ],
        }
    ],
}
STOPS = {"stops": [{**_PLACE, "stop_id": "1040127", "zone_id": "A", "distance_m": 14.9}]}
DEPARTURES = {
    "stop": _PLACE,
    "service_date": "2022-02-22",
    "departures": [
        {
            "departure": "2022-02-22T08:01:00+02:00",
            "mode": "TRAM",
            "route": _ROUTE,
            "headsign": "Pasila as.",
            "trip_id": "1009_20220204_Ti_1_0740",
            "trip_start_time": "07:50:00",
            "service_date": "2022-02-22",
        }
    ],
}
HEALTH = {"status": "ok"}
READY = {
    "status": "ready",
    "network": {
        "name": "Helsinki (HSL 2022-02-22, OSM centre + Alppila-Vallila)",
        "service_dates": ["2022-02-22"],
        "feed_start_date": "2022-02-04",
        "feed_end_date": "2022-03-20",
        "timezone": "Europe/Helsinki",
        "stops": 1361,
        "bbox": [24.892, 60.147, 24.99, 60.195],
    },
    "store": {},
    "providers": [],
}


_FILE = {
    "name": "vehicle_status",
    "last_updated_s": 1645509600,
    "ttl_s": 60,
    "age_s": 12,
    "content_sha256": "9f2c0e6b1d4a8c3e5f7a9b0c2d4e6f8a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e",
    "received_at_s": 1645509601,
}
PROVIDER_STATUS = {
    "provider_id": "synthetic-scooters-hki",
    "name": "Helsinki e-scooters (SYNTHETIC fleet)",
    "source": "synthetic",
    "gbfs_version": "3.0",
    "age_s": 12,
    "stale": False,
    "vehicles": 900,
    "stations": 0,
    "files": [_FILE],
}
PROVIDERS = {
    "providers": [
        {
            "provider_id": "synthetic-scooters-hki",
            "name": "Helsinki e-scooters (SYNTHETIC fleet)",
            "source": "synthetic",
            "polled": False,
            "stale": False,
            "age_s": 12,
            "vehicles": 900,
            "stations": 0,
        }
    ]
}
PUSH = {
    "provider_id": "acme-bikes",
    "gbfs_version": "3.0",
    "vehicles": 120,
    "stations": 14,
    "files": ["station_information", "station_status", "system_information", "vehicle_status"],
    "received_at_s": 1645509601,
}
PROVIDER = {
    "provider_id": "acme-bikes",
    "name": "Acme Bikes",
    "poll_url": None,
    "created_at_s": 1645509600,
}
KEY = {"key_id": "3f9a0c12be47", "secret": "ft_3f9a0c12be47_<43 random characters, shown once>"}
KEYS = {"keys": [{"key_id": "3f9a0c12be47", "created_at_s": 1645509600, "revoked_at_s": None}]}


def responses(example: dict[str, Any], *errors: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses: a 200 example plus the documented error statuses."""
    return {
        200: {"content": {"application/json": {"example": example}}},
        **error_responses(*errors),
    }


def created(example: dict[str, Any] | None, *errors: int) -> dict[int | str, dict[str, Any]]:
    """Like `responses`, for 201 Created (or 204 No Content when `example` is None)."""
    if example is None:
        return {204: {"description": "Done"}, **error_responses(*errors)}
    return {
        201: {"content": {"application/json": {"example": example}}},
        **error_responses(*errors),
    }
