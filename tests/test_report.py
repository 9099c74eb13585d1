"""The evaluation report: one offline HTML page, safe with user text, honest about its data.

Rendered from `tests/fixtures/evaluation-small.json`: a hand-made, synthetic evaluation of
three scenarios (status quo, city-wide average fare, partial averaging) over six square zones.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import matplotlib as mpl
import pytest

from pricing.errors import PricingError
from pricing.report import ReportError, format_money, render_report, write_report

FIXTURE = Path(__file__).parent / "fixtures" / "evaluation-small.json"

#: elements that never have an end tag in HTML
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
#: attributes through which a browser would fetch something
FETCHING_ATTRS = {"src", "href", "xlink:href", "srcset", "action", "poster", "data", "background"}


def evaluation() -> dict:
    """A fresh copy of the fixture (tests mutate it)."""
    return json.loads(FIXTURE.read_text())


def status_quo_only() -> dict:
    """The fixture with just its status quo: no map panels, so it renders fastest."""
    doc = evaluation()
    doc["scenarios"] = doc["scenarios"][:1]
    return doc


@pytest.fixture(scope="module")
def page() -> str:
    return render_report(evaluation())


@pytest.fixture(scope="module")
def observed_page() -> str:
    """Observed demand without incomes, and hostile user text in the policy names."""
    doc = evaluation()
    doc["demand"]["synthetic"] = False
    doc["demand"]["has_income"] = False
    doc["demand"]["note"] = "Household survey 2022."
    for scenario in doc["scenarios"]:
        scenario["suits"] = None
        scenario["affordability"] = None
    doc["scenarios"][1]["name"] = "<script>alert(1)</script>"
    doc["scenarios"][2]["measures"] = ['<img src=x onerror="alert(2)">']
    doc["scenarios"][2]["policy_id"] = '"><b>x</b>'
    return render_report(doc)


@pytest.fixture(scope="module")
def edited_map_page() -> str:
    """hki-0001 unchanged under the city-wide average; hki-0003 without trips in partial."""
    doc = evaluation()
    for row in doc["scenarios"][1]["zones"]:
        if row["zone_id"] == "hki-0001":
            row["mean_change_minor"] = 0.0
    doc["scenarios"][2]["zones"] = [
        z for z in doc["scenarios"][2]["zones"] if z["zone_id"] != "hki-0003"
    ]
    return render_report(doc)


class _Page(HTMLParser):
    """Collects what the tests look at, and checks that every element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: Counter[str] = Counter()
        self.attrs: list[tuple[str, str, str]] = []
        self.ids: Counter[str] = Counter()
        self.figures: list[tuple[dict[str, str], int]] = []  # (figure attributes, svgs inside)
        self.styles: list[str] = []
        self.section_ids: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._element(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "figure":
            self.figures.append((dict((k, v or "") for k, v in attrs), 0))
        if tag == "svg" and "figure" in self.stack[:-1]:
            figure_attrs, count = self.figures[-1]
            self.figures[-1] = (figure_attrs, count + 1)
        if tag == "section":
            self.section_ids.append(dict(attrs).get("id") or "")
        self._in_style = tag == "style"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._element(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)

    def _element(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        for name, value in attrs:
            self.attrs.append((tag, name, value or ""))
            if name == "id":
                self.ids[value or ""] += 1
            if name == "style":
                self.styles.append(value or "")


def parse(html: str) -> _Page:
    parser = _Page()
    parser.feed(html)
    parser.close()
    return parser


def external_references(html: str) -> list[str]:
    """Everything in the page that a browser would try to fetch from another host."""
    parsed = parse(html)
    found = [
        f"<{tag} {name}={value}>"
        for tag, name, value in parsed.attrs
        if name in FETCHING_ATTRS and not value.startswith(("#", "data:"))
    ]
    found += [
        f"url({ref})"
        for css in parsed.styles
        for ref in re.findall(r"url\(\s*['\"]?([^)'\"]*)", css)
        if not ref.startswith("#")
    ]
    found += [
        f"<{tag}>" for tag in ("script", "link", "img", "iframe", "object") if parsed.tags[tag]
    ]
    # any other URL at all; SVG namespace declarations are names, never fetched
    without_namespaces = re.sub(r'\sxmlns(:\w+)?="[^"]*"', "", html)
    found += re.findall(r"(?:https?:)?//[\w.-]+\.\w+/\S*", without_namespaces)
    return found


# --------------------------------------------------------------------------- offline, well formed


def test_the_page_references_nothing_outside_itself(page):
    assert external_references(page) == []


def test_the_offline_check_would_catch_a_remote_script_font_or_tile():
    bad = (
        '<html><head><script src="https://cdn.example.com/x.js"></script>'
        "<style>@font-face{src:url(https://fonts.example.com/a.woff)}</style></head>"
        '<body><img src="http://tiles.example.com/1/2/3.png"></body></html>'
    )
    found = external_references(bad)
    assert any("cdn.example.com" in f for f in found)
    assert any("fonts.example.com" in f for f in found)
    assert any("tiles.example.com" in f for f in found)
    assert "<script>" in found


def test_the_page_is_well_formed_with_every_element_closed_in_order(page):
    parsed = parse(page)
    assert parsed.errors == []
    assert parsed.stack == []
    for tag in ("html", "head", "body", "main", "header", "footer", "title"):
        assert parsed.tags[tag] == 1, tag
    assert page.startswith("<!DOCTYPE html>")


def test_sections_come_in_the_documented_order(page):
    assert parse(page).section_ids == [
        "summary",
        "lorenz",
        "map",
        "accessibility",
        "winners",
        "method",
    ]


def test_ids_are_unique_across_the_inlined_charts(page):
    duplicates = {k: n for k, n in parse(page).ids.items() if n > 1}
    assert duplicates == {}


def test_rendering_is_deterministic(page):
    assert render_report(evaluation()) == page


# --------------------------------------------------------------------------- charts


def charts(html: str) -> Counter[str]:
    """Figures per kind, after checking each holds exactly one SVG."""
    parsed = parse(html)
    for attrs, svgs in parsed.figures:
        assert svgs == 1, attrs
    return Counter(attrs["data-chart"] for attrs, _ in parsed.figures)


def test_one_chart_each_and_one_map_panel_per_policy(page):
    assert charts(page) == {"lorenz": 1, "map": 2, "accessibility": 1}
    assert page.count("<svg") == 4
    panels = [a["data-scenario"] for a, _ in parse(page).figures if a["data-chart"] == "map"]
    assert panels == ["1", "2"]


@pytest.mark.parametrize(("n_scenarios", "maps"), [(1, 0), (2, 1)])
def test_the_status_quo_gets_no_map_panel(n_scenarios, maps):
    doc = evaluation()
    doc["scenarios"] = doc["scenarios"][:n_scenarios]
    assert charts(render_report(doc))["map"] == maps


def test_chart_text_stays_text_and_matplotlib_settings_are_not_changed():
    before = dict(mpl.rcParams)
    html = render_report(status_quo_only())
    assert mpl.rcParams == before
    assert re.search(r"<text[^>]*>Status quo \(base fares\)</text>", html)


def _zone_style(html: str, panel: int, zone_id: str) -> str:
    match = re.search(rf'id="map-{panel}-zone-{zone_id}">\s*<path[^>]*style="([^"]*)"', html)
    assert match, zone_id
    return match.group(1)


def _rgb(style: str) -> tuple[int, int, int]:
    hex_colour = re.search(r"fill: #([0-9a-f]{6})", style).group(1)
    return tuple(int(hex_colour[i : i + 2], 16) for i in (0, 2, 4))


def test_map_colours_cheaper_zones_green_and_dearer_zones_red(page):
    # city-wide average: peripheral hki-0004 gets 37 cents cheaper, central hki-0002 13 dearer
    red, green, _ = _rgb(_zone_style(page, 1, "hki-0004"))
    assert green > red
    red, green, _ = _rgb(_zone_style(page, 1, "hki-0002"))
    assert red > green


def test_map_colour_scale_is_centred_at_zero(edited_map_page):
    red, green, _ = _rgb(_zone_style(edited_map_page, 1, "hki-0001"))
    assert min(red, green) > 230 and abs(red - green) < 40  # the pale middle of the scale


def test_map_outlines_central_zones_solid_and_peripheral_zones_dashed(page):
    assert "stroke-dasharray" in _zone_style(page, 1, "hki-0001")  # peripheral
    assert "stroke-dasharray" not in _zone_style(page, 1, "hki-0002")  # central
    assert "central zone" in page and "peripheral zone" in page


def test_a_zone_without_trips_is_drawn_grey_and_named_in_the_legend(page, edited_map_page):
    assert "fill: #dddddd" in _zone_style(edited_map_page, 2, "hki-0003")
    assert "fill: #dddddd" not in _zone_style(edited_map_page, 1, "hki-0003")
    assert "no trips" in edited_map_page
    assert "no trips" not in page


def test_a_long_lorenz_curve_is_sampled_so_the_chart_stays_small():
    doc = status_quo_only()
    n = 20_000
    xs = [i / (n - 1) for i in range(n)]
    doc["scenarios"][0]["lorenz"] = {"population_share": xs, "cost_share": [x**2 for x in xs]}
    html = render_report(doc)
    lorenz = re.search(r'data-chart="lorenz">(.*?)</figure>', html, re.DOTALL).group(1)
    assert len(lorenz) < 60_000


# --------------------------------------------------------------------------- content


def test_synthetic_demand_is_announced_in_a_banner_and_in_every_caption(page):
    assert 'data-banner="synthetic"' in page
    assert "SYNTHETIC DEMAND" in page
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page, re.DOTALL)
    assert len(captions) == 4
    assert all("Synthetic demand." in c for c in captions)


def test_observed_demand_gets_no_synthetic_banner(observed_page):
    html = observed_page
    assert 'data-banner="synthetic"' not in html
    assert "SYNTHETIC" not in html
    assert "Synthetic demand" not in html
    assert "Household survey 2022." in html


def test_user_text_is_escaped_everywhere_including_inside_charts(observed_page):
    html = observed_page
    assert "<script" not in html
    assert "<img" not in html
    assert "<b>x</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert parse(html).errors == []


def test_money_is_formatted_from_minor_units(page):
    # the status quo's revenue is 123456 EUR minor units
    assert "<td>1,234.56 EUR</td>" in page
    assert "<td>3.00 EUR</td>" not in page  # settings are a <dd>, not a table cell
    assert "<dd>3.00 EUR</dd>" in page  # access_price_max_minor = 300


@pytest.mark.parametrize(
    ("minor", "currency", "signed", "text"),
    [
        (123456, "EUR", False, "1,234.56 EUR"),
        (-50, "EUR", False, "-0.50 EUR"),
        (7, "EUR", True, "+0.07 EUR"),
        (0, "EUR", True, "0.00 EUR"),
        (-0.4, "EUR", True, "0.00 EUR"),  # a mean that rounds to zero is not "-0.00"
        (250.5, "EUR", False, "2.50 EUR"),  # means round half to even
        (251.5, "EUR", False, "2.52 EUR"),
        (1234567, "JPY", False, "1,234,567 JPY"),
        (1234, "KWD", False, "1.234 KWD"),
    ],
)
def test_format_money_groups_thousands_and_keeps_the_currency_exponent(
    minor, currency, signed, text
):
    assert format_money(minor, currency, signed=signed) == text


def test_the_summary_shows_every_measure_for_every_scenario(page):
    summary = re.search(r'<table class="summary">(.*?)</table>', page, re.DOTALL).group(1)
    rows = re.findall(r"<tr[^>]*>\s*<th scope=\"row\">(.*?)</th>(.*?)</tr>", summary, re.DOTALL)
    assert len(rows) == 18
    assert all(len(re.findall(r"<td>", cells)) == 3 for _, cells in rows)
    assert "3.2 × 10⁻¹⁰" in summary  # neutrality residual, scientific
    assert "charge = 2.63 EUR, 7 iterations" in summary
    assert "+0.41 EUR" in summary  # peripheral − central gap of the status quo
    assert "0.80 EUR/km" in summary
    assert "0.0300 (33% between classes)" in summary


def test_without_incomes_suits_and_affordability_say_why_they_are_missing(page, observed_page):
    assert observed_page.count("n/a — no income in demand") == 3 * 3  # Suits, 2 affordability
    assert "n/a" not in page


def test_winners_and_losers_are_summed_by_zone_class(page):
    table = re.search(
        r'<table class="winners" data-scenario="1">(.*?)</table>', page, re.DOTALL
    ).group(1)
    # central zones hki-0002 (120 trips) and hki-0005 (100): 85% losers, 15% unchanged
    assert '<th scope="row">central</th><td>0 (0.0%)</td><td>187 (85.0%)</td>' in table
    # peripheral: 40 + 35 + 30 + 25 = 130 trips, 90% winners
    assert '<th scope="row">peripheral</th><td>117 (90.0%)</td>' in table


def test_the_largest_increases_list_only_zones_that_get_dearer_largest_first(page):
    table = re.search(
        r'<table class="increases" data-scenario="1">(.*?)</table>', page, re.DOTALL
    ).group(1)
    assert re.findall(r"<tr><td>(hki-\d+)</td>", table) == ["hki-0002", "hki-0005"]


def test_method_notes_list_timing_settings_and_measures(page):
    method = page[page.index('<section id="method">') :]
    assert "Transit fares move halfway towards the city-wide average" in method
    assert "Bike share unchanged" in method
    assert "<td>1.20 s</td>" in method
    assert method.index("routing") < method.index("total")
    assert "<dd>45 min</dd>" in method and "<dd>10%</dd>" in method


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "path",
    [
        "network",
        "demand.synthetic",
        "settings.currency",
        "scenarios[1].theil.between_share",
        "scenarios[2].zones[0].mean_change_minor",
        "zones.geojson.features[3].properties.zone_id",
        "fairtrip_evaluation",
    ],
)
def test_a_missing_key_is_a_report_error_naming_its_path(path):
    doc = evaluation()
    *parents, last = re.findall(r"[^.\[\]]+", path)
    node = doc
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    del node[last]
    with pytest.raises(ReportError) as caught:
        render_report(doc)
    assert caught.value.key == path
    assert path in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, PricingError)


def test_another_format_version_is_refused():
    doc = evaluation()
    doc["fairtrip_evaluation"] = 2
    with pytest.raises(ReportError, match="version is 2; this report reads version 1") as caught:
        render_report(doc)
    assert caught.value.value == 2


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("scenarios[0].gini", "high", "expected integer or number"),
        ("scenarios[0].revenue_minor", 1234.5, "expected integer"),
        ("scenarios[0].gini", float("nan"), "expected a finite number"),
        ("scenarios[1].accessibility.all", True, "expected integer or number"),
        ("scenarios[1].solved", None, None),  # allowed: no solve
        ("scenarios[1].zones[0].class", "suburban", "expected one of central, peripheral"),
        ("scenarios", [], "expected at least 1"),
        ("settings.currency", "EURO", "unknown currency"),
        ("network.service_date", "22.2.2022", "YYYY-MM-DD"),
    ],
)
def test_a_mistyped_value_is_a_report_error_naming_its_path(path, value, expected):
    doc = evaluation()
    *parents, last = re.findall(r"[^.\[\]]+", path)
    node = doc
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[last] = value
    if expected is None:
        render_report(doc)
        return
    with pytest.raises(ReportError, match=re.escape(expected)) as caught:
        render_report(doc)
    assert caught.value.key == path


def test_lorenz_shares_outside_zero_to_one_are_refused():
    doc = evaluation()
    doc["scenarios"][1]["lorenz"]["cost_share"][2] = 1.5
    with pytest.raises(ReportError, match=re.escape("holds 1.5")) as caught:
        render_report(doc)
    assert caught.value.key == "scenarios[1].lorenz.cost_share"


def test_lorenz_arrays_of_different_lengths_are_refused():
    doc = evaluation()
    doc["scenarios"][2]["lorenz"]["cost_share"].pop()
    with pytest.raises(ReportError) as caught:
        render_report(doc)
    assert caught.value.key == "scenarios[2].lorenz"


# --------------------------------------------------------------------------- files


def test_write_report_writes_pretty_sorted_json_that_round_trips_and_the_page(page, tmp_path):
    doc = evaluation()
    json_path, html_path = write_report(doc, tmp_path / "out")
    assert (json_path.name, html_path.name) == ("evaluation.json", "report.html")
    text = json_path.read_text(encoding="utf-8")
    assert json.loads(text) == doc
    assert text == json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert html_path.read_text(encoding="utf-8") == page


def test_write_report_writes_nothing_for_an_invalid_evaluation(tmp_path):
    doc = evaluation()
    del doc["scenarios"][0]["gini"]
    with pytest.raises(ReportError):
        write_report(doc, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_write_report_refuses_nan_which_json_cannot_carry(tmp_path):
    doc = status_quo_only()
    doc["timing_s"]["routing"] = math.nan
    with pytest.raises(ReportError, match="JSON"):
        write_report(doc, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_fixture_is_labelled_synthetic():
    doc = evaluation()
    assert doc["demand"]["synthetic"] is True
    assert "synthetic" in doc["demand"]["note"].lower()


def test_the_header_says_how_many_matrix_pairs_have_no_way_to_travel():
    doc = status_quo_only()
    doc["demand"].update(
        matrix_pairs=24016,
        matrix_unreachable=12,
        matrix_unreachable_by_reason={"nothing_within_walk_limit": 9, "no_connection": 3},
    )
    html = render_report(doc)
    assert "Demand: routed point pairs without a way to travel" in html
    assert "12 of 24,016 (no_connection 3, nothing_within_walk_limit 9)" in html
