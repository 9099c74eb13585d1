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

#: a real answer (trimmed: end points of each line, one intermediate stop) to the issue's
#: Hietalahti -> Katajanokka query for a transit-pass holder, with the SYNTHETIC fleets
PLAN = {
    "network": "Helsinki (HSL 2022-02-22, OSM centre + Alppila-Vallila)",
    "service_date": "2022-02-22",
    "reason": "",
    "itineraries": [
        {
            "id": "025d8ea8133fcbd8",
            "start": "2022-02-22T08:01:13+02:00",
            "end": "2022-02-22T08:15:03+02:00",
            "duration_s": 830,
            "walk_distance_m": 236.8,
            "transfers": 0,
            "legs": [
                {
                    "mode": "WALK",
                    "from": {
                        "name": "Origin",
                        "lat": 60.1622,
                        "lon": 24.9296,
                        "stop_id": None,
                        "station_id": None,
                        "vehicle_id": None,
                    },
                    "to": {
                        "name": "Hietalahdentori",
                        "lat": 60.162235,
                        "lon": 24.931177,
                        "stop_id": "1050432",
                        "station_id": None,
                        "vehicle_id": None,
                    },
                    "start": "2022-02-22T08:01:13+02:00",
                    "end": "2022-02-22T08:03:00+02:00",
                    "duration_s": 107,
                    "distance_m": 141.8,
                    "geometry": {
                        "type": "LineString",
                        "coordinates": [[24.9296, 60.1622], [24.931177, 60.162235]],
                    },
                    "price": {
                        "base": {"amount_minor": 0, "currency": "EUR", "text": "0.00 EUR"},
                        "adjustment": {"amount_minor": 0, "currency": "EUR", "text": "0.00 EUR"},
                        "final": {"amount_minor": 0, "currency": "EUR", "text": "0.00 EUR"},
                        "fare_id": None,
                        "reason": "walking is free",
                    },
                    "co2_g": 0,
                },
                {
                    "mode": "TRAM",
                    "from": {
                        "name": "Hietalahdentori",
                        "lat": 60.162235,
                        "lon": 24.931177,
                        "stop_id": "1050432",
                        "station_id": None,
                        "vehicle_id": None,
                    },
                    "to": {
                        "name": "Fredrikinkatu",
                        "lat": 60.16485,
                        "lon": 24.93861,
                        "stop_id": "1040401",
                        "station_id": None,
                        "vehicle_id": None,
                    },
                    "start": "2022-02-22T08:03:00+02:00",
                    "end": "2022-02-22T08:06:00+02:00",
                    "duration_s": 180,
                    "distance_m": 512.2,
                    "route": {
                        "route_id": "1006",
                        "short_name": "6",
                        "long_name": "Eiranranta - Rautatieasema - Sörnäinen (M) - Arabia",
                        "agency_id": "HSL",
                        "agency_name": "Helsingin seudun liikenne",
                    },
                    "trip_id": "1006_20220204_Ti_1_1319",
                    "trip_start_time": "07:59:00",
                    "headsign": "Arabia",
                    "service_date": "2022-02-22",
                    "intermediate_stops": [
                        {
                            "name": "Aleksant. teatteri",
                            "lat": 60.163605,
                            "lon": 24.935072,
                            "stop_id": "1040440",
                            "station_id": None,
                            "vehicle_id": None,
                            "arrival": "2022-02-22T08:05:00+02:00",
                        }
                    ],
                    "geometry": {
                        "type": "LineString",
                        "coordinates": [[24.931177, 60.162235], [24.93861, 60.16485]],
                    },
                    "price": {
                        "base": {"amount_minor": 0, "currency": "EUR", "text": "0.00 EUR"},
                        "adjustment": {"amount_minor": 0, "currency": "EUR", "text": "0.00 EUR"},
                        "final": {"amount_minor": 0, "currency": "EUR", "text": "0.00 EUR"},
                        "fare_id": "transit-pass",
                        "reason": "covered by your transit pass",
                    },
                    "co2_g": 15,
                },
                {
                    "mode": "WALK",
                    "from": {
                        "name": "Fredrikinkatu",
                        "lat": 60.16485,
                        "lon": 24.93861,
                        "stop_id": "1040401",
                        "station_id": None,
                        "vehicle_id": None,
                    },
                    "to": {
                        "name": "E-scooter (SYNTHETIC) 2eab4543b72e211d",
                        "lat": 60.165109,
                        "lon": 24.939474,
                        "stop_id": None,
                        "station_id": None,
                        "vehicle_id": "2eab4543b72e211d",
                    },
                    "start": "2022-02-22T08:06:00+02:00",
                    "end": "2022-02-22T08:06:47+02:00",
                    "duration_s": 47,
                    "distance_m": 61.5,
                    "geometry": {
                        "type": "LineString",
                        "coordinates": [[24.93861, 60.16485], [24.939474, 60.165109]],
                    },
                    "price": {
                        "base": {"amount_minor": 0, "currency": "EUR", "text": "0.00 EUR"},
                        "adjustment": {"amount_minor": 0, "currency": "EUR", "text": "0.00 EUR"},
                        "final": {"amount_minor": 0, "currency": "EUR", "text": "0.00 EUR"},
                        "fare_id": None,
                        "reason": "walking is free",
                    },
                    "co2_g": 0,
                },
                {
                    "mode": "SCOOTER_RENTAL",
                    "from": {
                        "name": "E-scooter (SYNTHETIC) 2eab4543b72e211d",
                        "lat": 60.165109,
                        "lon": 24.939474,
                        "stop_id": None,
                        "station_id": None,
                        "vehicle_id": "2eab4543b72e211d",
                    },
                    "to": {
                        "name": "Parking spot",
                        "lat": 60.167124,
                        "lon": 24.968379,
                        "stop_id": None,
                        "station_id": None,
                        "vehicle_id": None,
                    },
                    "start": "2022-02-22T08:06:47+02:00",
                    "end": "2022-02-22T08:14:37+02:00",
                    "duration_s": 470,
                    "distance_m": 1842.2,
                    "geometry": {
                        "type": "LineString",
                        "coordinates": [[24.939474, 60.165109], [24.968379, 60.167124]],
                    },
                    "price": {
                        "base": {"amount_minor": 300, "currency": "EUR", "text": "3.00 EUR"},
                        "adjustment": {"amount_minor": 0, "currency": "EUR", "text": "0.00 EUR"},
                        "final": {"amount_minor": 300, "currency": "EUR", "text": "3.00 EUR"},
                        "fare_id": "standard",
                        "reason": "unlock 1.00 EUR + 8 min x 0.25 EUR/min",
                    },
                    "rental": {
                        "provider_id": "synthetic-scooters-hki",
                        "provider_name": "Helsinki e-scooters (SYNTHETIC fleet)",
                        "synthetic": True,
                        "vehicle_id": "2eab4543b72e211d",
                        "station_id": None,
                        "dropoff_station_id": None,
                        "vehicle_type": {
                            "id": "escooter-synthetic",
                            "name": "E-scooter (SYNTHETIC)",
                            "form_factor": "scooter_standing",
                            "propulsion": "electric",
                        },
                        "range_start_m": 28345.0,
                        "range_end_m": 26502.8,
                        "rental_start": "2022-02-22T08:06:47+02:00",
                        "rental_end": "2022-02-22T08:14:37+02:00",
                        "pickup_probability": 0.977,
                        "dropoff_probability": None,
                        "rental_uris": None,
                        "pricing_plan_id": "standard",
                    },
                    "co2_g": 201,
                },
                {
                    "mode": "WALK",
                    "from": {
                        "name": "Parking spot",
                        "lat": 60.167124,
                        "lon": 24.968379,
                        "stop_id": None,
                        "station_id": None,
                        "vehicle_id": None,
                    },
                    "to": {
                        "name": "Destination",
                        "lat": 60.167,
                        "lon": 24.968,
                        "stop_id": None,
                        "station_id": None,
                        "vehicle_id": None,
                    },
                    "start": "2022-02-22T08:14:37+02:00",
                    "end": "2022-02-22T08:15:03+02:00",
                    "duration_s": 26,
                    "distance_m": 33.5,
                    "geometry": {
                        "type": "LineString",
                        "coordinates": [[24.968379, 60.167124], [24.968, 60.167]],
                    },
                    "price": {
                        "base": {"amount_minor": 0, "currency": "EUR", "text": "0.00 EUR"},
                        "adjustment": {"amount_minor": 0, "currency": "EUR", "text": "0.00 EUR"},
                        "final": {"amount_minor": 0, "currency": "EUR", "text": "0.00 EUR"},
                        "fare_id": None,
                        "reason": "walking is free",
                    },
                    "co2_g": 0,
                },
            ],
            "price": {
                "base": {"amount_minor": 300, "currency": "EUR", "text": "3.00 EUR"},
                "adjustment": {"amount_minor": 0, "currency": "EUR", "text": "0.00 EUR"},
                "final": {"amount_minor": 300, "currency": "EUR", "text": "3.00 EUR"},
                "reason": "transit pass: rides included; Helsinki e-scooters (SYNTHETIC fleet): "
                "unlock 1.00 EUR + 8 min x 0.25 EUR/min",
                "policy": None,
            },
            "co2_g": 216,
            "labels": [],
            "modes": ["WALK", "TRAM", "SCOOTER_RENTAL"],
        }
    ],
    "choices": {"fastest": None, "cheapest": None, "fewest_transfers": None, "least_walking": None},
    "notes": [
        "Helsinki car sharing (SYNTHETIC fleet) (synthetic-carshare-hki): Compact car, round "
        "trip (SYNTHETIC) must be returned to the station it was taken from (round trip); not "
        "offered for one-way trips"
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
    "reasons": [],
    "store": {"backend": "memory", "ok": True, "providers": 4},
    "providers": [
        {
            "provider_id": "acme-bikes",
            "source": "push",
            "stale": False,
            "age_s": 20,
            "vehicles": 0,
            "stations": 14,
            "planning_error": "station 'k1' num_bikes_available is 20000, expected 0..10000",
        }
    ],
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
    "warnings": [],
    "data_lost": False,
    "lost_at_s": None,
    "poll_error": None,
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
    "warnings": [
        "/station_status/data/stations/3/is_installed: 1 read as true (GBFS 2.0 and later "
        "use true/false)",
        "vehicle 'v17' at 59.950000,10.720000 lies outside the service area of Helsinki "
        "(lat 60.1290..60.2130, lon 24.8560..25.0260); left out",
    ],
}
PROVIDER = {
    "provider_id": "acme-bikes",
    "name": "Acme Bikes",
    "poll_url": None,
    "created_at_s": 1645509600,
}
KEY = {"key_id": "3f9a0c12be47", "secret": "ft_3f9a0c12be47_<43 random characters, shown once>"}
KEYS = {"keys": [{"key_id": "3f9a0c12be47", "created_at_s": 1645509600, "revoked_at_s": None}]}


#: the service endpoints, on a day replayed with `fairtrip service replay --date 2022-02-22`
#: (SYNTHETIC fleets; real HSY populations in the centre); trimmed to two zones and two hours
SERVICE_ZONES: dict[str, Any] = {
    "source": "demand-zones.geojson",
    "zones": [
        {"zone_id": "hsy-0", "class": "central", "population": 389},
        {"zone_id": "est-7-0", "class": "peripheral", "population": 2642},
    ],
}
ZONE_SERVICE: dict[str, Any] = {
    "period": {
        "from": "2022-02-22T00:00:00+02:00",
        "to": "2022-02-23T00:00:00+02:00",
        "timezone": "Europe/Helsinki",
        "days": ["2022-02-22"],
    },
    "provider_id": None,
    "providers": [
        {"provider_id": "synthetic-carshare-hki", "synthetic": True, "label": "SYNTHETIC"},
        {"provider_id": "synthetic-citybikes-hki", "synthetic": True, "label": "SYNTHETIC"},
        {"provider_id": "synthetic-scooters-hki", "synthetic": True, "label": "SYNTHETIC"},
    ],
    "synthetic": True,
    "zone": {
        "zone_id": "est-7-2",
        "class": "peripheral",
        "population": 14722,
        "period": {
            "samples": 288,
            "vehicles_per_1000": 2.302,
            "station_samples": 864,
            "empty_share": 0.0,
            "full_share": 0.0,
            "median_walk_m": 70.0,
            "reach_share": 1.0,
            "no_vehicle_share": 0.0,
        },
        "hours": [
            {
                "samples": 12,
                "vehicles_per_1000": 1.432,
                "station_samples": 36,
                "empty_share": 0.0,
                "full_share": 0.0,
                "median_walk_m": 70.0,
                "reach_share": 1.0,
                "no_vehicle_share": 0.0,
                "hour": 7,
            },
            {
                "samples": 12,
                "vehicles_per_1000": 0.815,
                "station_samples": 36,
                "empty_share": 0.0,
                "full_share": 0.0,
                "median_walk_m": 70.0,
                "reach_share": 1.0,
                "no_vehicle_share": 0.0,
                "hour": 8,
            },
        ],
    },
    "class": {
        "class": "peripheral",
        "zones": 31,
        "population": 159295,
        "period": {
            "samples": 288,
            "vehicles_per_1000": 5.287,
            "station_samples": 14112,
            "empty_share": 0.0072,
            "full_share": 0.0055,
            "median_walk_m": 360.0,
            "reach_share": 0.5571,
            "no_vehicle_share": 0.0,
        },
        "hours": [
            {
                "samples": 12,
                "vehicles_per_1000": 3.348,
                "station_samples": 588,
                "empty_share": 0.0221,
                "full_share": 0.0,
                "median_walk_m": 360.0,
                "reach_share": 0.564,
                "no_vehicle_share": 0.0,
                "hour": 7,
            },
            {
                "samples": 12,
                "vehicles_per_1000": 1.698,
                "station_samples": 588,
                "empty_share": 0.0493,
                "full_share": 0.0,
                "median_walk_m": 360.0,
                "reach_share": 0.5269,
                "no_vehicle_share": 0.0,
                "hour": 8,
            },
        ],
    },
}
COMPLIANCE: dict[str, Any] = {
    "rule": {
        "id": "scooters-peripheral-20",
        "version": 1,
        "name": "Scooters in the periphery, 20 % daily average",
        "describe": "at least 20 % of each provider's available vehicles "
        "(scooter_standing, scooter_seated) in peripheral zones, as a "
        "daily average between 06:00 and 22:00",
        "providers": "all",
        "form_factors": ["scooter_seated", "scooter_standing"],
        "zone_class": "peripheral",
        "min_share": 0.2,
        "window": ["06:00", "22:00"],
        "aggregate": "daily_average",
    },
    "provider": {"provider_id": "synthetic-scooters-hki", "synthetic": True, "label": "SYNTHETIC"},
    "period": {
        "from": "2022-02-22T00:00:00+02:00",
        "to": "2022-02-23T00:00:00+02:00",
        "timezone": "Europe/Helsinki",
        "days": ["2022-02-22"],
    },
    "days": [
        {
            "rule_id": "scooters-peripheral-20",
            "rule_version": 1,
            "provider_id": "synthetic-scooters-hki",
            "day": "2022-02-22",
            "timezone": "Europe/Helsinki",
            "aggregate": "daily_average",
            "zone_class": "peripheral",
            "min_share": 0.2,
            "value": 0.0,
            "verdict": "not_compliant",
            "compliant": False,
            "failed_hours": [
                "06:00",
                "07:00",
                "08:00",
                "09:00",
                "10:00",
                "11:00",
                "12:00",
                "13:00",
                "14:00",
                "15:00",
                "16:00",
                "17:00",
                "18:00",
                "19:00",
                "20:00",
                "21:00",
            ],
            "hours_without_data": [],
            "hours": [
                {"hour": "08:00", "samples": 12, "share": 0.0, "status": "missed"},
                {"hour": "09:00", "samples": 12, "share": 0.0, "status": "missed"},
            ],
        }
    ],
}


#: an evaluation job while it routes the demand (any worker or replica answers it)
EVALUATION_JOB: dict[str, Any] = {
    "job_id": "3f9a1c0d5e7b2a44",
    "policy_id": "city-wide-average",
    "version": 1,
    "compare_with": [],
    "status": "running",
    "stage": "routing",
    "progress": 0.42,
    "error": None,
    "attempts": 1,
    "created_at": "2026-11-22T10:00:00+00:00",
    "finished_at": None,
    "expires_at": None,
    "heartbeat_at": "2026-11-22T10:00:25+00:00",
    "links": {"self": "/evaluations/3f9a1c0d5e7b2a44", "result": None, "report": None},
}
#: the answer to DELETE /evaluations/{job_id} on a running job
EVALUATION_JOB_CANCELLED: dict[str, Any] = {
    **EVALUATION_JOB,
    "status": "cancelled",
    "finished_at": "2026-11-22T10:00:41+00:00",
    "expires_at": "2026-11-29T10:00:41+00:00",
    "heartbeat_at": None,
}


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
