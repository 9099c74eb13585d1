"""The mobility evaluation (cross-mode policies over every mode) as one offline HTML page.

`evaluation.mobility` writes a `mobility.json` (shaped by `pricing.mobility_doc`); this module
reads it back through the same model and renders a single self-contained page, drawn the way
the transit report is (`pricing.charts`: inline SVG, no script, no font, no tile fetched).

The page answers, in order: what the search could and could not reach (before any result,
because on the built-in cities shared vehicles reach no peripheral zone, and a reader must
know that first); who gains and who pays, in plain words; the figures per scenario; the mode
families' shares; maps of the change in cost per trip and per km by origin zone; the money
each operator is owed; and how much the findings depend on the choice rule.

Everything is formatted here, so the template only lays strings out; text coming from
policies is autoescaped by the template and by matplotlib.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jinja2
import matplotlib as mpl
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch

from pricing.charts import Chart, Term, chart_settings, inline_svg, zone_shapes
from pricing.mobility_doc import MobilityDocError, parse_mobility
from pricing.money import currency_exponent
from pricing.report import ReportError, format_money

log = logging.getLogger(__name__)

_TEMPLATE: Final = "mobility_report.html.j2"
_NO_DATA: Final = "#dddddd"
_COLOURS: Final = ("#444444", "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9")
_FAMILY_LABELS: Final[Mapping[str, str]] = {
    "walk": "walk",
    "walk_transit": "walk + transit",
    "rental": "shared vehicle the whole way",
    "rental_transit": "shared vehicle + transit",
    "own_bike": "own bike",
}
#: a change smaller than this (minor units) reads as "no change" in the summary
_TINY_MINOR: Final = 0.5


@dataclass(frozen=True, slots=True)
class _Table:
    """A table already formatted: a caption, a header row and body rows."""

    caption: str
    head: list[str]
    rows: list[list[str]]


@dataclass(frozen=True, slots=True)
class _Policy:
    """One policy's section: its summary sentences, flows, sensitivity and maps."""

    name: str
    policy_id: str
    measures: list[str]
    summary: list[str]
    flows: _Table
    sensitivity: _Table
    maps: list[Chart]


@dataclass(slots=True)
class _View:
    """Everything the template shows, already formatted."""

    title: str
    synthetic_note: str
    facts: list[Term]
    coverage_notes: list[str]
    coverage: _Table
    vehicles: _Table
    summary: _Table
    families: _Table
    family_chart: Chart
    policies: list[_Policy]
    settings: list[Term]
    timing: list[Term]
    generated_at: str


def validate_mobility(doc: Mapping[str, Any]) -> None:
    """ReportError naming the key when `doc` is not a valid mobility document."""
    try:
        parse_mobility(doc)
    except MobilityDocError as exc:
        raise ReportError(str(exc), key=exc.key) from exc


# -- formatting ------------------------------------------------------------------------------


def _money(value: float | None, currency: str, *, signed: bool = False) -> str:
    return "—" if value is None else format_money(value, currency, signed=signed)


def _pct(value: float | None, digits: int = 1, *, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value * 100:{'+' if signed else ''}.{digits}f} %"


def _solved(scenario: Mapping[str, Any], currency: str) -> str:
    solved = scenario["solved"]
    if solved is None:
        return "—"
    name, value = solved["parameter"], solved["value"]
    if name.endswith("_minor"):
        return f"{name} = {format_money(value, currency)}"
    return f"{name} = {value:.4g}"


def _residual(scenario: Mapping[str, Any]) -> str:
    solved = scenario["solved"]
    if solved is None:
        return "—"
    held = "within" if abs(solved["residual"]) <= 0.005 else "OUTSIDE"
    return f"{solved['residual'] * 100:+.3f} % ({held} 0.5 %)"


# -- tables ----------------------------------------------------------------------------------


def _summary_table(doc: Mapping[str, Any]) -> _Table:
    currency = doc["settings"]["currency"]
    scenarios = doc["scenarios"]

    def row(label: str, fn: Any) -> list[str]:
        return [label, *(fn(s) for s in scenarios)]

    def by(key: str, cls: str, per_km: bool = False) -> Any:
        suffix = "/km" if per_km else ""
        return lambda s: _money(s[key][cls], currency) + (suffix if s[key][cls] is not None else "")

    return _Table(
        caption=f"Each column is one scenario; money in {currency}, means per trip made.",
        head=["Measure", *(s["name"] for s in scenarios)],
        rows=[
            row("Revenue, every operator", lambda s: format_money(s["revenue_minor"], currency)),
            row("Revenue change vs status quo",
                lambda s: _pct(s["revenue_change"], 2, signed=True)),
            row("Neutrality residual (vs the same trips at base prices)", _residual),
            row("Solved parameter", lambda s: _solved(s, currency)),
            row("Trips", lambda s: f"{s['trips']:,.0f}"),
            row("Cost per trip, central trips", by("cost_per_trip_minor", "central")),
            row("Cost per trip, trips with a peripheral end",
                by("cost_per_trip_minor", "peripheral")),
            row("Cost per trip, all trips", by("cost_per_trip_minor", "all")),
            row("Gap per trip (peripheral − central)",
                lambda s: _money(s["gap_per_trip_minor"], currency, signed=True)),
            row("Cost per km, central trips", by("cost_per_km_minor", "central", True)),
            row("Cost per km, trips with a peripheral end",
                by("cost_per_km_minor", "peripheral", True)),
            row("Gap per km (peripheral − central)", lambda s: _per_km_gap(s, currency)),
        ],
    )


def _per_km_gap(scenario: Mapping[str, Any], currency: str) -> str:
    gap = scenario["gap_per_km_minor"]
    return "—" if gap is None else f"{format_money(gap, currency, signed=True)}/km"


def _families_table(doc: Mapping[str, Any]) -> _Table:
    currency = doc["settings"]["currency"]
    rows = []
    for s in doc["scenarios"]:
        for f in s["families"]:
            rows.append([
                s["name"],
                _FAMILY_LABELS.get(f["family"], f["family"]),
                _pct(f["share"]),
                _pct(f["share_central"]),
                _pct(f["share_peripheral"]),
                _money(f["mean_price_minor"], currency),
            ])
    return _Table(
        caption="Share of the trips made by each mode family, and what a trip of the family "
        "costs on average.",
        head=["Scenario", "Mode family", "Share of trips", "… of central trips",
              "… of trips with a peripheral end", "Mean price"],
        rows=rows,
    )


def _coverage_tables(doc: Mapping[str, Any]) -> tuple[_Table, _Table]:
    c = doc["coverage"]
    rows = [
        ["Trip slots (OD pair × departure)", f"{c['slots']:,}"],
        ["… with both ends central", f"{c['central_slots']:,}"],
        ["… with a peripheral end", f"{c['peripheral_slots']:,}"],
        ["Slots with no option at all", f"{c['slots_without_options']:,} "
         f"({c['trips_without_options']:,.1f} trips)"],
        ["Slots with an end off the streets (walks estimated)", f"{c['slots_off_streets']:,} "
         f"({c['trips_off_streets']:,.1f} trips)"],
    ]
    for p in c["zone_points"]:
        rows.append([f"{p['class'].capitalize()} zone points on the streets",
                     f"{p['on_streets']} of {p['zones']}"])
    for reason, n in sorted(c["left_out"].items()):
        rows.append([f"Left out: {reason.replace('_', ' ')}", f"{n:,}"])
    coverage = _Table("What the search reached.", ["", "Count"], rows)
    vehicles = _Table(
        "Slots where a shared vehicle is an option at all.",
        ["Vehicle", "Central slots", "Slots with a peripheral end",
         "… the vehicle ridden the whole way"],
        [[v["vehicle"], f"{v['central_slots']:,}", f"{v['peripheral_slots']:,}",
          f"{v['peripheral_whole_way_slots']:,}"] for v in c["vehicles"]],
    )
    return coverage, vehicles


def _flows_table(scenario: Mapping[str, Any], currency: str) -> _Table:
    rows = [
        [f["operator"], format_money(f["paid_before_minor"], currency),
         format_money(f["base_for_trips_minor"], currency),
         format_money(f["paid_after_minor"], currency),
         format_money(f["compensation_minor"], currency, signed=True)]
        for f in scenario["flows"]
    ]
    net = scenario["pool_net_minor"]
    if net is not None:
        pool = "balanced" if net == 0 else f"net {format_money(net, currency, signed=True)}"
        rows.append(["City pool", "", "", "", pool])
    return _Table(
        "Per operator: what riders paid it before, what the trips made under the policy would "
        "pay it at today's prices (what it is guaranteed), what riders pay it under the policy, "
        "and the difference the city pool pays it (+) or collects from it (−).",
        ["Operator", "Paid before", "Base, trips made", "Paid under policy", "From pool"],
        rows,
    )


def _sensitivity_table(scenario: Mapping[str, Any], currency: str) -> _Table:
    solved = scenario["solved"]
    money = solved is not None and solved["parameter"].endswith("_minor")
    rows = []
    for r in scenario["sensitivity"]:
        value = r["value"]
        shown = "—" if value is None else (
            format_money(value, currency) if money else f"{value:.4g}"
        )
        rows.append([
            r["label"], r["rule"],
            "no solution" if r["residual"] is None and r["note"] else shown,
            "—" if r["residual"] is None else f"{r['residual'] * 100:+.3f} %",
            _money(r["gap_before_minor"], currency, signed=True),
            _money(r["gap_after_minor"], currency, signed=True),
            _money(r["gap_change_minor"], currency, signed=True),
            {True: "yes", False: "NO", None: "—"}[r["same_direction"]],
            {True: "yes", False: "NO", None: "—"}[r.get("same_sign_after")],
        ])
    return _Table(
        "The policy solved again under other choice rules: the gap per trip (peripheral − "
        "central) before and after, and whether it moves the same way as under the stated rule.",
        ["Variant", "Rule", "Solved value", "Residual", "Gap before", "Gap after", "Change",
         "Same direction", "Same sign after"],
        rows,
    )


# -- plain language --------------------------------------------------------------------------


def _change(before: float | None, after: float | None, currency: str) -> str:
    if before is None or after is None:
        return "cannot be compared (no trips in one of the scenarios)"
    delta = after - before
    if abs(delta) < _TINY_MINOR:
        return f"stays at {format_money(after, currency)}"
    word = "rises" if delta > 0 else "falls"
    return (f"{word} from {format_money(before, currency)} to {format_money(after, currency)} "
            f"({format_money(delta, currency, signed=True)})")


def _policy_summary(doc: Mapping[str, Any], index: int) -> list[str]:
    currency = doc["settings"]["currency"]
    base, s = doc["scenarios"][0], doc["scenarios"][index]
    lines = [s["note"]] if s.get("note") else []
    unchanged = s["unchanged"]
    if unchanged is not None and unchanged["options_repriced"] == 0:
        lines.append(f"This policy changes nothing on this demand: {unchanged['reason']}.")
        return lines
    b, a = base["cost_per_trip_minor"], s["cost_per_trip_minor"]
    lines.append(
        "The average cost of a trip with a peripheral end "
        f"{_change(b['peripheral'], a['peripheral'], currency)}; of a trip within the centre, "
        f"it {_change(b['central'], a['central'], currency)}."
    )
    gap_b, gap_a = base["gap_per_trip_minor"], s["gap_per_trip_minor"]
    if gap_b is not None and gap_a is not None:
        verb = "narrows" if abs(gap_a) < abs(gap_b) else "widens" if abs(gap_a) > abs(gap_b) \
            else "keeps its size"
        lines.append(
            f"The gap (peripheral − central) {verb}: "
            f"{format_money(gap_b, currency, signed=True)} → "
            f"{format_money(gap_a, currency, signed=True)} per trip."
        )
    gainers = [r for r in s["zones"] if r["change_per_trip_minor"] <= -_TINY_MINOR]
    payers = [r for r in s["zones"] if r["change_per_trip_minor"] >= _TINY_MINOR]
    for who, rows in (("gain (pay less per trip)", gainers), ("pay more per trip", payers)):
        if rows:
            by_class = {
                c: sum(1 for r in rows if r["class"] == c) for c in ("central", "peripheral")
            }
            lines.append(
                f"Residents of {len(rows)} origin zones {who}: {by_class['central']} central, "
                f"{by_class['peripheral']} peripheral."
            )
    lines.extend(_family_shift(base, s))
    lines.extend(_flow_summary(s, currency))
    lines.extend(_sensitivity_summary(s))
    return lines


def _family_shift(base: Mapping[str, Any], s: Mapping[str, Any]) -> list[str]:
    before = {f["family"]: f["share"] for f in base["families"]}
    moves = sorted(
        ((f["share"] - before.get(f["family"], 0.0), f["family"]) for f in s["families"]),
        key=lambda m: -abs(m[0]),
    )
    if not moves or abs(moves[0][0]) < 0.001:
        return ["The trips' mode families barely move (no share changes by 0.1 point)."]
    delta, family = moves[0]
    return [
        f"The largest shift between modes: {_FAMILY_LABELS.get(family, family)} "
        f"{'gains' if delta > 0 else 'loses'} {abs(delta) * 100:.1f} points of the trips."
    ]


def _flow_summary(s: Mapping[str, Any], currency: str) -> list[str]:
    paid = [f for f in s["flows"] if f["compensation_minor"] > 0]
    collected = [f for f in s["flows"] if f["compensation_minor"] < 0]
    lines = []
    if paid:
        lines.append("The city pool pays " + "; ".join(
            f"{f['operator']} {format_money(f['compensation_minor'], currency)}" for f in paid
        ) + ".")
    if collected:
        lines.append("The city pool collects from " + "; ".join(
            f"{f['operator']} {format_money(-f['compensation_minor'], currency)}"
            for f in collected
        ) + " (riders pay them more than their base revenue for the trips made).")
    net = s["pool_net_minor"]
    if net is not None and net != 0:
        base = sum(f["base_for_trips_minor"] for f in s["flows"])
        share = f" ({net / base * 100:+.2f} % of the operators' base revenue for the trips made)" \
            if base else ""
        lines.append(
            f"The pool's net is {format_money(net, currency, signed=True)}{share}: the solved "
            "value is rounded to what riders can pay, so revenue neutrality holds within "
            "0.5 %, not to the cent; someone must fund (+) or keep (−) that difference."
        )
    return lines


def _sensitivity_summary(s: Mapping[str, Any]) -> list[str]:
    rows = [r for r in s["sensitivity"] if r["label"] != "as stated"]
    reversed_ = [r["label"] for r in rows if r["same_direction"] is False]
    missing = [r["label"] for r in rows if r["same_direction"] is None]
    if not rows:
        return []
    if reversed_:
        return [f"The gap's change reverses under: {', '.join(reversed_)}; the finding depends "
                "on the choice rule."]
    held = len(rows) - len(missing)
    text = (f"The gap moves the same way under {held} of {len(rows)} other choice rules "
            "(value of time ×0.5, ×2, the other rule)")
    lines = [text + (f"; no comparison under {', '.join(missing)}." if missing else ".")]
    flipped = [r["label"] for r in rows if r.get("same_sign_after") is False]
    if flipped:
        lines.append(f"Who pays more after the policy (the gap's sign) differs under: "
                     f"{', '.join(flipped)}.")
    return lines


# -- charts ----------------------------------------------------------------------------------


def _family_chart(doc: Mapping[str, Any], note: str) -> Chart:
    scenarios = doc["scenarios"]
    families = [f["family"] for f in scenarios[0]["families"]]
    width = 0.8 / len(scenarios)
    with chart_settings("families"):
        fig = Figure(figsize=(6.4, 3.4), layout="constrained")
        ax = fig.add_subplot()
        for i, s in enumerate(scenarios):
            shares = {f["family"]: f["share"] * 100 for f in s["families"]}
            x = np.arange(len(families)) - 0.4 + width * (i + 0.5)
            ax.bar(x, [shares.get(f, 0.0) for f in families], width=width * 0.92,
                   color=_COLOURS[i % len(_COLOURS)], label=s["name"][:40])
        ax.set_xticks(np.arange(len(families)),
                      [_FAMILY_LABELS.get(f, f).replace(" + ", "\n+ ") for f in families],
                      fontsize=7)
        ax.set_ylabel("Share of trips (%)")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=2, frameon=False,
                  fontsize=7)
        svg = inline_svg(fig, "families")
    return Chart("families", svg, f"Share of trips by mode family, per scenario.{note}")


def _map(doc: Mapping[str, Any], index: int, key: str, label: str, note: str) -> Chart:
    currency = doc["settings"]["currency"]
    unit = 10 ** currency_exponent(currency)
    shapes, (min_x, min_y, max_x, max_y) = zone_shapes(doc)
    scenario = doc["scenarios"][index]
    values = {
        r["zone_id"]: r[key] / unit for r in scenario["zones"] if r[key] is not None
    }
    limit = max((abs(v) for v in values.values()), default=0.0) or 0.01
    norm = Normalize(vmin=-limit, vmax=limit)
    cmap = mpl.colormaps["RdYlGn_r"]
    aspect = 1.0 / max(math.cos(math.radians((min_y + max_y) / 2)), 0.01)
    prefix = f"map-{index}-{key}"
    with chart_settings(prefix):
        fig = Figure(figsize=(4.4, 4.0), layout="constrained")
        ax = fig.add_subplot()
        for zone in sorted(shapes, key=lambda z: z.zone_class == "central"):
            value = values.get(zone.zone_id)
            ax.add_patch(PathPatch(
                zone.path,
                facecolor=_NO_DATA if value is None else cmap(norm(value)),
                edgecolor="#333333",
                linewidth=1.1 if zone.zone_class == "central" else 0.6,
                linestyle="-" if zone.zone_class == "central" else (0, (4, 2)),
                gid=f"zone-{zone.zone_id}",
            ))
        pad_x, pad_y = (max_x - min_x) * 0.03, (max_y - min_y) * 0.03
        ax.set_xlim(min_x - pad_x, max_x + pad_x)
        ax.set_ylim(min_y - pad_y, max_y + pad_y)
        ax.set_aspect(aspect)
        ax.set_axis_off()
        ax.set_title(label, fontsize=9)
        bar = fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax,
                           orientation="horizontal", shrink=0.8, aspect=30)
        bar.set_label(f"{label} ({currency}); green = cheaper")
        svg = inline_svg(fig, prefix)
    caption = (f"{label} by origin zone, {scenario['name']} vs the status quo; grey: no trips. "
               f"Central zones solid, peripheral dashed.{note}")
    return Chart("map", svg, caption, scenario=index)


# -- entry points ----------------------------------------------------------------------------


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


def _facts(doc: Mapping[str, Any]) -> list[Term]:
    network, demand = doc["network"], doc["demand"]
    return [
        Term("Network", network["name"]),
        Term("Day and departures",
             f"{network['service_date']}, {', '.join(network['departures_local'])} "
             f"({network['timezone']}), averaged"),
        Term("Demand", f"{demand['source']}: {demand['pairs']:,} OD rows, "
                       f"{demand['trips']:,.0f} trips" + (" (SYNTHETIC)" if demand["synthetic"]
                                                          else "")),
        Term("Choice rule", doc["settings"]["rule"]),
        Term("Classes", doc["settings"]["class_rule"]),
    ]


def _settings_terms(doc: Mapping[str, Any]) -> list[Term]:
    s = doc["settings"]
    return [
        Term("Currency", s["currency"]),
        Term("Choice rule", s["rule"]),
        Term("Residents re-choose under each policy",
             "yes (the rule is the demand response)" if s["rechoose"] else "no"),
        Term("Points off the streets", "walks estimated (straight line × 1.3)"
             if s["beyond_streets"] else "left out, as /plan refuses them"),
        Term("Revenue neutrality", f"within {s['neutrality_tolerance'] * 100:g} % of what the "
             "trips made under the policy pay at today's prices, every operator together"),
    ]


def _policies(doc: Mapping[str, Any], note: str) -> list[_Policy]:
    currency = doc["settings"]["currency"]
    out = []
    for index in range(1, len(doc["scenarios"])):
        s = doc["scenarios"][index]
        out.append(_Policy(
            name=s["name"],
            policy_id=s["policy_id"],
            measures=list(s["measures"]),
            summary=_policy_summary(doc, index),
            flows=_flows_table(s, currency),
            sensitivity=_sensitivity_table(s, currency),
            maps=[
                _map(doc, index, "change_per_trip_minor", "Change in cost per trip", note),
                _map(doc, index, "change_per_km_minor", "Change in cost per km", note),
            ],
        ))
    return out


def render_mobility_report(doc: Mapping[str, Any]) -> str:
    """The mobility document as one self-contained HTML page (ReportError if malformed)."""
    validate_mobility(doc)
    note = doc["synthetic_note"] or ""
    if note and not note.upper().startswith("SYNTHETIC"):
        note = f"SYNTHETIC: {note}"
    caption_note = f" {note}." if note else ""
    coverage, vehicles = _coverage_tables(doc)
    view = _View(
        title=f"Mobility policy evaluation — {doc['network']['name']}",
        synthetic_note=note,
        facts=_facts(doc),
        coverage_notes=list(doc["coverage"]["notes"]),
        coverage=coverage,
        vehicles=vehicles,
        summary=_summary_table(doc),
        families=_families_table(doc),
        family_chart=_family_chart(doc, caption_note),
        policies=_policies(doc, caption_note),
        settings=_settings_terms(doc),
        timing=[Term(k, f"{v:,.1f} s") for k, v in doc["timing_s"].items()],
        generated_at=doc["generated_at"],
    )
    return _environment().get_template(_TEMPLATE).render(view=view)


def write_mobility_report(doc: Mapping[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write `mobility.json` and `mobility.html` into `out_dir` (rendered first, so an
    invalid document leaves the directory as it was).
    """
    html = render_mobility_report(doc)
    try:
        text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise ReportError(f"mobility document cannot be written as JSON: {exc}", key="") from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "mobility.json", out_dir / "mobility.html"
    json_path.write_text(text + "\n", encoding="utf-8")
    html_path.write_text(html, encoding="utf-8")
    log.info("mobility report written to %s", html_path)
    return json_path, html_path


def policy_lines(doc: Mapping[str, Any]) -> Sequence[str]:
    """The key figures as plain lines for the command line."""
    currency = doc["settings"]["currency"]
    lines = []
    if doc["synthetic_note"]:
        lines.append(f"  {doc['synthetic_note']}")
    for s in doc["scenarios"]:
        c = s["cost_per_trip_minor"]
        lines.append(
            f"  {s['policy_id']}: revenue {format_money(s['revenue_minor'], currency)} "
            f"({s['revenue_change'] * 100:+.2f} %), {_solved(s, currency)}, per trip central "
            f"{_money(c['central'], currency)} / peripheral {_money(c['peripheral'], currency)}"
        )
        for f in s["flows"]:
            lines.append(f"    {f['operator']}: from pool "
                         f"{format_money(f['compensation_minor'], currency, signed=True)}")
    return lines
