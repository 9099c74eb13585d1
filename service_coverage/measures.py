"""Service measures per zone and per class (central / peripheral), by local hour of day.

Computed from the aggregated history (`service_coverage.history`, one `ZoneSample` per provider,
zone, vehicle type and sample time) and the service zones. What they assume: the residents
of a zone live at one point (its centroid, `service_coverage.zones`), and a walk is the straight
line times `routing.geo.DETOUR_FACTOR` (1.3); "within 5 minutes' walk" is a walk of at most
`REACH_M` (400 m).

Which rows. `provider_id` keeps one provider (None: all providers together, as a resident
sees them); `form_factors` keeps the vehicle rows of those GBFS form factors (None: all),
and the station rows of a provider at a sample time when it has vehicle rows of those form
factors then (the citybike docks count for "bicycle", not for "scooter_standing"). Rows of
zones the given zones do not hold are ignored.

Sample times. A sample time is a distinct `sampled_at_s` among the kept rows; its local
hour (in `tz`, the network's time zone) is the hour of day it counts for. Times when no
kept provider had data are absent, not "no service": the figures are over the sample
times present. At one sample time, a zone's figures add up the kept rows: vehicles in
reach summed over providers and types, the walk to the nearest vehicle the shortest of
theirs (none: no kept provider had any vehicle of the kept types), stations summed.

The figures, over a set of sample times (an hour of day, or the whole period) and a set of
zones (one zone, or the zones of a class):

* ``vehicles_per_1000``: available vehicles within walking reach, per 1,000 residents:
  the mean over the sample times of (sum of the zones' vehicles in reach) / (their
  residents) x 1000. A vehicle within reach of two zones counts for both (it serves both),
  so a class's figure is the population-weighted mean of its zones' figures. None without
  residents.
* ``empty_share`` / ``full_share``: the share of (docked station, sample time) pairs with
  the station empty (no vehicle to rent) / full (no vehicle can be returned); None without
  docked stations. ``station_samples`` is how many pairs that is.
* ``median_walk_m``: the population-weighted median over (zone, sample time) pairs of the
  walk from the zone's residents to the nearest available vehicle: the lower weighted
  median, i.e. the shortest walk such that at least half of the weight walks no farther.
  None when at least half of the weight has no vehicle at all (or there is no data). For
  one zone the weights are equal, so it is the zone's median over time.
* ``reach_share``: the share of residents (x time) with a vehicle within `REACH_M`'s walk
  (nearest walk <= `REACH_M`); for one zone, the share of the time its residents have one.
* ``no_vehicle_share``: the share of residents (x time) for whom the kept providers had no
  available vehicle of the kept types anywhere.

A zone without residents weighs nothing in its class; on its own its walk and reach figures
weigh its sample times equally. Whole-period figures (``period``) are the same definitions
over every sample time.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from service_coverage.model import REACH_M, ZoneSample
from service_coverage.zones import ServiceZones

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

HOURS: Final = 24
ZONE_CLASSES: Final = ("central", "peripheral")


@dataclass(frozen=True, slots=True)
class ServiceFigures:
    """The measures over one set of sample times and zones (module docstring)."""

    #: sample times the figures are over
    samples: int
    vehicles_per_1000: float | None
    #: (docked station, sample time) pairs behind the empty and full shares
    station_samples: int
    empty_share: float | None
    full_share: float | None
    median_walk_m: float | None
    reach_share: float | None
    no_vehicle_share: float | None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values: shares to 4 decimals, per-1000 to 3, walks to the metre."""
        return {
            "samples": self.samples,
            "vehicles_per_1000": _round(self.vehicles_per_1000, 3),
            "station_samples": self.station_samples,
            "empty_share": _round(self.empty_share, 4),
            "full_share": _round(self.full_share, 4),
            "median_walk_m": _round(self.median_walk_m, 0),
            "reach_share": _round(self.reach_share, 4),
            "no_vehicle_share": _round(self.no_vehicle_share, 4),
        }


@dataclass(frozen=True, slots=True)
class ZoneService:
    """One zone's measures: over the whole period and per local hour of day (0..23)."""

    zone_id: str
    zone_class: str
    population: int
    period: ServiceFigures
    #: hour of day -> figures (24 entries; an hour without samples has samples == 0)
    hours: tuple[ServiceFigures, ...]

    def to_json(self) -> dict[str, Any]:
        """Plain dicts and lists."""
        return {
            "zone_id": self.zone_id,
            "class": self.zone_class,
            "population": self.population,
            "period": self.period.to_json(),
            "hours": [{"hour": h, **f.to_json()} for h, f in enumerate(self.hours)],
        }


@dataclass(frozen=True, slots=True)
class ClassService:
    """One class's measures (its zones together, weighted by residents)."""

    zone_class: str
    zones: int
    population: int
    period: ServiceFigures
    hours: tuple[ServiceFigures, ...]

    def to_json(self) -> dict[str, Any]:
        """Plain dicts and lists."""
        return {
            "class": self.zone_class,
            "zones": self.zones,
            "population": self.population,
            "period": self.period.to_json(),
            "hours": [{"hour": h, **f.to_json()} for h, f in enumerate(self.hours)],
        }


@dataclass(frozen=True)
class ServiceMeasures:
    """Measures per zone and per class over the sample times of a history extract."""

    #: the time zone hours of day are read in (its name)
    timezone: str
    provider_id: str | None
    form_factors: tuple[str, ...] | None
    #: first and last sample time (None: no sample)
    first_s: int | None
    last_s: int | None
    #: distinct sample times
    samples: int
    zones: Mapping[str, ZoneService]
    classes: Mapping[str, ClassService]

    def to_json(self) -> dict[str, Any]:
        """Plain dicts and lists, zones in the zones' order."""
        return {
            "timezone": self.timezone,
            "provider_id": self.provider_id,
            "form_factors": list(self.form_factors) if self.form_factors is not None else None,
            "first_s": self.first_s,
            "last_s": self.last_s,
            "samples": self.samples,
            "reach_m": REACH_M,
            "classes": {k: c.to_json() for k, c in self.classes.items()},
            "zones": {k: z.to_json() for k, z in self.zones.items()},
        }


@dataclass(frozen=True)
class _Grid:
    """The kept rows summed per (sample time, zone)."""

    #: sample time -> epoch seconds, and local hour of day
    times_s: I64
    hour: I64
    #: (sample time, zone) -> vehicles in reach, nearest walk (inf: none), stations
    reach: I64
    nearest_m: F64
    stations: I64
    empty: I64
    full: I64
    #: zone -> residents
    population: I64


def service_measures(
    samples: Sequence[ZoneSample],
    zones: ServiceZones,
    *,
    tz: tzinfo,
    form_factors: Collection[str] | None = None,
    provider_id: str | None = None,
) -> ServiceMeasures:
    """Measures per zone and class, by local hour and over the whole period (module
    docstring: which rows, and every definition).
    """
    forms = tuple(sorted(str(f) for f in form_factors)) if form_factors is not None else None
    grid = _grid(samples, zones, tz=tz, form_factors=forms, provider_id=provider_id)
    by_hour = [np.flatnonzero(grid.hour == h) for h in range(HOURS)]
    every = np.arange(grid.times_s.size)
    zone_out: dict[str, ZoneService] = {}
    for z, zone in enumerate(zones.zones):
        idx = np.array([z], dtype=np.int64)
        zone_out[zone.zone_id] = ZoneService(
            zone_id=zone.zone_id,
            zone_class=zone.zone_class,
            population=zone.population,
            period=_figures(grid, every, idx),
            hours=tuple(_figures(grid, m, idx) for m in by_hour),
        )
    class_out: dict[str, ClassService] = {}
    for cls in ZONE_CLASSES:
        idx = zones.class_of(cls)
        class_out[cls] = ClassService(
            zone_class=cls,
            zones=int(idx.size),
            population=int(grid.population[idx].sum()),
            period=_figures(grid, every, idx),
            hours=tuple(_figures(grid, m, idx) for m in by_hour),
        )
    return ServiceMeasures(
        timezone=str(tz),
        provider_id=provider_id,
        form_factors=forms,
        first_s=int(grid.times_s[0]) if grid.times_s.size else None,
        last_s=int(grid.times_s[-1]) if grid.times_s.size else None,
        samples=int(grid.times_s.size),
        zones=MappingProxyType(zone_out),
        classes=MappingProxyType(class_out),
    )


def _kept(
    samples: Sequence[ZoneSample],
    form_factors: tuple[str, ...] | None,
    provider_id: str | None,
) -> list[ZoneSample]:
    """The rows the measures read (module docstring: which rows)."""
    rows = [s for s in samples if provider_id is None or s.provider_id == provider_id]
    if form_factors is None:
        return rows
    wanted = set(form_factors)
    serving = {
        (s.provider_id, s.sampled_at_s)
        for s in rows
        if s.vehicle_type_id and s.form_factor in wanted
    }
    return [
        s
        for s in rows
        if (
            s.form_factor in wanted
            if s.vehicle_type_id
            else (s.provider_id, s.sampled_at_s) in serving
        )
    ]


def _grid(
    samples: Sequence[ZoneSample],
    zones: ServiceZones,
    *,
    tz: tzinfo,
    form_factors: tuple[str, ...] | None,
    provider_id: str | None,
) -> _Grid:
    """Sum the kept rows per (sample time, zone)."""
    rows = _kept(samples, form_factors, provider_id)
    zone_of = {z.zone_id: i for i, z in enumerate(zones.zones)}
    known = [s for s in rows if s.zone_id in zone_of]
    if len(known) < len(rows):
        log.warning(
            "%d history rows name zones %s does not hold; left out",
            len(rows) - len(known),
            zones.source,
        )
    times = np.unique(np.array([s.sampled_at_s for s in known], dtype=np.int64))
    n_t, n_z = times.size, len(zones)
    t_idx = np.searchsorted(times, np.array([s.sampled_at_s for s in known], dtype=np.int64))
    z_idx = np.array([zone_of[s.zone_id] for s in known], dtype=np.int64)
    vehicle = np.array([bool(s.vehicle_type_id) for s in known], dtype=bool)
    reach = np.zeros((n_t, n_z), dtype=np.int64)
    nearest = np.full((n_t, n_z), math.inf)
    counts = np.zeros((3, n_t, n_z), dtype=np.int64)
    if known:
        cell = (t_idx[vehicle], z_idx[vehicle])
        np.add.at(
            reach, cell, [s.vehicles_in_reach for s, v in zip(known, vehicle, strict=True) if v]
        )
        walks = [
            math.inf if s.nearest_m is None else s.nearest_m
            for s, v in zip(known, vehicle, strict=True)
            if v
        ]
        np.minimum.at(nearest, cell, walks)
        st = ~vehicle
        figures = np.array(
            [
                (s.stations, s.stations_empty, s.stations_full)
                for s, v in zip(known, vehicle, strict=True)
                if not v
            ],
            dtype=np.int64,
        ).reshape(-1, 3)
        for k in range(3):
            np.add.at(counts[k], (t_idx[st], z_idx[st]), figures[:, k])
    hours = np.array([datetime.fromtimestamp(int(t), tz).hour for t in times], dtype=np.int64)
    return _Grid(
        times_s=times,
        hour=hours,
        reach=reach,
        nearest_m=nearest,
        stations=counts[0],
        empty=counts[1],
        full=counts[2],
        population=zones.population,
    )


def _figures(grid: _Grid, times: I64, zone_idx: I64) -> ServiceFigures:
    """The figures over sample times `times` and zones `zone_idx` (module docstring)."""
    if times.size == 0 or zone_idx.size == 0:
        return ServiceFigures(int(times.size), None, 0, None, None, None, None, None)
    cells = np.ix_(times, zone_idx)
    pop = grid.population[zone_idx].astype(np.float64)
    residents = float(pop.sum())
    per_1000 = None
    if residents > 0:
        per_1000 = float(grid.reach[cells].sum(axis=1).mean() / residents * 1000.0)
    n_st = int(grid.stations[cells].sum())
    empty = float(grid.empty[cells].sum()) / n_st if n_st else None
    full = float(grid.full[cells].sum()) / n_st if n_st else None
    walks = grid.nearest_m[cells].ravel()
    weights = np.broadcast_to(
        pop if residents > 0 else np.ones_like(pop), (times.size, zone_idx.size)
    ).ravel()
    total = float(weights.sum())
    return ServiceFigures(
        samples=int(times.size),
        vehicles_per_1000=per_1000,
        station_samples=n_st,
        empty_share=empty,
        full_share=full,
        median_walk_m=_weighted_median(walks, weights),
        reach_share=float(weights[walks <= REACH_M].sum()) / total,
        no_vehicle_share=float(weights[np.isinf(walks)].sum()) / total,
    )


def _weighted_median(values: F64, weights: F64) -> float | None:
    """The lower weighted median: the smallest value with at least half the weight at or
    below it; None for no weight, or when that value is infinite (no vehicle).
    """
    total = float(weights.sum())
    if total <= 0:
        return None
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    k = int(np.searchsorted(cum, total / 2.0, side="left"))
    value = float(values[order][min(k, values.size - 1)])
    return value if math.isfinite(value) else None


def _round(value: float | None, digits: int) -> float | None:
    """Round for JSON (None stays None); 0 digits gives a whole float."""
    return None if value is None else round(value, digits)
