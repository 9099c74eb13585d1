"""An evaluation of fare policies as one HTML page a city planner can open offline.

`evaluation.evaluate` writes an evaluation document (JSON, shaped by `pricing.evaluation_doc`);
this module turns it into a single self-contained HTML file. Planners open such files from a
shared drive or an e-mail attachment, often on machines without internet access, so the page
fetches nothing: no scripts, no web fonts, no map tiles. Charts are inline SVG drawn by
matplotlib (text kept as text so it stays searchable and sharp), and the zone map is drawn from
the zone polygons in the document itself.

Everything shown is formatted here, in Python, so the template only lays strings out and the
formatting is testable. Policy names and measures come from users: the template autoescapes
them, and matplotlib escapes the text it writes into the SVG.

The input is checked once, at the entry point, with the same model the writer builds
(`pricing.evaluation_doc.EvaluationDoc`): a missing or mistyped key is a `ReportError` naming
its path (`scenarios[2].theil.between_share`), so a change to the evaluation format fails here,
loudly, rather than as a `KeyError` deep inside a chart.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, Final

import jinja2
import matplotlib as mpl
import numpy as np
from matplotlib.artist import Artist
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch

from pricing.charts import Chart, Term, chart_settings, inline_svg, zone_shapes
from pricing.evaluation_doc import EvaluationDoc, EvaluationDocError, parse_evaluation
from pricing.money import currency_exponent
from pricing.names import source_name
from pricing.zones import ZONE_CLASSES

log = logging.getLogger(__name__)

#: at most this many points per Lorenz curve are drawn (the curve is monotone, so sampling it
#: on a fixed grid loses nothing visible and keeps the SVG small whatever the demand size)
LORENZ_POINTS: Final = 101
#: how many zones the "largest increases" table lists per scenario
TOP_INCREASES: Final = 10

_TEMPLATE: Final = "report.html.j2"
#: scenario line/bar colours (colour-blind friendly); the status quo is always dark grey
_STATUS_QUO_COLOUR: Final = "#444444"
_COLOURS: Final = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442")
_CLASS_LINESTYLE: Final[Mapping[str, Any]] = {"central": "-", "peripheral": (0, (4, 2))}
_CLASS_LINEWIDTH: Final[Mapping[str, float]] = {"central": 1.1, "peripheral": 0.6}
_NO_DATA_COLOUR: Final = "#dddddd"
_SUPERSCRIPT: Final = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


class ReportError(EvaluationDocError):
    """The evaluation document cannot be reported: it is malformed, or cannot be written.

    `key` is the path of the offending key (`scenarios[1].gini`; empty for the document as a
    whole), `value` what was found there.
    """


# --------------------------------------------------------------------------- input


def validate_evaluation(evaluation: Mapping[str, Any]) -> EvaluationDoc:
    """Check an evaluation document before reporting it (`pricing.evaluation_doc`).

    Raises
    ------
    ReportError
        The format version is not the one this code reads, a required key is missing or has the
        wrong type (the error's `key` is its path), the currency is unknown, the service date
        is not a date, or a Lorenz curve is malformed.
    """
    try:
        return parse_evaluation(evaluation)
    except EvaluationDocError as exc:
        raise ReportError(str(exc), key=exc.key, value=exc.value) from exc


# --------------------------------------------------------------------------- formatting


def _to_int(value: float) -> int:
    """Round half to even, exactly (via the shortest decimal repr, not the binary float)."""
    return int(Decimal(repr(float(value))).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def format_money(amount_minor: float, currency: str, *, signed: bool = False) -> str:
    """Minor units as a human amount with thousands separators: 123456, "EUR" -> "1,234.56 EUR".

    Averages arrive as float minor units; they are rounded to a whole minor unit for display.
    `signed` puts "+" before a positive amount (for changes). Zero is never "-0.00".
    """
    minor = amount_minor if isinstance(amount_minor, int) else _to_int(amount_minor)
    exponent = currency_exponent(currency)
    whole, part = divmod(abs(minor), 10**exponent)
    text = f"{whole:,}" + (f".{part:0{exponent}d}" if exponent else "")
    sign = "-" if minor < 0 else ("+" if signed and minor > 0 else "")
    return f"{sign}{text} {currency}"


def _per_km(amount_minor: float, currency: str) -> str:
    return f"{format_money(amount_minor, currency)}/km"


def _percent(fraction: float, *, digits: int = 1, signed: bool = False) -> str:
    text = f"{fraction * 100:{'+' if signed else ''}.{digits}f}%"
    return text.replace("+0.00%", "0.00%").replace("-0.00%", "0.00%")


def _scientific(value: float) -> str:
    """1.2e-9 -> "1.2 × 10⁻⁹": readable by people who do not write code."""
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa} × 10{str(int(exponent)).translate(_SUPERSCRIPT)}"


def _count(value: float) -> str:
    return f"{_to_int(value):,}"


def _seconds(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return str(value)
    return f"{value:,.1f} s" if value >= 10 else f"{value:.2f} s"


def _in_order(
    mapping: Mapping[str, Any], order: Sequence[str], *, last: str = ""
) -> list[tuple[str, Any]]:
    """Items with the known keys first, in `order`, then the others as they come, `last` last.

    The evaluation JSON is written with sorted keys, so its own order says nothing.
    """
    rank = {key: i for i, key in enumerate(order)}
    rank[last] = len(order) + 1
    return sorted(mapping.items(), key=lambda kv: rank.get(kv[0], len(order)))


def _solved(solved: Mapping[str, Any] | None, currency: str) -> str:
    if solved is None:
        return "— (not solved)"
    name, value = solved["parameter"], solved["value"]
    iterations = f"{_to_int(solved['iterations'])} iterations"
    if name.endswith("_minor"):
        return f"{name.removesuffix('_minor')} = {format_money(value, currency)}, {iterations}"
    return f"{name} = {value:.4g}, {iterations}"


# --------------------------------------------------------------------------- view model


@dataclass(frozen=True, slots=True)
class _Row:
    """One metric of the summary table: its label, one formatted cell per scenario."""

    label: str
    cells: list[str]
    group: str = ""


@dataclass(slots=True)
class _ClassTally:
    """Trips that get cheaper / dearer / stay the same, for one zone class."""

    label: str
    winners: float = 0.0
    losers: float = 0.0
    unchanged: float = 0.0

    @property
    def total(self) -> float:
        """All trips of the class."""
        return self.winners + self.losers + self.unchanged

    def cells(self) -> list[str]:
        """Each count with its share of the class's trips."""
        total = self.total
        return [
            f"{_count(n)} ({_percent(n / total) if total else 'n/a'})"
            for n in (self.winners, self.losers, self.unchanged)
        ]


@dataclass(frozen=True, slots=True)
class _WinnersLosers:
    """The winners-and-losers section of one non-status-quo scenario."""

    index: int
    name: str
    by_class: list[list[str]]
    increases: list[list[str]]


@dataclass(frozen=True, slots=True)
class _Measures:
    """One scenario's identity and the measures its policy applies."""

    name: str
    policy_id: str
    version: str
    measures: list[str]


@dataclass(slots=True)
class _View:
    """Everything the template shows, already formatted."""

    title: str
    network: list[Term]
    demand: list[Term]
    synthetic: bool
    demand_note: str
    scenario_names: list[str]
    summary: list[_Row]
    terms: list[Term]
    lorenz: Chart
    maps: list[Chart]
    accessibility: Chart
    winners_losers: list[_WinnersLosers]
    timing: list[Term]
    settings: list[Term]
    measures: list[_Measures]
    generated_at: str
    zones_source: str
    currency: str
    access: str


def _summary(evaluation: Mapping[str, Any]) -> tuple[list[_Row], list[Term]]:
    currency = evaluation["settings"]["currency"]
    scenarios = evaluation["scenarios"]
    threshold = evaluation["settings"].get("affordability_threshold")
    has_threshold = isinstance(threshold, (int, float))
    over = f"spending over {_percent(threshold, digits=0)}" if has_threshold else "over threshold"
    no_income = "n/a — no income in demand"

    def cells(fn: Any) -> list[str]:
        return [fn(s) for s in scenarios]

    def money_of(key: str, cls: str) -> Any:
        return lambda s: format_money(s[key][cls], currency)

    def gap(s: Mapping[str, Any]) -> str:
        prices = s["mean_price_minor"]
        return format_money(prices["peripheral"] - prices["central"], currency, signed=True)

    def theil(s: Mapping[str, Any]) -> str:
        t = s["theil"]
        return f"{t['total']:.4f} ({_percent(t['between_share'], digits=0)} between classes)"

    def suits(s: Mapping[str, Any]) -> str:
        return no_income if s["suits"] is None else f"{s['suits']:+.3f}"

    def afford(key: str) -> Any:
        def cell(s: Mapping[str, Any]) -> str:
            a = s["affordability"]
            return no_income if a is None else _percent(a[key])

        return cell

    rows = [
        _Row("Revenue", cells(lambda s: format_money(s["revenue_minor"], currency)), "Revenue"),
        _Row(
            "Revenue change vs status quo",
            cells(lambda s: _percent(s["revenue_change"], digits=2, signed=True)),
        ),
        _Row(
            "Neutrality residual",
            cells(lambda s: "—" if s["solved"] is None else _scientific(s["solved"]["residual"])),
        ),
        _Row("Solved parameter", cells(lambda s: _solved(s["solved"], currency))),
        _Row("Trips", cells(lambda s: _count(s["trips"]))),
        _Row("Mean price, central", cells(money_of("mean_price_minor", "central")), "Prices"),
        _Row("Mean price, peripheral", cells(money_of("mean_price_minor", "peripheral"))),
        _Row("Mean price, all trips", cells(money_of("mean_price_minor", "all"))),
        _Row("Gap (peripheral − central)", cells(gap)),
        _Row(
            "Price per km, central",
            cells(lambda s: _per_km(s["price_per_km_minor"]["central"], currency)),
        ),
        _Row(
            "Price per km, peripheral",
            cells(lambda s: _per_km(s["price_per_km_minor"]["peripheral"], currency)),
        ),
        _Row("Gini", cells(lambda s: f"{s['gini']:.3f}"), "Equity"),
        _Row("Theil (share between classes)", cells(theil)),
        _Row("Suits", cells(suits)),
        _Row("Affordability: mean share of income", cells(afford("mean_share"))),
        _Row(f"Affordability: people {over} of income", cells(afford("share_over_threshold"))),
        _Row(
            "Accessibility, central",
            cells(lambda s: _count(s["accessibility"]["central"])),
            "Access",
        ),
        _Row(
            "Accessibility, peripheral",
            cells(lambda s: _count(s["accessibility"]["peripheral"])),
        ),
    ]
    settings = evaluation["settings"]
    access = _access_condition(settings, currency)
    trips_per_month = settings.get("trips_per_month")
    monthly = f"{trips_per_month} trips a month" if trips_per_month is not None else "a month"
    threshold_text = _percent(threshold, digits=0) if has_threshold else "the threshold"
    terms = [
        Term(
            "Revenue",
            "What the modelled trips pay in total under the scenario. A revenue-neutral policy "
            "keeps it equal to the status quo, so the change should be close to 0%.",
        ),
        Term(
            "Neutrality residual, solved parameter",
            "A revenue-neutral policy has one free number (for example a flat charge) that the "
            "evaluation adjusts until revenue matches the status quo. The residual is how far "
            "from exact the solution stopped; a value like 1 × 10⁻⁹ means 'exact for all "
            "practical purposes'.",
        ),
        Term(
            "Mean price, gap",
            "The average price paid per trip, for trips in central and in peripheral zones. "
            "A positive gap means peripheral trips pay more on average. A policy that aims at "
            "spatial fairness moves the gap towards zero or below.",
        ),
        Term(
            "Price per km",
            "The average price divided by trip length. Peripheral trips are longer, so they "
            "usually pay less per km; a flat fare widens that difference, a distance-based "
            "fare narrows it.",
        ),
        Term(
            "Gini",
            "How unevenly fares are spread over trips: 0 means every trip pays the same, "
            "values towards 1 mean a few trips pay nearly everything. Lower is more even.",
        ),
        Term(
            "Theil",
            "Another measure of unevenness (0 = perfectly even, lower is more even) that splits "
            "into a part between central and peripheral zones and a part within them. The share "
            "between classes says how much of the unevenness is explained by where people "
            "live; lower means location matters less.",
        ),
        Term(
            "Suits",
            "Whether fares take a larger share of income from poorer or richer people: below 0 "
            "the fares are regressive (the poor pay a larger share of their income), above 0 "
            "progressive. Higher is fairer. Needs incomes in the demand data.",
        ),
        Term(
            "Affordability",
            f"What travelling costs as a share of income, for {monthly}: the average share, "
            f"and the share of people who would spend more than {threshold_text} of their "
            "income. Lower is fairer. Needs incomes in the demand data.",
        ),
        Term(
            "Accessibility",
            f"The number of opportunities (such as jobs or services) a resident can reach "
            f"{access}, averaged over the residents of central and of peripheral zones. Higher "
            "is better; a fair policy raises the peripheral value, or at least does not lower "
            "it.",
        ),
    ]
    return rows, terms


def _access_condition(settings: Mapping[str, Any], currency: str) -> str:
    """'within 45 min for at most 3.00 EUR', from the settings that exist."""
    parts = []
    if isinstance(settings.get("access_time_max_min"), (int, float)):
        parts.append(f"within {settings['access_time_max_min']:g} min")
    if isinstance(settings.get("access_price_max_minor"), (int, float)):
        parts.append(f"for at most {format_money(settings['access_price_max_minor'], currency)}")
    return " ".join(parts) or "by the modelled trips"


#: the evaluation's phases in the order they run (then any others, then "total")
_TIMING_ORDER: Final = ("routing", "pricing", "policies", "report")
_SETTING_LABELS: Final[Mapping[str, str]] = {
    "currency": "Currency",
    "access_time_max_min": "Accessibility: longest trip",
    "access_price_max_minor": "Accessibility: highest price",
    "trips_per_month": "Affordability: trips per month",
    "affordability_threshold": "Affordability: threshold share of income",
}


def _setting(key: str, value: Any, currency: str) -> str:
    if value is None:
        return "—"
    if key.endswith("_minor") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_money(value, currency)
    if key.endswith("_min") and isinstance(value, (int, float)):
        return f"{value:g} min"
    if key == "affordability_threshold" and isinstance(value, (int, float)):
        return _percent(value, digits=0)
    if isinstance(value, (Mapping, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def _winners_losers(evaluation: Mapping[str, Any]) -> list[_WinnersLosers]:
    currency = evaluation["settings"]["currency"]
    sections = []
    for index, scenario in enumerate(evaluation["scenarios"]):
        if index == 0:
            continue
        tallies = {cls: _ClassTally(cls) for cls in ZONE_CLASSES}
        everyone = _ClassTally("all")
        for row in scenario["zones"]:
            for tally in (tallies[row["class"]], everyone):
                tally.winners += row["winners"]
                tally.losers += row["losers"]
                tally.unchanged += row["unchanged"]
        dearer = sorted(
            (row for row in scenario["zones"] if row["mean_change_minor"] > 0),
            key=lambda row: (-row["mean_change_minor"], row["zone_id"]),
        )[:TOP_INCREASES]
        sections.append(
            _WinnersLosers(
                index=index,
                name=scenario["name"],
                by_class=[[t.label, *t.cells()] for t in (*tallies.values(), everyone)],
                increases=[
                    [
                        row["zone_id"],
                        row["class"],
                        _count(row["trips"]),
                        format_money(row["mean_price_minor"], currency),
                        format_money(row["mean_change_minor"], currency, signed=True),
                    ]
                    for row in dearer
                ],
            )
        )
    return sections


# --------------------------------------------------------------------------- charts


def _colour(index: int) -> str:
    return _STATUS_QUO_COLOUR if index == 0 else _COLOURS[(index - 1) % len(_COLOURS)]


def _label(name: str, width: int = 40) -> str:
    return textwrap.shorten(name, width=width, placeholder="…")


def _lorenz_chart(evaluation: Mapping[str, Any], synthetic_note: str) -> Chart:
    grid = np.linspace(0.0, 1.0, LORENZ_POINTS)
    with chart_settings("lorenz"):
        fig = Figure(figsize=(5.6, 4.2), layout="constrained")
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], color="#999999", linewidth=0.8, linestyle=":", label="Equality")
        for index, scenario in enumerate(evaluation["scenarios"]):
            xs = np.asarray(scenario["lorenz"]["population_share"], dtype=float)
            ys = np.asarray(scenario["lorenz"]["cost_share"], dtype=float)
            ax.plot(
                grid,
                np.interp(grid, xs, ys),
                color=_colour(index),
                linewidth=1.6 if index else 1.2,
                linestyle="--" if index == 0 else "-",
                label=_label(scenario["name"]),
            )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xlabel("Cumulative share of trips (cheapest first)")
        ax.set_ylabel("Cumulative share of fares paid")
        ax.legend(loc="upper left", frameon=False, fontsize=8)
        svg = inline_svg(fig, "lorenz")
    caption = (
        "Lorenz curves of fares paid, one line per scenario; the dotted diagonal is perfect "
        f"equality.{synthetic_note}"
    )
    return Chart("lorenz", svg, caption)


def _map_charts(evaluation: Mapping[str, Any], synthetic_note: str) -> list[Chart]:
    """One small-multiple panel per non-status-quo scenario, all on the same colour scale."""
    currency = evaluation["settings"]["currency"]
    unit = 10 ** currency_exponent(currency)
    shapes, (min_x, min_y, max_x, max_y) = zone_shapes(evaluation)
    scenarios = evaluation["scenarios"]
    changes = [
        {row["zone_id"]: row["mean_change_minor"] / unit for row in scenario["zones"]}
        for scenario in scenarios
    ]
    # one symmetric scale for every panel, so equal colours mean equal changes across panels
    limit = max((abs(v) for by_zone in changes[1:] for v in by_zone.values()), default=0.0)
    norm = Normalize(vmin=-(limit or 0.01), vmax=limit or 0.01)
    pad_x, pad_y = (max_x - min_x) * 0.03, (max_y - min_y) * 0.03
    # lon/lat degrees: a degree of longitude is cos(latitude) as long as one of latitude
    aspect = 1.0 / max(math.cos(math.radians((min_y + max_y) / 2)), 0.01)
    charts = []
    for index in range(1, len(scenarios)):
        by_zone = changes[index]
        with chart_settings(f"map-{index}"):
            fig = Figure(figsize=(4.4, 4.0), layout="constrained")
            ax = fig.add_subplot()
            cmap = mpl.colormaps["RdYlGn_r"]
            missing = False
            # central outlines last, so their solid line is not broken by a dashed neighbour
            for zone in sorted(shapes, key=lambda z: z.zone_class == "central"):
                change = by_zone.get(zone.zone_id)
                missing = missing or change is None
                ax.add_patch(
                    PathPatch(
                        zone.path,
                        facecolor=_NO_DATA_COLOUR if change is None else cmap(norm(change)),
                        edgecolor="#333333",
                        linewidth=_CLASS_LINEWIDTH[zone.zone_class],
                        linestyle=_CLASS_LINESTYLE[zone.zone_class],
                        gid=f"zone-{zone.zone_id}",
                    )
                )
            ax.set_xlim(min_x - pad_x, max_x + pad_x)
            ax.set_ylim(min_y - pad_y, max_y + pad_y)
            ax.set_aspect(aspect)
            ax.set_axis_off()
            ax.set_title(_label(scenarios[index]["name"], 48), fontsize=9)
            colourbar = fig.colorbar(
                mpl.cm.ScalarMappable(norm=norm, cmap=cmap),
                ax=ax,
                orientation="horizontal",
                shrink=0.8,
                aspect=30,
            )
            colourbar.set_label(f"Mean price change per trip ({currency}); green = cheaper")
            handles: list[Artist] = [
                Line2D([], [], color="#333333", linewidth=1.0, linestyle=_CLASS_LINESTYLE[c])
                for c in ZONE_CLASSES
            ]
            labels = [f"{c} zone" for c in ZONE_CLASSES]
            if missing:
                handles.append(Patch(facecolor=_NO_DATA_COLOUR, edgecolor="#333333"))
                labels.append("no trips")
            fig.legend(
                handles,
                labels,
                loc="outside lower center",
                ncols=len(handles),
                fontsize=7,
                frameon=False,
            )
            svg = inline_svg(fig, f"map-{index}")
        caption = (
            f"Change in mean price per trip by zone, {scenarios[index]['name']} compared with "
            f"the status quo.{synthetic_note}"
        )
        charts.append(Chart("map", svg, caption, scenario=index))
    return charts


def _accessibility_chart(evaluation: Mapping[str, Any], synthetic_note: str) -> Chart:
    scenarios = evaluation["scenarios"]
    groups = (*ZONE_CLASSES, "all")
    width = 0.8 / len(scenarios)
    with chart_settings("accessibility"):
        fig = Figure(figsize=(6.0, 3.4), layout="constrained")
        ax = fig.add_subplot()
        for index, scenario in enumerate(scenarios):
            values = [scenario["accessibility"][g] for g in groups]
            positions = np.arange(len(groups)) - 0.4 + width * (index + 0.5)
            ax.bar(
                positions,
                values,
                width=width * 0.92,
                color=_colour(index),
                label=_label(scenario["name"]),
            )
        ax.set_xticks(np.arange(len(groups)), [f"{g} zones" for g in groups])
        ax.set_ylabel("Opportunities reachable")
        ax.yaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=2, frameon=False, fontsize=8
        )
        svg = inline_svg(fig, "accessibility")
    caption = (
        "Accessibility by zone class, one bar per scenario (the first, grey, is the status "
        f"quo).{synthetic_note}"
    )
    return Chart("accessibility", svg, caption)


# --------------------------------------------------------------------------- entry points


@functools.cache
def _environment() -> jinja2.Environment:
    """The template environment, built on first use (not at import) and then reused."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("pricing", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _header(evaluation: Mapping[str, Any]) -> tuple[list[Term], list[Term]]:
    network = evaluation["network"]
    day = dt.date.fromisoformat(network["service_date"])  # checked by `validate_evaluation`
    when = (
        f"{day:%A} {day.day} {day:%B %Y}, departing {network['depart_local']} "
        f"({network['timezone']})"
    )
    demand = evaluation["demand"]
    demand_terms = [Term("Source", source_name(demand["source"]))]
    if isinstance(demand.get("pairs"), (int, float)):
        demand_terms.append(Term("Origin–destination pairs", _count(demand["pairs"])))
    if isinstance(demand.get("trips"), (int, float)):
        demand_terms.append(Term("Trips", _count(demand["trips"])))
    demand_terms.append(
        Term("Incomes", "included" if demand.get("has_income") else "not included")
    )
    if isinstance(demand.get("matrix_pairs"), int):
        by_reason = demand.get("matrix_unreachable_by_reason") or {}
        why = ", ".join(f"{code} {_count(n)}" for code, n in sorted(by_reason.items()))
        demand_terms.append(
            Term(
                "Routed point pairs without a way to travel",
                f"{_count(demand.get('matrix_unreachable', 0))} of "
                f"{_count(demand['matrix_pairs'])}" + (f" ({why})" if why else ""),
            )
        )
    return [Term("Network", network["name"]), Term("Trips modelled", when)], demand_terms


def render_report(evaluation: Mapping[str, Any]) -> str:
    """The evaluation as one self-contained HTML page (it fetches nothing when opened).

    Raises
    ------
    ReportError
        The document is not a valid evaluation (see `validate_evaluation`).
    """
    validate_evaluation(evaluation)
    currency = evaluation["settings"]["currency"]
    synthetic = evaluation["demand"]["synthetic"]
    synthetic_note = " Synthetic demand." if synthetic else ""
    network_terms, demand_terms = _header(evaluation)
    summary, terms = _summary(evaluation)
    scenarios = evaluation["scenarios"]
    view = _View(
        title=f"Fare policy evaluation — {evaluation['network']['name']}",
        network=network_terms,
        demand=demand_terms,
        synthetic=synthetic,
        demand_note=str(evaluation["demand"].get("note") or ""),
        scenario_names=[s["name"] for s in scenarios],
        summary=summary,
        terms=terms,
        lorenz=_lorenz_chart(evaluation, synthetic_note),
        maps=_map_charts(evaluation, synthetic_note),
        accessibility=_accessibility_chart(evaluation, synthetic_note),
        winners_losers=_winners_losers(evaluation),
        timing=[
            Term(k, _seconds(v))
            for k, v in _in_order(evaluation["timing_s"], _TIMING_ORDER, last="total")
        ],
        settings=[
            Term(_SETTING_LABELS.get(k, k), _setting(k, v, currency))
            for k, v in _in_order(evaluation["settings"], tuple(_SETTING_LABELS))
        ],
        measures=[
            _Measures(
                name=s["name"],
                policy_id=s["policy_id"],
                version=str(s.get("version", "")),
                measures=[str(m) for m in s["measures"]],
            )
            for s in scenarios
        ],
        generated_at=evaluation["generated_at"],
        zones_source=source_name(str(evaluation["zones"].get("source") or "")),
        currency=currency,
        access=_access_condition(evaluation["settings"], currency),
    )
    return _environment().get_template(_TEMPLATE).render(view=view)


def write_report(evaluation: Mapping[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write `evaluation.json` (pretty, sorted keys) and `report.html` into `out_dir`.

    The page is rendered before anything is written, so an invalid evaluation leaves the
    directory as it was. Returns the two paths (JSON, HTML).

    Raises
    ------
    ReportError
        The document is not a valid evaluation, or holds NaN/Infinity (which JSON cannot carry).
    """
    html = render_report(evaluation)
    try:
        document = json.dumps(
            evaluation, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False
        )
    except ValueError as exc:
        raise ReportError(
            f"evaluation cannot be written as JSON: {exc}", key="", value=None
        ) from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "evaluation.json", out_dir / "report.html"
    json_path.write_text(document + "\n", encoding="utf-8")
    html_path.write_text(html, encoding="utf-8")
    log.info("evaluation report written to %s", html_path)
    return json_path, html_path
