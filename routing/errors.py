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
