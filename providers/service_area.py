"""The area a server routes in, as a plain value, and the check of a position against it.

A provider's stations and vehicles are only useful where the router has streets: a station
in another city cannot be walked to, and before this check one such station broke every
plan. So a push is checked against the network's service area at the door (see
`providers.gbfs.snapshot`): items outside are left out with a warning, and a feed with
nothing inside is refused.

The area is the bounding box of the network's walk graph grown by a margin on every side
(`DEFAULT_MARGIN_M`, 2 km: a rider may well walk that far to a vehicle at the network's edge,
and a station just beyond the mapped streets is still in the city). A box rather than a hull
keeps the check a few comparisons per item and the area easy to name in a message; it is a
coarse gate, not a snapping guarantee (the planner still snaps each position).

Pure: no I/O, no app, no network object; the API builds the value from the network's
manifest and passes it to the parser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

#: How far beyond the street network's bounding box a station or vehicle is still accepted.
DEFAULT_MARGIN_M: Final = 2_000.0
#: Metres per degree of latitude (mean; the box is a gate, not a survey).
_M_PER_DEG_LAT: Final = 111_320.0


@dataclass(frozen=True, slots=True)
class ServiceArea:
    """A latitude/longitude box (WGS84 degrees, bounds inclusive) with a name for messages."""

    name: str
    min_lat: float
    min_lon: float
    max_lat: float
    max_lon: float

    def __post_init__(self) -> None:
        values = (self.min_lat, self.min_lon, self.max_lat, self.max_lon)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"service area bounds must be finite, got {values}")
        if not (-90 <= self.min_lat <= self.max_lat <= 90):
            raise ValueError(f"bad latitude bounds {self.min_lat}..{self.max_lat}")
        if not (-180 <= self.min_lon <= self.max_lon <= 180):
            raise ValueError(f"bad longitude bounds {self.min_lon}..{self.max_lon}")

    @classmethod
    def around_bbox(
        cls, name: str, bbox: Sequence[float], *, margin_m: float = DEFAULT_MARGIN_M
    ) -> ServiceArea:
        """The box `bbox` = (min_lon, min_lat, max_lon, max_lat) grown by `margin_m`.

        The longitude margin is measured at the box's latitude farthest from the equator, so
        the margin is at least `margin_m` everywhere in the box.
        """
        if len(bbox) != 4:
            raise ValueError(f"bbox must be (min_lon, min_lat, max_lon, max_lat), got {bbox!r}")
        min_lon, min_lat, max_lon, max_lat = (float(v) for v in bbox)
        if margin_m < 0 or not math.isfinite(margin_m):
            raise ValueError(f"margin_m must be a finite number >= 0, got {margin_m}")
        dlat = margin_m / _M_PER_DEG_LAT
        widest = max(abs(min_lat), abs(max_lat))
        cos_lat = max(math.cos(math.radians(min(widest + dlat, 89.0))), 1e-6)
        dlon = margin_m / (_M_PER_DEG_LAT * cos_lat)
        return cls(
            name=name,
            min_lat=max(-90.0, min_lat - dlat),
            min_lon=max(-180.0, min_lon - dlon),
            max_lat=min(90.0, max_lat + dlat),
            max_lon=min(180.0, max_lon + dlon),
        )

    def contains(self, lat: float, lon: float) -> bool:
        """Whether the position lies in the box (bounds included)."""
        return self.min_lat <= lat <= self.max_lat and self.min_lon <= lon <= self.max_lon

    def describe(self) -> str:
        """The area as a reader can check it: its name and its bounds."""
        return (
            f"{self.name} (lat {self.min_lat:.4f}..{self.max_lat:.4f}, "
            f"lon {self.min_lon:.4f}..{self.max_lon:.4f})"
        )
