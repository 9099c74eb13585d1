"""A shared-vehicle fleet as the routing core sees it: dense arrays, no GBFS ids.

One `RentalFleet` is one (provider, vehicle type) for one query: where a rental can start,
where it may end, and how the vehicle moves on its ride graph (the bike or car street
profile) under the operator's geofencing. The adapter (`trips.fleets`) builds it
from a GBFS snapshot and keeps the ids; everything here is an index or a number.

Positions are given twice: on the walk graph (edge, fraction, offset, so the walk to or from
the vehicle is as exact as any other walk) and as the nearest ride-graph node (the vehicle is
brought onto the ride network there; `*_ride_offset_m` is that straight hop).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from routing.errors import QueryError

I32 = npt.NDArray[np.int32]
F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
B = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class RentalFleet:
    """One fleet class of one query (see the module docstring)."""

    profile: str  # ride graph: "bike" or "car"
    docked: bool  # True: returned at `dropoff_*` stations; False: left at any `node_can_end`
    # pickup -> where a rental can start (free-floating vehicle, or a station with a vehicle)
    pickup_walk_edge: I32
    pickup_walk_fraction: F64
    pickup_walk_offset_m: F64
    pickup_ride_node: I32
    pickup_ride_offset_m: F64
    pickup_range_m: F64  # distance the vehicle can still go; inf when the feed does not say
    # dropoff -> a station that will take the vehicle back (docked fleets; empty otherwise)
    dropoff_walk_edge: I32
    dropoff_walk_fraction: F64
    dropoff_walk_offset_m: F64
    dropoff_ride_node: I32
    dropoff_ride_offset_m: F64
    # ride-graph node -> the ride may end here (geofencing and operating area; free-floating)
    node_can_end: B
    # ride-graph edge -> seconds to ride it (the fleet's speed, zone speed limits applied)
    edge_time_s: F32
    # ride-graph edge -> inside a zone that forbids riding through
    edge_blocked: B
    ride_speed_mps: float  # pace on the straight hops between a point and its ride node
    unlock_s: int  # taking the vehicle (find it, unlock, adjust)
    lock_s: int  # returning it (dock, park, lock, photo)
    range_margin: float = 1.2  # a vehicle's range must cover this times the distance ridden

    def __post_init__(self) -> None:
        # a fleet is shared by every query of a snapshot, so its arrays are frozen; and numba
        # compiles read-only and writable arrays separately, so all fleets being read-only
        # means the kernels compiled at warm-up are the ones every request uses
        for value in vars(self).values():
            if isinstance(value, np.ndarray):
                value.setflags(write=False)

    @property
    def n_pickups(self) -> int:
        """Number of places a rental can start."""
        return len(self.pickup_ride_node)

    @property
    def n_dropoffs(self) -> int:
        """Number of stations that can take a vehicle back (0 for free-floating fleets)."""
        return len(self.dropoff_ride_node)

    def check(self, n_walk_edges: int, n_ride_nodes: int, n_ride_edges: int) -> None:
        """Raise QueryError when the arrays do not fit each other or the graphs."""
        p, d = self.n_pickups, self.n_dropoffs
        lengths: dict[str, tuple[npt.NDArray[np.generic], int]] = {
            "pickup_walk_edge": (self.pickup_walk_edge, p),
            "pickup_walk_fraction": (self.pickup_walk_fraction, p),
            "pickup_walk_offset_m": (self.pickup_walk_offset_m, p),
            "pickup_ride_offset_m": (self.pickup_ride_offset_m, p),
            "pickup_range_m": (self.pickup_range_m, p),
            "dropoff_walk_edge": (self.dropoff_walk_edge, d),
            "dropoff_walk_fraction": (self.dropoff_walk_fraction, d),
            "dropoff_walk_offset_m": (self.dropoff_walk_offset_m, d),
            "dropoff_ride_offset_m": (self.dropoff_ride_offset_m, d),
            "node_can_end": (self.node_can_end, n_ride_nodes),
            "edge_time_s": (self.edge_time_s, n_ride_edges),
            "edge_blocked": (self.edge_blocked, n_ride_edges),
        }
        for name, (array, n) in lengths.items():
            if len(array) != n:
                raise QueryError(f"RentalFleet.{name} has {len(array)} entries, expected {n}")
        for name, nodes in (("pickup", self.pickup_ride_node), ("dropoff", self.dropoff_ride_node)):
            if len(nodes) and (nodes.min() < 0 or nodes.max() >= n_ride_nodes):
                raise QueryError(f"RentalFleet.{name}_ride_node outside 0..{n_ride_nodes - 1}")
        for name, edges in (
            ("pickup", self.pickup_walk_edge),
            ("dropoff", self.dropoff_walk_edge),
        ):
            if len(edges) and (edges.min() < 0 or edges.max() >= n_walk_edges):
                raise QueryError(f"RentalFleet.{name}_walk_edge outside 0..{n_walk_edges - 1}")
        if not self.ride_speed_mps > 0 or self.unlock_s < 0 or self.lock_s < 0:
            raise QueryError("ride_speed_mps must be > 0 and unlock_s, lock_s >= 0")
        if not self.range_margin >= 1.0:
            raise QueryError(f"range_margin must be >= 1, got {self.range_margin}")
