"""A trip request as the planning service takes it: typed, validated at the edge.

The API (`api.schemas.PlanQuery`) and the command line build one from what people send;
both validate against the same bounds (the CLI builds the API's query model), so a request
means the same thing wherever it comes from.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from routing.planner import (
    DEFAULT_MAX_ACCESS_S,
    DEFAULT_MAX_DIRECT_WALK_S,
    DEFAULT_MAX_EGRESS_S,
    DEFAULT_WALK_SPEED_MPS,
)
from trips.model import DEFAULT_MODES

#: defaults every front end shows and uses
DEFAULT_MAX_ACCESS_MIN = DEFAULT_MAX_ACCESS_S / 60
DEFAULT_MAX_EGRESS_MIN = DEFAULT_MAX_EGRESS_S / 60
DEFAULT_MAX_DIRECT_WALK_MIN = DEFAULT_MAX_DIRECT_WALK_S / 60
DEFAULT_MAX_TRANSFERS = 8
DEFAULT_NUM_ITINERARIES = 5
DEFAULT_MAX_RENTAL_MIN = 30
#: the farthest walk to or from a shared vehicle: a vehicle farther away is not a reason to
#: rent one
MAX_VEHICLE_WALK_M = 1000.0


@dataclass(frozen=True, slots=True)
class TripRequest:
    """From where to where, when, and how the rider is willing to travel."""

    from_lat: float
    from_lon: float
    to_lat: float
    to_lon: float
    #: departure, or with `arrive_by` the latest arrival; aware (has a UTC offset)
    at: dt.datetime
    arrive_by: bool = False
    window_min: int = 0
    max_walk_m: float | None = None
    max_access_min: float = DEFAULT_MAX_ACCESS_MIN
    max_egress_min: float = DEFAULT_MAX_EGRESS_MIN
    max_direct_walk_min: float = DEFAULT_MAX_DIRECT_WALK_MIN
    walk_speed_mps: float = DEFAULT_WALK_SPEED_MPS
    max_transfers: int = DEFAULT_MAX_TRANSFERS
    num_itineraries: int = DEFAULT_NUM_ITINERARIES
    modes: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_MODES.split(",")))
    #: the only providers to use; None: all of them
    providers: frozenset[str] | None = None
    exclude_providers: frozenset[str] = frozenset()
    max_rental_min: int = DEFAULT_MAX_RENTAL_MIN
    transit_pass: bool = False

    def vehicle_walk_m(self) -> float:
        """The farthest walk to or from a shared vehicle: at most `MAX_VEHICLE_WALK_M`, and
        never more than the request's walking limits allow.
        """
        limit_s = min(self.max_access_min, self.max_egress_min) * 60
        cap_m = self.max_walk_m if self.max_walk_m is not None else math.inf
        return min(MAX_VEHICLE_WALK_M, cap_m, limit_s * self.walk_speed_mps)
