"""Default CO2 figures per rider-facing mode, and the grams a leg of some length emits.

Figures are grams of CO2-equivalent per passenger-kilometre, life-cycle (vehicle
manufacture, energy production and use, servicing) where the source gives it. A shared
vehicle type that publishes its own GBFS `g_CO2_km` overrides its mode's default (the
feed's figure is per vehicle-km; with one rider that is the same number).

Sources (each figure is rounded; they are illustrative defaults for comparing options, not
an audited footprint, and should be re-checked against the cited tables before being
quoted as exact):

- WALK: 0 (no vehicle; the extra food energy is left out, as the cited studies do for
  walking).
- BICYCLE (the rider's own), BUS, CAR_RENTAL: European Cyclists' Federation (2011),
  Blondel, Mispelon & Ferguson, "Cycle more often 2 cool down the planet! Quantifying CO2
  savings of cycling": life-cycle ~21 g/pkm for a bicycle (manufacture + the rider's extra
  food), ~101 g/pkm for a bus, ~271 g/pkm for a car at average European occupancy. Car
  sharing is given the car figure: most of a car's life-cycle emissions come from driving
  it, and shared cars do not carry more people per trip.
- SCOOTER_RENTAL, BICYCLE_RENTAL: International Transport Forum (2020), "Good to Go?
  Assessing the Environmental Performance of New Mobility" (OECD/ITF): shared e-scooters
  of the first fleet generations ~109 g/pkm (short vehicle life plus van collection for
  charging dominate); docked bike-share ~40 g/pkm (a sturdier bicycle plus stations and
  rebalancing vans, roughly twice a private bicycle).
- TRAM, SUBWAY, RAIL, FERRY: UK government GHG conversion factors for company reporting
  (DESNZ/BEIS 2023, "business travel - land/sea", per passenger-km, including well-to-tank):
  light rail and tram ~29 g, underground ~28 g, national rail ~35 g, ferry foot passenger
  ~19 g. These are operational (energy) figures, not full life-cycle; no comparable
  life-cycle set covers every transit mode. Helsinki's own rail runs on renewable
  electricity contracts, so these are on the high side for it.
- TRANSIT: modes with no figure of their own (trolleybus, funicular, gondola, monorail,
  an unknown route type) are mostly electric traction, so they get the tram figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

#: rider-facing mode -> grams of CO2-equivalent per passenger-km (see the module docstring)
DEFAULT_G_CO2_KM: Final[Mapping[str, float]] = MappingProxyType(
    {
        "WALK": 0.0,
        "BICYCLE": 21.0,
        "BICYCLE_RENTAL": 40.0,
        "SCOOTER_RENTAL": 109.0,
        "CAR_RENTAL": 271.0,
        "BUS": 101.0,
        "TRAM": 29.0,
        "SUBWAY": 28.0,
        "RAIL": 35.0,
        "FERRY": 19.0,
        "TRANSIT": 29.0,
    }
)


def co2_g(mode: str, distance_m: float, g_co2_km: float | None = None) -> int:
    """Whole grams of CO2-equivalent for `distance_m` metres by `mode`.

    Parameters
    ----------
    mode
        a key of `DEFAULT_G_CO2_KM`; only consulted when `g_co2_km` is None.
    distance_m
        metres travelled (>= 0).
    g_co2_km
        the vehicle's own figure (a GBFS feed's `g_CO2_km`), which wins over the default.

    Raises
    ------
    ValueError
        for a negative or non-finite distance, a negative figure, or an unknown mode
        without a figure of its own (a silent 0 would flatter the mode).
    """
    if not (math.isfinite(distance_m) and distance_m >= 0):
        raise ValueError(f"distance_m must be finite and >= 0, got {distance_m}")
    if g_co2_km is None:
        if mode not in DEFAULT_G_CO2_KM:
            raise ValueError(
                f"no default CO2 figure for mode {mode!r}; known: {sorted(DEFAULT_G_CO2_KM)}"
            )
        g_co2_km = DEFAULT_G_CO2_KM[mode]
    if not (math.isfinite(g_co2_km) and g_co2_km >= 0):
        raise ValueError(f"g_co2_km must be finite and >= 0, got {g_co2_km}")
    return round(g_co2_km * distance_m / 1000.0)
