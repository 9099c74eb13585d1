"""The values service coverage is measured in: zones with residents, and the aggregated
samples of availability history.

Privacy by construction: a sample counts vehicles and docks per zone and vehicle type at
one moment. It holds no position, no vehicle id and no station id, so a rider's trips cannot
be reconstructed from the history however long it is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the years a history period or a replayed day may lie in: samples are epoch seconds, and
#: local days are worked out around each end, so the calendar needs room on both sides
FIRST_YEAR = 1970
LAST_YEAR = 9998

#: walking reach for "a vehicle near you": 5 minutes at the default pace (1.33 m/s)
REACH_S = 300
REACH_M = 400.0


@dataclass(frozen=True, slots=True)
class ServiceZone:
    """A zone residents live in: its id, class ("central" / "peripheral"), population and
    the point its residents are taken to live at (the zone's centroid).
    """

    zone_id: str
    zone_class: str
    population: int
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class ZoneSample:
    """One provider's availability in one zone at one sample time, for one vehicle type.

    `vehicle_type_id` is "" for the zone's station row, which carries the docks and the
    station counts (a station serves every type); vehicle rows carry the vehicle counts.
    """

    provider_id: str
    sampled_at_s: int
    zone_id: str
    vehicle_type_id: str
    #: GBFS form factor of the type ("" on the station row)
    form_factor: str
    #: available vehicles located in the zone
    vehicles: int
    #: available vehicles within a walk of `REACH_M` of the zone: its polygon buffered by
    #: REACH_M / DETOUR_FACTOR straight-line metres (`service_coverage.zones.REACH_STRAIGHT_M`)
    vehicles_in_reach: int
    #: walk from the zone's resident point to the nearest available vehicle of this type,
    #: metres (straight line x the detour factor); None when the provider has none
    nearest_m: float | None
    #: free docks at the zone's stations (station row only, else 0)
    docks_free: int
    #: the zone's stations, and those with no available vehicle, and with no free dock
    stations: int
    stations_empty: int
    stations_full: int
