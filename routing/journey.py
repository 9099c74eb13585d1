"""Journeys as the routing core returns them: dense indexes and int seconds, no ids or names.

The edge of the system (the CLI, the API) turns these into itineraries with GTFS ids,
names, clock times and geometry.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


@dataclass(frozen=True, slots=True)
class Ride:
    """One trip ridden from `board_pos` to `alight_pos` of its pattern."""

    trip: int
    pattern: int
    board_pos: int
    alight_pos: int
    board_stop: int
    alight_stop: int
    depart_s: int
    arrive_s: int


@dataclass(frozen=True, slots=True)
class Walk:
    """A walk between stops; from_stop -1 is the origin and to_stop -1 the destination."""

    from_stop: int
    to_stop: int
    depart_s: int
    arrive_s: int

    @property
    def duration_s(self) -> int:
        """Seconds spent walking."""
        return self.arrive_s - self.depart_s


class SpotKind(IntEnum):
    """What a street leg starts or ends at."""

    ORIGIN = 0
    DESTINATION = 1
    STOP = 2  # index: stop
    PICKUP = 3  # index: the fleet's pickup (a vehicle, or a station with one to rent)
    DROPOFF = 4  # index: the fleet's drop-off station (docked fleets)
    PARKED = 5  # index: the ride-graph node a free-floating vehicle is left at


@dataclass(frozen=True, slots=True)
class Spot:
    """A place in dense indexes; `fleet` says whose pickup/drop-off/ride graph it is."""

    kind: SpotKind
    index: int = -1
    fleet: int = -1


@dataclass(frozen=True, slots=True)
class StreetWalk:
    """A walk to or from a shared vehicle (its ends need not be stops)."""

    start: Spot
    end: Spot
    depart_s: int
    arrive_s: int

    @property
    def duration_s(self) -> int:
        """Seconds spent walking."""
        return self.arrive_s - self.depart_s


@dataclass(frozen=True, slots=True)
class Rental:
    """A vehicle of fleet `fleet` ridden from pickup `pickup` to `end` (DROPOFF or PARKED).

    `depart_s` is when the rider takes the vehicle (unlock time included in the leg) and
    `arrive_s` when it is returned; `edges` are the ride-graph edges ridden, in order.
    """

    fleet: int
    pickup: int
    end: Spot
    depart_s: int
    arrive_s: int
    distance_m: float
    edges: tuple[int, ...] = ()

    @property
    def duration_s(self) -> int:
        """Seconds the vehicle is rented."""
        return self.arrive_s - self.depart_s


Leg = Ride | Walk | StreetWalk | Rental


@dataclass(frozen=True, slots=True)
class Journey:
    """Origin to destination: walks and rides in order, with the times a rider would keep."""

    legs: tuple[Leg, ...]

    @property
    def depart_s(self) -> int:
        """When the rider leaves the origin."""
        return self.legs[0].depart_s

    @property
    def arrive_s(self) -> int:
        """When the rider reaches the destination."""
        return self.legs[-1].arrive_s

    @property
    def rides(self) -> tuple[Ride, ...]:
        """The transit legs only."""
        return tuple(leg for leg in self.legs if isinstance(leg, Ride))

    @property
    def n_transfers(self) -> int:
        """Vehicle changes: rides minus one (a walk-only journey has none)."""
        return max(len(self.rides) - 1, 0)

    @property
    def rentals(self) -> tuple[Rental, ...]:
        """The shared-vehicle (or own-bike) legs only."""
        return tuple(leg for leg in self.legs if isinstance(leg, Rental))

    @property
    def walk_s(self) -> int:
        """Total seconds on foot."""
        return sum(
            leg.duration_s for leg in self.legs if isinstance(leg, Walk | StreetWalk)
        )

    def summary(self, stop_name: dict[int, str] | None = None) -> str:
        """One line such as ``walk 120s > trip3 S1 08:02 -> S4 08:10 > walk 60s``, for logs."""

        def name(s: int) -> str:
            if stop_name is not None:
                return stop_name.get(s, str(s))
            return str(s)

        def clock(t: int) -> str:
            sign = "-" if t < 0 else ""
            t = abs(t)
            return f"{sign}{t // 3600:02d}:{t % 3600 // 60:02d}"

        parts = []
        for leg in self.legs:
            if isinstance(leg, Walk | StreetWalk):
                parts.append(f"walk {leg.duration_s}s")
            elif isinstance(leg, Rental):
                parts.append(f"rent f{leg.fleet}/{leg.pickup} {leg.duration_s}s")
            else:
                parts.append(
                    f"trip{leg.trip} {name(leg.board_stop)} {clock(leg.depart_s)}"
                    f" -> {name(leg.alight_stop)} {clock(leg.arrive_s)}"
                )
        return " > ".join(parts)
