"""What the HTML reports share: the matplotlib settings of a chart, a figure inlined as SVG,
zone outlines as paths, and the small view-model values their templates read.

The policy evaluation report (`pricing.report`) and the service coverage report
(`service_coverage.report`) draw their charts the same way, so a chart looks, scales and
stays byte-stable alike in both.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import matplotlib as mpl
import numpy as np
import shapely
from markupsafe import Markup
from matplotlib.figure import Figure
from matplotlib.path import Path as MplPath
from matplotlib.typing import RcKeyType
from shapely.geometry import shape
from shapely.geometry.polygon import orient

log = logging.getLogger(__name__)

#: matplotlib settings for every chart: text stays <text> (searchable, no glyph paths), a short
#: font list (it is written into every text element), ids that do not change between runs
_RC: Final[Mapping[RcKeyType, Any]] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}

#: zone outlines are simplified to this fraction of the map's extent before drawing
MAP_SIMPLIFY_FRACTION: Final = 1 / 1000


@dataclass(frozen=True, slots=True)
class Term:
    """A label and its text: the header facts, the reading guide, settings, timing."""

    term: str
    meaning: str


@dataclass(frozen=True, slots=True)
class Chart:
    """An inline SVG with its kind (the `data-chart` attribute) and caption."""

    kind: str
    svg: Markup
    caption: str
    scenario: int | None = None


@contextmanager
def chart_settings(salt: str) -> Iterator[None]:
    """Matplotlib settings for one chart, scoped: the global rcParams are left untouched."""
    settings: dict[RcKeyType, Any] = {**_RC, "svg.hashsalt": salt}
    with mpl.rc_context(settings):
        yield


_XML_PROLOGUE: Final = re.compile(r"\A.*?(?=<svg\b)", re.DOTALL)
_ID_ATTR: Final = re.compile(r'\bid="([^"]+)"')
_ID_REF: Final = re.compile(r'(href="#|url\(#)([^")]+)')


def inline_svg(fig: Figure, prefix: str) -> Markup:
    """The figure as an SVG element ready to inline in HTML.

    The XML prologue and DOCTYPE are dropped (an HTML document has its own), and every id is
    prefixed: each matplotlib SVG numbers its groups from 1 ("figure_1", "axes_1"), and ids
    must be unique across the several charts of one page.
    """
    buf = io.BytesIO()
    metadata = {"Date": None, "Creator": None, "Format": None, "Type": None}
    fig.savefig(buf, format="svg", metadata=metadata)
    svg = _XML_PROLOGUE.sub("", buf.getvalue().decode("utf-8"), count=1)
    svg = _ID_ATTR.sub(lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = _ID_REF.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", svg)
    # matplotlib's stylesheet applies to the whole page once inlined; it only sets SVG stroke
    # properties, which HTML elements ignore, but one copy per chart is noise
    svg = svg.replace(
        '<style type="text/css">*{stroke-linejoin: round; stroke-linecap: butt}</style>', ""
    )
    svg = svg.replace("<svg ", '<svg role="img" style="stroke-linejoin: round" ', 1)
    # matplotlib escaped every text it wrote (policy names included), so this is safe markup
    return Markup(svg.strip())


def _ring_path(
    rings: Sequence[Sequence[Sequence[float]]],
) -> tuple[list[Any], list[np.uint8]]:
    vertices: list[Any] = []
    codes: list[np.uint8] = []
    for ring in rings:
        points = [(float(p[0]), float(p[1])) for p in ring]
        if len(points) < 3:
            continue
        vertices.extend([*points, points[0]])
        codes.extend([MplPath.MOVETO, *[MplPath.LINETO] * (len(points) - 1), MplPath.CLOSEPOLY])
    return vertices, codes


@dataclass(frozen=True, slots=True)
class ZoneShape:
    """A zone's outline as a matplotlib path (lon/lat), with its id and class."""

    zone_id: str
    zone_class: str
    path: MplPath


def zone_shapes(evaluation: Mapping[str, Any]) -> tuple[list[ZoneShape], tuple[float, ...]]:
    """Every polygon zone as a path, plus the bounds (min lon, min lat, max lon, max lat).

    Outlines are simplified to a fraction of the map's extent (nothing visible is lost at the
    size a panel is drawn) and oriented so holes stay holes under SVG's nonzero fill rule.
    """
    features = evaluation["zones"]["geojson"]["features"]
    geometries = []
    for feature in features:
        geometry = feature["geometry"]
        if geometry["type"] not in {"Polygon", "MultiPolygon"}:
            log.warning(
                "zone %s has a %s geometry; only polygons are drawn",
                feature["properties"]["zone_id"],
                geometry["type"],
            )
            continue
        geometries.append((feature["properties"], shape(geometry)))
    if not geometries:
        return [], (0.0, 0.0, 1.0, 1.0)
    bounds = tuple(shapely.total_bounds([g for _, g in geometries]).tolist())
    tolerance = max(bounds[2] - bounds[0], bounds[3] - bounds[1]) * MAP_SIMPLIFY_FRACTION
    shapes = []
    for properties, geometry in geometries:
        simple = geometry.simplify(tolerance, preserve_topology=True)
        parts = getattr(simple, "geoms", [simple])
        vertices: list[Any] = []
        codes: list[np.uint8] = []
        for polygon in parts:
            oriented = orient(polygon, sign=1.0)
            rings = [oriented.exterior.coords, *(r.coords for r in oriented.interiors)]
            v, c = _ring_path(rings)
            vertices.extend(v)
            codes.extend(c)
        if vertices:
            shapes.append(
                ZoneShape(properties["zone_id"], properties["class"], MplPath(vertices, codes))
            )
    return shapes, bounds


