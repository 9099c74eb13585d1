"""The service report: where the shared vehicles were, hour by hour, and whether providers met
the city's distribution rules, as `service.json` and one offline HTML page.

`build_service_report` reads a period of the aggregated history and computes the service
measures per zone and class (every provider together, as a resident sees them, and each
provider alone) and each rule's compliance for each provider it judges and each local day.
`render_service_report` draws the page; `write_service_report` writes both files.

Which compliance is reported. A rule judges a provider when it names it (or names "all")
and the provider had a vehicle type of the rule's form factors in the period; a provider
the rule names but that had none of those types (a bike operator under a scooter rule) is
listed as not applicable, not judged "incomplete" day after day. A day is judged on the
samples inside the period: a period that cuts a day leaves that day's other hours without
data, and the day incomplete.

The page fetches nothing, like the fare policy report (`pricing.report`), whose SVG helpers
it uses: charts are inline SVG from matplotlib's Figure API, the zone map is drawn from the
zone polygons in the document (no tiles). Everything shown is formatted here, so the
template only lays strings out. Data from SYNTHETIC providers is labelled so wherever it
appears (their ids start with "synthetic-").
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
import matplotlib as mpl
import numpy as np
import numpy.typing as npt
from matplotlib.artist import Artist
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch
from shapely.geometry import mapping

# the page's charts are inlined the way the fare policy report inlines its own: one way to
# turn a matplotlib figure into page-safe SVG, and one way to draw the zone polygons
from pricing.charts import Chart, Term, chart_settings, inline_svg, zone_shapes
from pricing.zones import ZONE_CLASSES
from service_coverage.history import HistoryStore
from service_coverage.measures import HOURS, service_measures
from service_coverage.model import FIRST_YEAR, LAST_YEAR
from service_coverage.queries import Merged, local_day_spans
from service_coverage.rules import Rule, compliance
from service_coverage.service_doc import (
    SERVICE_REPORT_VERSION,
    SYNTHETIC_LABEL,
    ClassMeasures,
    DayComplianceDoc,
    Figures,
    Measures,
    ServiceReportDoc,
    ServiceReportError,
    is_synthetic,
    parse_service_report,
)
from service_coverage.zones import ServiceZones

log = logging.getLogger(__name__)

#: coordinates of the zone outlines written into the document: 6 decimals is ~0.1 m
GEOJSON_DIGITS: Final = 6
#: colour scales end at this percentile of the values drawn (beyond it: the top colour)
COLOUR_PERCENTILE: Final = 95
#: how many zones the "least served" table lists
LEAST_SERVED: Final = 10
#: at most this many (provider, day) lines per rule in a compliance chart (the table has all)
MAX_COMPLIANCE_LINES: Final = 12

_TEMPLATE: Final = "service_report.html.j2"
_CLASS_STYLE: Final[Mapping[str, Mapping[str, Any]]] = {
    "central": {"color": "#0072b2", "linestyle": "-", "linewidth": 1.6},
    "peripheral": {"color": "#d55e00", "linestyle": (0, (4, 2)), "linewidth": 1.6},
}
_COLOURS: Final = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#444444")
_NO_DATA_COLOUR: Final = "#dddddd"
_VERDICT_TEXT: Final[Mapping[str, str]] = {
    "compliant": "met",
    "not_compliant": "NOT met",
    "incomplete": "incomplete data",
}


class EmptyPeriodError(ServiceReportError, LookupError):
    """The history holds no sample in the period: there is nothing to report."""


# --------------------------------------------------------------------------- the document


def check_period(start: dt.datetime, end: dt.datetime) -> tuple[int, int]:
    """[start, end) as epoch seconds, refusing a naive time, a time outside the years the
    history can hold, or an empty period.

    Raises
    ------
    ServiceReportError
        `key` names the offending end ("from" or "to").
    """
    for key, when in (("from", start), ("to", end)):
        if when.tzinfo is None or when.utcoffset() is None:
            raise ServiceReportError(
                f"{key} time {when.isoformat()} has no UTC offset; expected e.g. "
                "2022-02-22T00:00+02:00",
                key=key,
                value=when.isoformat(),
            )
        # local days are worked out around each end: the calendar must have room on both
        # sides (a year-9999 "to" would overflow the day after it)
        if not FIRST_YEAR <= when.year <= LAST_YEAR:
            raise ServiceReportError(
                f"{key} time {when.isoformat()} is outside the years {FIRST_YEAR}..{LAST_YEAR}",
                key=key,
                value=when.isoformat(),
            )
    if end <= start:
        raise ServiceReportError(
            f"the period ends ({end.isoformat()}) before or when it starts "
            f"({start.isoformat()}); expected to after from",
            key="to",
            value=end.isoformat(),
        )
    return math.floor(start.timestamp()), math.ceil(end.timestamp())


def _rounded(value: Any) -> Any:
    """GeoJSON coordinates rounded to `GEOJSON_DIGITS` (nested lists of floats)."""
    if isinstance(value, float):
        return round(value, GEOJSON_DIGITS)
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def zones_geojson(zones: ServiceZones) -> dict[str, Any]:
    """The service zones as GeoJSON for the report's map: id, class and residents per zone,
    the outlines rounded (the population source is kept: it says which figures are
    estimates).
    """
    features = []
    for zone, service in zip(zones.layer.zones, zones.zones, strict=True):
        properties: dict[str, Any] = {
            "zone_id": service.zone_id,
            "class": service.zone_class,
            "population": service.population,
        }
        source = zone.properties.get("population_source")
        if isinstance(source, str):
            properties["population_source"] = source
        geometry = mapping(zone.geometry)
        features.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": geometry["type"],
                    "coordinates": _rounded(geometry["coordinates"]),
                },
                "properties": properties,
            }
        )
    return {"type": "FeatureCollection", "features": features}


def rule_info(rule: Rule) -> dict[str, Any]:
    """What a report or an answer says about the rule it judged by."""
    providers = rule.applies_to.providers
    return {
        "id": rule.id,
        "version": rule.version,
        "name": rule.name,
        "describe": rule.describe(),
        "providers": providers if providers == "all" else list(providers),
        "form_factors": sorted(rule.applies_to.form_factor_set()),
        "zone_class": rule.zone_class,
        "min_share": rule.min_share,
        "window": [rule.window.start, rule.window.end],
        "aggregate": rule.aggregate,
    }


@dataclass
class _ProviderPass:
    """What one provider's pass over the period gathered."""

    merged: Merged
    #: GBFS form factors of its vehicle types in the period
    form_factors: set[str]
    #: rule id -> its compliance on each day (for the rules that name the provider)
    days: dict[str, list[dict[str, Any]]]


def _provider_pass(
    store: HistoryStore,
    provider_id: str,
    spans: Sequence[tuple[dt.date, int, int]],
    rules: Sequence[Rule],
    zones: ServiceZones,
    tz: dt.tzinfo,
    everyone: Merged,
) -> _ProviderPass:
    """Read one provider's period a day at a time: merge its rows (alone, and into
    `everyone`), note its vehicle types and judge each day by every rule that names it.
    """
    mine = Merged()
    forms: set[str] = set()
    named = [r for r in rules if r.applies_to.covers_provider(provider_id)]
    days: dict[str, list[dict[str, Any]]] = {r.id: [] for r in named}
    for day, from_s, to_s in spans:
        rows = store.samples(from_s=from_s, to_s=to_s, provider_id=provider_id)
        mine.add(rows)
        everyone.add(rows)
        forms.update(s.form_factor for s in rows if s.vehicle_type_id)
        for rule in named:
            judged = compliance(rule, rows, zones, provider_id=provider_id, day=day, tz=tz)
            days[rule.id].append(judged.to_json())
    return _ProviderPass(mine, forms, days)


def _rule_reports(
    rules: Sequence[Rule], passes: Mapping[str, _ProviderPass]
) -> list[dict[str, Any]]:
    """Each rule's compliance for each provider it judges (module docstring), day by day."""
    out = []
    for rule in rules:
        wanted = rule.applies_to.form_factor_set()
        named = [p for p in passes if rule.applies_to.covers_provider(p)]
        judged = [p for p in named if passes[p].form_factors & wanted]
        out.append(
            {
                "rule": rule_info(rule),
                "compliance": [day for p in judged for day in passes[p].days[rule.id]],
                "not_applicable": [p for p in named if p not in judged],
            }
        )
    return out


def _measures(
    merged: Merged, zones: ServiceZones, tz: dt.tzinfo, provider_id: str | None
) -> dict[str, Any]:
    """The measures of merged rows, labelled with the provider they are of (None: all)."""
    doc = service_measures(merged.rows, zones, tz=tz).to_json()
    doc["provider_id"] = provider_id
    return doc


def build_service_report(
    store: HistoryStore,
    zones: ServiceZones,
    rules: Sequence[Rule],
    *,
    start: dt.datetime,
    end: dt.datetime,
    tz: dt.tzinfo,
) -> dict[str, Any]:
    """The service report document of the period [start, end) (module docstring).

    Hours of day and days are local to `tz` (the network's time zone). The history is read
    one provider and one day at a time and merged as it is read
    (`service_coverage.queries`), so a long period does not sit in memory row by row. The
    document is checked against its format (`service_coverage.service_doc`) before it is
    returned.

    Raises
    ------
    ServiceReportError
        A naive time, or `end` not after `start`.
    EmptyPeriodError
        The history holds no sample in the period.
    service_coverage.errors.HistoryStoreError
        The history cannot be read.
    """
    from_s, to_s = check_period(start, end)
    spans = local_day_spans(from_s, to_s, tz)
    everyone = Merged()
    passes = {
        p: _provider_pass(store, p, spans, rules, zones, tz, everyone) for p in store.providers()
    }
    passes = {p: found for p, found in passes.items() if found.merged.providers}
    if not passes:
        raise EmptyPeriodError(
            f"the availability history holds no sample between {start.isoformat()} and "
            f"{end.isoformat()}",
            key="from",
            value=start.isoformat(),
        )
    providers = sorted(passes)
    log.info("service report: %d providers, %d days", len(providers), len(spans))
    doc: dict[str, Any] = {
        "fairtrip_service_report": SERVICE_REPORT_VERSION,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "period": {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "timezone": str(tz),
            "days": [day.isoformat() for day, _, _ in spans],
        },
        "synthetic": any(is_synthetic(p) for p in providers),
        "providers": [provider_info(p) for p in providers],
        "zones": {"source": zones.source, "geojson": zones_geojson(zones)},
        "measures": {
            "all": _measures(everyone, zones, tz, None),
            "by_provider": {p: _measures(passes[p].merged, zones, tz, p) for p in providers},
        },
        "rules": _rule_reports(rules, passes),
    }
    parse_service_report(doc)  # the writer is held to the format it promises
    return doc


def provider_info(provider_id: str) -> dict[str, Any]:
    """A provider as reports and answers name it: SYNTHETIC when its data is made up."""
    synthetic = is_synthetic(provider_id)
    return {
        "provider_id": provider_id,
        "synthetic": synthetic,
        "label": SYNTHETIC_LABEL if synthetic else None,
    }


# --------------------------------------------------------------------------- formatting


def _share(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def _walk(value: float | None) -> str:
    return "— (none)" if value is None else f"{value:,.0f} m"


def _per_1000(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _hour_ranges(hours: Sequence[str]) -> str:
    """["07:00", "08:00", "10:00"] -> "07:00–09:00, 10:00–11:00" (end exclusive)."""
    if not hours:
        return "—"
    numbers = sorted(int(h[:2]) for h in hours)
    spans: list[list[int]] = []
    for h in numbers:
        if spans and spans[-1][1] == h:
            spans[-1][1] = h + 1
        else:
            spans.append([h, h + 1])
    return ", ".join(f"{a:02d}:00–{b:02d}:00" for a, b in spans)


def _local(epoch_s: int | None, tz: dt.tzinfo) -> str:
    if epoch_s is None:
        return "—"
    return dt.datetime.fromtimestamp(epoch_s, tz).strftime("%a %d %b %Y %H:%M")


def _provider_name(provider_id: str) -> str:
    return f"{provider_id} ({SYNTHETIC_LABEL})" if is_synthetic(provider_id) else provider_id


# --------------------------------------------------------------------------- view model


@dataclass(frozen=True, slots=True)
class _ComplianceRow:
    """One (rule, provider, day) line of the compliance table."""

    provider: str
    day: str
    value: str
    verdict: str
    verdict_code: str
    failed: str
    without_data: str


@dataclass(frozen=True, slots=True)
class _RuleView:
    """One rule: its sentence, its rows, its chart and who it did not apply to."""

    rule_id: str
    title: str
    describe: str
    rows: list[_ComplianceRow]
    not_applicable: list[str]
    chart: Chart | None


@dataclass(slots=True)
class _View:
    """Everything the template shows, already formatted."""

    title: str
    timezone: str
    facts: list[Term]
    synthetic: bool
    synthetic_providers: list[str]
    estimated_zones: str
    summary_header: list[str]
    summary: list[list[str]]
    least_served: list[list[str]]
    maps: list[Chart]
    heatmaps: list[Chart]
    lines: list[Chart]
    rules: list[_RuleView]
    terms: list[Term]
    generated_at: str


_SUMMARY_COLUMNS: Final[tuple[tuple[str, Callable[[Figures], str]], ...]] = (
    ("Vehicles in reach per 1,000 residents", lambda f: _per_1000(f.vehicles_per_1000)),
    ("Residents with a vehicle within 5 min", lambda f: _share(f.reach_share)),
    ("Median walk to the nearest vehicle", lambda f: _walk(f.median_walk_m)),
    ("Residents with no vehicle at all", lambda f: _share(f.no_vehicle_share)),
    ("Docked stations empty", lambda f: _share(f.empty_share)),
    ("Docked stations full", lambda f: _share(f.full_share)),
)


def _summary(doc: ServiceReportDoc) -> list[list[str]]:
    rows = []
    sets = [("All providers", doc.measures.all)] + [
        (_provider_name(p), m) for p, m in doc.measures.by_provider.items()
    ]
    for name, measures in sets:
        for cls in ZONE_CLASSES:
            figures = measures.classes[cls].period if cls in measures.classes else None
            if figures is None:
                continue
            rows.append([name, cls, *(fmt(figures) for _, fmt in _SUMMARY_COLUMNS)])
    return rows


def _least_served(measures: Measures) -> list[list[str]]:
    """The zones with residents whose residents least often had a vehicle within reach."""
    with_people = [
        z for z in measures.zones.values() if z.population > 0 and z.period.reach_share is not None
    ]
    worst = sorted(
        with_people,
        key=lambda z: (z.period.reach_share or 0.0, z.period.vehicles_per_1000 or 0.0, z.zone_id),
    )[:LEAST_SERVED]
    return [
        [
            z.zone_id,
            z.zone_class,
            f"{z.population:,}",
            _per_1000(z.period.vehicles_per_1000),
            _share(z.period.reach_share),
            _walk(z.period.median_walk_m),
        ]
        for z in worst
    ]


def _facts(doc: ServiceReportDoc, tz: dt.tzinfo) -> list[Term]:
    period = doc.period
    start = dt.datetime.fromisoformat(period.from_).astimezone(tz)
    end = dt.datetime.fromisoformat(period.to).astimezone(tz)
    everyone = doc.measures.all
    classes = everyone.classes
    zones_text = ", ".join(
        f"{classes[c].zones} {c} ({classes[c].population:,} residents)"
        for c in ZONE_CLASSES
        if c in classes
    )
    return [
        Term(
            "Period",
            f"{start:%a %d %b %Y %H:%M} – {end:%a %d %b %Y %H:%M} ({period.timezone})",
        ),
        Term(
            "Samples",
            f"{everyone.samples:,} sample times, from {_local(everyone.first_s, tz)} "
            f"to {_local(everyone.last_s, tz)}",
        ),
        Term("Providers", ", ".join(_provider_name(p.provider_id) for p in doc.providers)),
        Term("Zones", f"{zones_text}; from {doc.zones.source or 'an unnamed layer'}"),
        Term("Within reach", f"a walk of at most {everyone.reach_m:g} m (5 minutes)"),
    ]


def _estimated_zones(doc: ServiceReportDoc) -> str:
    """'70 of 162 zones' whose population is a SYNTHETIC estimate ('' when none is)."""
    features = doc.zones.geojson.features
    estimated = 0
    for feature in features:
        source = (feature.properties.model_extra or {}).get("population_source")
        if isinstance(source, str) and "synthetic" in source.lower():
            estimated += 1
    return f"{estimated} of {len(features)} zones" if estimated else ""


_TERMS: Final = (
    Term(
        "Vehicles in reach per 1,000 residents",
        "Available vehicles within a 5-minute walk of a zone, per 1,000 of its residents, "
        "averaged over the sample times. A vehicle near two zones counts for both, since it "
        "serves both. Higher is better.",
    ),
    Term(
        "Residents with a vehicle within 5 min",
        "The share of residents, over time, whose nearest available vehicle is at most a "
        "5-minute walk (400 m) from where they live. Higher is better.",
    ),
    Term(
        "Median walk to the nearest vehicle",
        "Half of the residents, over time, walk at most this far to the nearest available "
        "vehicle. Shorter is better; '— (none)' when at least half had no vehicle at all.",
    ),
    Term(
        "Docked stations empty / full",
        "Of the docked stations and sample times, the share where no vehicle could be rented "
        "(empty) or none returned (full). Lower is better.",
    ),
    Term(
        "Where residents live",
        "Each zone's residents are taken to live at one point (its centroid); a walk is the "
        "straight line times 1.3. The zones are small, so this moves nobody far.",
    ),
    Term(
        "Privacy",
        "The history keeps only counts per zone and vehicle type every few minutes: no "
        "position, no vehicle or station id. Nobody's trips can be reconstructed from it.",
    ),
)


# --------------------------------------------------------------------------- charts


def _masked(values: Iterable[float | None]) -> npt.NDArray[np.float64]:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class _Panel:
    """A measure drawn on the map and the heat map: its name, label, value, colours."""

    name: str
    label: str
    value_of: Callable[[Figures], float | None]
    cmap: str
    #: a percentage (its scale is 0-100) rather than a count (scaled by `_colour_top`)
    percent: bool


_PANELS: Final = (
    _Panel(
        "vehicles",
        "Vehicles within reach per 1,000 residents",
        lambda f: f.vehicles_per_1000,
        "viridis",
        percent=False,
    ),
    _Panel(
        "reach",
        "Residents with a vehicle within 5 minutes (%)",
        lambda f: None if f.reach_share is None else f.reach_share * 100,
        "cividis",
        percent=True,
    ),
)


def _colour_top(
    panel: _Panel, values: npt.NDArray[np.float64], residents: npt.NDArray[np.float64]
) -> tuple[float, Literal["neither", "max"]]:
    """The top of a colour scale from 0 (and whether values go beyond it: "max").

    A percentage ends at 100. A count ends where `COLOUR_PERCENTILE` % of the residents (x
    time) have a lower value: a zone with a handful of residents has thousands of vehicles
    per 1,000 of them and would otherwise wash every other zone out.
    """
    if panel.percent:
        return 100.0, "neither"
    ok = np.isfinite(values) & (residents > 0)
    if not ok.any() or float(values[ok].max()) <= 0:
        return 1.0, "neither"
    order = np.argsort(values[ok])
    cum = np.cumsum(residents[ok][order])
    k = int(np.searchsorted(cum, cum[-1] * COLOUR_PERCENTILE / 100.0))
    top = float(values[ok][order][min(k, order.size - 1)])
    highest = float(values[ok].max())
    top = top if top > 0 else highest
    return top, "max" if highest > top else "neither"


def _map_charts(doc: ServiceReportDoc) -> list[Chart]:
    """Two maps of the whole period, all providers: vehicles per 1,000 and reach share."""
    raw = doc.model_dump(by_alias=True)
    shapes, (min_x, min_y, max_x, max_y) = zone_shapes(raw)
    zones = doc.measures.all.zones
    pad_x, pad_y = (max_x - min_x) * 0.03, (max_y - min_y) * 0.03
    aspect = 1.0 / max(math.cos(math.radians((min_y + max_y) / 2)), 0.01)
    charts = []
    for panel in _PANELS:
        kind = f"map-{panel.name}"
        values = {
            zid: panel.value_of(z.period) if z.population > 0 else None for zid, z in zones.items()
        }
        residents = np.array([float(z.population) for z in zones.values()])
        top, extend = _colour_top(panel, _masked(values.values()), residents)
        norm = Normalize(vmin=0.0, vmax=top)
        cmap = mpl.colormaps[panel.cmap]
        with chart_settings(kind):
            fig = Figure(figsize=(5.2, 4.6), layout="constrained")
            ax = fig.add_subplot()
            for shape in sorted(shapes, key=lambda s: s.zone_class == "central"):
                value = values.get(shape.zone_id)
                ax.add_patch(
                    PathPatch(
                        shape.path,
                        facecolor=_NO_DATA_COLOUR if value is None else cmap(norm(value)),
                        edgecolor="#333333",
                        linewidth=1.0 if shape.zone_class == "central" else 0.5,
                        linestyle="-" if shape.zone_class == "central" else (0, (4, 2)),
                        gid=f"zone-{shape.zone_id}",
                    )
                )
            ax.set_xlim(min_x - pad_x, max_x + pad_x)
            ax.set_ylim(min_y - pad_y, max_y + pad_y)
            ax.set_aspect(aspect)
            ax.set_axis_off()
            bar = fig.colorbar(
                mpl.cm.ScalarMappable(norm=norm, cmap=cmap),
                ax=ax,
                orientation="horizontal",
                shrink=0.8,
                aspect=30,
                extend=extend,
            )
            bar.set_label(panel.label)
            handles: list[Artist] = [
                Line2D([], [], color="#333333", linewidth=1.0, linestyle="-"),
                Line2D([], [], color="#333333", linewidth=0.5, linestyle=(0, (4, 2))),
                Patch(facecolor=_NO_DATA_COLOUR, edgecolor="#333333"),
            ]
            fig.legend(
                handles,
                ["central zone", "peripheral zone", "no residents / no data"],
                loc="outside lower center",
                ncols=3,
                fontsize=7,
                frameon=False,
            )
            svg = inline_svg(fig, kind)
        charts.append(
            Chart(kind, svg, f"{panel.label}, whole period, all providers, by zone.{_note(doc)}")
        )
    return charts


def _note(doc: ServiceReportDoc) -> str:
    return f" Includes {SYNTHETIC_LABEL} data." if doc.synthetic else ""


def _zone_order(measures: Measures) -> tuple[list[str], list[tuple[str, int, int]]]:
    """Zone ids grouped by class (central first), each group by id; and each class's span
    of rows (class, first row, rows).
    """
    order: list[str] = []
    groups = []
    for cls in ZONE_CLASSES:
        ids = sorted(z.zone_id for z in measures.zones.values() if z.zone_class == cls)
        if ids:
            groups.append((cls, len(order), len(ids)))
            order.extend(ids)
    return order, groups


def _heatmap_charts(doc: ServiceReportDoc) -> list[Chart]:
    """Hour (x) by zone (y, grouped by class) for vehicles per 1,000 and the reach share."""
    measures = doc.measures.all
    order, groups = _zone_order(measures)
    height = min(max(2.8, 0.03 * len(order) + 1.6), 9.0)
    charts = []
    residents = np.array([float(measures.zones[zid].population) for zid in order])
    for panel in _PANELS:
        kind, label = f"heatmap-{panel.name}", panel.label
        grid = (
            np.vstack(
                [_masked(panel.value_of(h) for h in measures.zones[zid].hours) for zid in order]
            )
            if order
            else np.full((1, HOURS), np.nan)
        )
        weights = np.broadcast_to(residents[:, None], grid.shape) if order else np.ones_like(grid)
        cmap = mpl.colormaps[panel.cmap].with_extremes(bad=_NO_DATA_COLOUR)
        top, extend = _colour_top(panel, grid.ravel(), np.ravel(weights))
        with chart_settings(kind):
            fig = Figure(figsize=(6.4, height), layout="constrained")
            ax = fig.add_subplot()
            image = ax.imshow(
                np.ma.masked_invalid(grid),
                aspect="auto",
                interpolation="nearest",
                cmap=cmap,
                vmin=0.0,
                vmax=top,
                extent=(-0.5, HOURS - 0.5, len(order) - 0.5, -0.5),
            )
            for cls, first, rows in groups:
                if first:
                    ax.axhline(first - 0.5, color="#ffffff", linewidth=2.0)
                ax.text(
                    -0.9,
                    first + rows / 2 - 0.5,
                    f"{cls}\n({rows} zones)",
                    ha="right",
                    va="center",
                    fontsize=8,
                )
            ax.set_yticks([])
            ax.set_xticks(range(0, HOURS, 3), [f"{h:02d}:00" for h in range(0, HOURS, 3)])
            ax.set_xlabel("Local hour of day")
            ax.spines[["left", "bottom"]].set_visible(False)
            bar = fig.colorbar(image, ax=ax, shrink=0.8, aspect=30, extend=extend)
            bar.set_label(label)
            svg = inline_svg(fig, kind)
        charts.append(
            Chart(
                kind,
                svg,
                f"{label}, by local hour (columns) and zone (rows, central zones above "
                f"peripheral ones), all providers; grey: no residents or no samples."
                f"{_note(doc)}",
            )
        )
    return charts


_LINE_PANELS: Final[tuple[tuple[str, Callable[[Figures], float | None]], ...]] = (
    ("Vehicles in reach per 1,000 residents", lambda f: f.vehicles_per_1000),
    (
        "Residents with a vehicle within 5 min (%)",
        lambda f: None if f.reach_share is None else f.reach_share * 100,
    ),
    ("Median walk to the nearest vehicle (m)", lambda f: f.median_walk_m),
    (
        "Docked stations empty (%)",
        lambda f: None if f.empty_share is None else f.empty_share * 100,
    ),
)


def _class_lines(ax: Any, classes: Mapping[str, ClassMeasures], value_of: Any) -> None:
    hours = np.arange(HOURS)
    for cls in ZONE_CLASSES:
        if cls in classes:
            ax.plot(
                hours,
                _masked(value_of(h) for h in classes[cls].hours),
                label=cls,
                **_CLASS_STYLE[cls],
            )
    ax.set_xlim(0, HOURS - 1)
    ax.set_xticks(range(0, HOURS, 6), [f"{h:02d}" for h in range(0, HOURS, 6)])
    ax.set_ylim(bottom=0)


def _line_charts(doc: ServiceReportDoc) -> list[Chart]:
    """Central vs peripheral by hour: four measures for all providers, then vehicles per
    1,000 for each provider alone.
    """
    charts = []
    with chart_settings("lines-all"):
        fig = Figure(figsize=(7.2, 5.0), layout="constrained")
        axes = fig.subplots(2, 2).ravel()
        for ax, (title, value_of) in zip(axes, _LINE_PANELS, strict=True):
            _class_lines(ax, doc.measures.all.classes, value_of)
            ax.set_title(title, fontsize=9)
        axes[0].legend(frameon=False, fontsize=8)
        fig.supxlabel("Local hour of day", fontsize=9)
        svg = inline_svg(fig, "lines-all")
    charts.append(
        Chart(
            "lines",
            svg,
            "Central (solid) and peripheral (dashed) zones by local hour, all providers; a "
            f"gap is an hour without samples or without stations.{_note(doc)}",
        )
    )
    providers = list(doc.measures.by_provider.items())
    if providers:
        cols = min(3, len(providers))
        rows = math.ceil(len(providers) / cols)
        with chart_settings("lines-providers"):
            fig = Figure(figsize=(2.6 * cols + 0.6, 2.3 * rows + 0.6), layout="constrained")
            axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False).ravel())
            for ax, (pid, measures) in zip(axes, providers, strict=False):
                _class_lines(ax, measures.classes, _LINE_PANELS[0][1])
                ax.set_title(_provider_name(pid), fontsize=8)
            for ax in axes[len(providers) :]:
                ax.set_axis_off()
            axes[0].legend(frameon=False, fontsize=7)
            fig.supxlabel("Local hour of day", fontsize=9)
            fig.supylabel("Vehicles in reach per 1,000 residents", fontsize=9)
            svg = inline_svg(fig, "lines-providers")
        charts.append(
            Chart(
                "lines-providers",
                svg,
                "Vehicles within reach per 1,000 residents by local hour, each provider "
                f"alone: central (solid) and peripheral (dashed).{_note(doc)}",
            )
        )
    return charts


def _compliance_chart(
    index: int, rule_id: str, min_share: float, days: Sequence[DayComplianceDoc]
) -> Chart | None:
    """Each (provider, day)'s hourly share against the rule's minimum."""
    if not days:
        return None
    kind = f"compliance-{index}"
    shown = list(days)[:MAX_COMPLIANCE_LINES]
    with chart_settings(kind):
        fig = Figure(figsize=(6.4, 3.4), layout="constrained")
        ax = fig.add_subplot()
        for i, day in enumerate(shown):
            hours = [int(h.hour[:2]) for h in day.hours]
            shares = _masked(None if h.share is None else h.share * 100 for h in day.hours)
            ax.plot(
                hours,
                shares,
                marker="o",
                markersize=3,
                color=_COLOURS[i % len(_COLOURS)],
                label=f"{day.provider_id} {day.day}",
            )
        ax.axhline(min_share * 100, color="#b00020", linewidth=1.0, linestyle=":")
        ax.text(
            0.0,
            min_share * 100,
            " minimum",
            color="#b00020",
            fontsize=7,
            va="bottom",
            transform=ax.get_yaxis_transform(),
        )
        ax.set_ylim(0, 100)
        ticks = sorted({int(h.hour[:2]) for day in shown for h in day.hours})[::2]
        ax.set_xticks(ticks, [f"{h:02d}:00" for h in ticks])
        ax.set_xlabel("Local hour of day (the hour starting then)")
        ax.set_ylabel("Share in the rule's zones (%)")
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, frameon=False, fontsize=7
        )
        svg = inline_svg(fig, kind)
    more = len(days) - len(shown)
    extra = f" The first {len(shown)} of {len(days)} provider-days are drawn." if more else ""
    return Chart(
        "compliance",
        svg,
        f"Hourly share of each provider's vehicles, rule {rule_id}; the "
        f"dotted line is the rule's minimum.{extra}",
    )


def _rule_views(doc: ServiceReportDoc) -> list[_RuleView]:
    views = []
    for index, report in enumerate(doc.rules):
        rule = report.rule
        rows = [
            _ComplianceRow(
                provider=_provider_name(day.provider_id),
                day=day.day,
                value=_share(day.value, 1),
                verdict=_VERDICT_TEXT[day.verdict],
                verdict_code=day.verdict,
                failed=_hour_ranges(day.failed_hours),
                without_data=_hour_ranges(day.hours_without_data),
            )
            for day in report.compliance
        ]
        views.append(
            _RuleView(
                rule_id=rule.id,
                title=f"{rule.name} ({rule.id} v{rule.version})",
                describe=f"{rule.describe[:1].upper()}{rule.describe[1:]}.",
                rows=rows,
                not_applicable=[_provider_name(p) for p in report.not_applicable],
                chart=_compliance_chart(index, rule.id, rule.min_share, report.compliance),
            )
        )
    return views


# --------------------------------------------------------------------------- entry points


@functools.cache
def _environment() -> jinja2.Environment:
    """The template environment, built on first use (not at import) and then reused."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("service_coverage", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _zone_info(name: str) -> dt.tzinfo:
    """The report's time zone by name (UTC when this machine does not know it)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("time zone %r unknown here; the report shows times in UTC", name)
        return dt.UTC


def render_service_report(doc: Mapping[str, Any]) -> str:
    """The service report as one self-contained HTML page (it fetches nothing when opened).

    Raises
    ------
    ServiceReportError
        The document is not a valid service report (`service_coverage.service_doc`).
    """
    report = parse_service_report(doc)
    tz = _zone_info(report.period.timezone)
    view = _View(
        title="Shared vehicle service coverage",
        timezone=report.period.timezone,
        facts=_facts(report, tz),
        synthetic=report.synthetic,
        synthetic_providers=[p.provider_id for p in report.providers if p.synthetic],
        estimated_zones=_estimated_zones(report),
        summary_header=["Providers", "Zones", *(name for name, _ in _SUMMARY_COLUMNS)],
        summary=_summary(report),
        least_served=_least_served(report.measures.all),
        maps=_map_charts(report),
        heatmaps=_heatmap_charts(report),
        lines=_line_charts(report),
        rules=_rule_views(report),
        terms=list(_TERMS),
        generated_at=report.generated_at,
    )
    return _environment().get_template(_TEMPLATE).render(view=view)


def write_service_report(doc: Mapping[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write `service.json` (pretty, sorted keys) and `report.html` into `out_dir`.

    The page is rendered before anything is written, so an invalid document leaves the
    directory as it was. Returns the two paths (JSON, HTML).

    Raises
    ------
    ServiceReportError
        The document is not a valid service report, or cannot be written as JSON.
    """
    html = render_service_report(doc)
    try:
        text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise ServiceReportError(
            f"service report cannot be written as JSON: {exc}", key=""
        ) from exc
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        json_path, html_path = out_dir / "service.json", out_dir / "report.html"
        json_path.write_text(text + "\n", encoding="utf-8")
        html_path.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise ServiceReportError(
            f"cannot write the service report into {out_dir}: {exc.strerror}", key=""
        ) from exc
    log.info("service report written to %s", html_path)
    return json_path, html_path
