"""Typed errors of the routing core.

Each subclasses the builtin it is closest to so callers that only know builtins still
catch it, and each carries the offending value and what was expected.
"""

from __future__ import annotations


class RoutingError(Exception):
    """Base class of every error the routing core raises."""


class OutsideNetworkError(RoutingError, ValueError):
    """A coordinate lies farther from any street than the snapping limit allows."""

    def __init__(
        self,
        lat: float,
        lon: float,
        distance_m: float,
        limit_m: float,
        bbox: tuple[float, float, float, float],
    ) -> None:
        self.lat = lat
        self.lon = lon
        self.distance_m = distance_m
        self.limit_m = limit_m
        self.bbox = bbox
        min_lon, min_lat, max_lon, max_lat = bbox
        super().__init__(
            f"point {lat:.6f},{lon:.6f} is {distance_m:.0f} m from the nearest street "
            f"(limit {limit_m:.0f} m); the network covers lat {min_lat:.4f}..{max_lat:.4f}, "
            f"lon {min_lon:.4f}..{max_lon:.4f}"
        )


class ServiceDateError(RoutingError, ValueError):
    """A query date has no timetable in the compiled network."""

    def __init__(self, date: str, valid_dates: list[str]) -> None:
        self.date = date
        self.valid_dates = valid_dates
        shown = ", ".join(valid_dates[:10]) + (" ..." if len(valid_dates) > 10 else "")
        super().__init__(f"no timetable for {date}; the network has service on: {shown}")


class QueryError(RoutingError, ValueError):
    """A query parameter is out of its valid range."""


class IsolatedPieceError(OutsideNetworkError):
    """A coordinate's only streets within the snapping limit are an isolated piece.

    The point is near streets, but on a piece of the walk graph from which nothing can be
    reached (a pier, an island without a bridge or a served stop, a fragment cut off by the
    extract's edge): a trip from there would find nothing, and saying "no stop within the
    walk limit" would hide why. A subclass of `OutsideNetworkError` because, for a caller, it
    is the same kind of refusal: this point cannot be routed from; move it.
    """

    def __init__(
        self,
        lat: float,
        lon: float,
        piece_distance_m: float,
        place_distance_m: float,
        limit_m: float,
        bbox: tuple[float, float, float, float],
    ) -> None:
        self.piece_distance_m = piece_distance_m
        self.place_distance_m = place_distance_m
        RoutingError.__init__(
            self,
            f"point {lat:.6f},{lon:.6f} is {piece_distance_m:.0f} m from a street piece that "
            f"connects to nothing else (a pier, an island, a cut-off fragment); the nearest "
            f"street a trip can start or end on is {place_distance_m:.0f} m away "
            f"(limit {limit_m:.0f} m)",
        )
        self.lat = lat
        self.lon = lon
        self.distance_m = place_distance_m
        self.limit_m = limit_m
        self.bbox = bbox
