"""The residents' trip planner (`/`) in a real Chromium against a live server: deep links,
map clicks, rental legs, errors next to their fields, keyboard use and labels, and that
nothing is fetched from anywhere but the server.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

from tests.browser.conftest import assert_clean

KAMPPI = "60.1685,24.9316"
KRUUNUNHAKA = "60.1725,24.9560"
AT = "2022-02-22T08:00+02:00"
EVERY_MODE = "WALK,TRANSIT,BICYCLE_RENTAL,SCOOTER_RENTAL,CAR_RENTAL"


def open_trip(page, **state: str):
    query = "&".join(f"{k}={v}" for k, v in state.items())
    page.goto(f"/?{query}" if query else "/")
    page.wait_for_selector("body[data-ready=true]")


def itineraries(page):
    return page.locator("#itineraries > li.itinerary")


def test_the_kamppi_to_kruununhaka_link_shows_tram_9_for_2_80_eur(page):
    open_trip(page, **{"from": KAMPPI, "to": KRUUNUNHAKA, "at": AT, "modes": "WALK,TRANSIT"})
    first = itineraries(page).filter(has=page.locator("li.leg-TRAM")).first
    expect(first).to_be_visible()
    leg = first.locator("li.leg-TRAM").first
    assert leg.locator("strong").first.inner_text() == "9"
    assert "Kampintori" in leg.inner_text()
    assert first.locator(".itinerary-head .total").inner_text() == "2.80 EUR"
    assert "2.80 EUR" in leg.locator(".leg-price").inner_text()
    # the labels, transfers and CO2 are there in words, not only on the map
    head = first.locator(".itinerary-head").inner_text()
    assert "0 transfers" in head and "g CO₂" in head and "Fastest" in head
    # and the ride is drawn on the map in the tram's colour class
    assert page.locator("svg path.trip-leg.leg-TRAM.selected").count() >= 1
    assert_clean(page)


def test_two_clicks_on_the_map_plan_a_trip_and_put_it_in_the_url(page):
    open_trip(page)
    svg = page.locator("#map svg")
    box = svg.bounding_box()
    # the map opens on the whole network; these two points are streets of the centre
    svg.click(position={"x": box["width"] * 0.45, "y": box["height"] * 0.55})
    expect(page.locator("#from")).not_to_have_value("")
    expect(page.locator("#to")).to_have_value("")
    svg.click(position={"x": box["width"] * 0.62, "y": box["height"] * 0.42})
    expect(itineraries(page).first).to_be_visible()
    query = parse_qs(urlsplit(page.url).query)
    typed_from = page.locator("#from").input_value().replace(" ", "")
    typed_to = page.locator("#to").input_value().replace(" ", "")
    assert query["from"] == [typed_from] and query["to"] == [typed_to]
    assert typed_from != typed_to
    assert page.locator("svg path.trip-leg").count() >= 1
    assert page.locator("svg circle.trip-end").count() == 2
    assert_clean(page)


def test_an_every_mode_trip_shows_a_rental_leg_with_provider_battery_and_chance(page):
    open_trip(page, **{"from": KAMPPI, "to": KRUUNUNHAKA, "at": AT, "modes": EVERY_MODE})
    rental = page.locator(".rental-info").first
    expect(rental).to_be_visible()
    text = rental.inner_text()
    assert "Provider:" in text and "SYNTHETIC" in text
    assert "Vehicle:" in text
    assert re.search(r"Still there when you arrive: (over )?\d+ % likely", text)
    legs = page.locator(
        "li.leg-SCOOTER_RENTAL, li.leg-BICYCLE_RENTAL, li.leg-CAR_RENTAL"
    )
    assert legs.count() >= 1
    assert page.locator(
        "svg path.trip-leg.leg-SCOOTER_RENTAL, svg path.trip-leg.leg-BICYCLE_RENTAL"
    ).count() >= 1
    assert_clean(page)


def test_vehicles_near_the_start_are_listed_and_drawn_live(page):
    open_trip(page, **{"from": KAMPPI})
    status = page.locator("#nearby-status")
    page.wait_for_function(
        "() => /within 500 m/.test(document.getElementById('nearby-status').textContent)"
    )
    assert "SYNTHETIC" in status.inner_text()
    assert page.locator("#nearby-list li").count() >= 1
    assert page.locator("svg circle.nearby").count() >= 1
    assert_clean(page)


def test_a_point_in_the_sea_is_explained_next_to_the_from_field(page):
    # between Katajanokka and Suomenlinna: open water, inside the map's bounds
    open_trip(page, **{"from": "60.155,24.975", "to": KRUUNUNHAKA, "at": AT})
    error = page.locator("#from-error")
    expect(error).to_contain_text(
        re.compile(r"There is no street near this point.* m from the nearest street")
    )
    assert page.locator("#from").get_attribute("aria-invalid") == "true"
    assert page.locator("#to-error").inner_text() == ""
    assert itineraries(page).count() == 0
    assert_clean(page, expected_statuses=(422,))


def test_a_date_without_service_is_explained_next_to_the_time_field(page):
    open_trip(page, **{"from": KAMPPI, "to": KRUUNUNHAKA, "at": "2022-03-22T08:00+02:00"})
    error = page.locator("#at-error")
    expect(error).to_contain_text("No timetable for 2022-03-22")
    assert "2022-02-22" in error.inner_text()  # it says which dates there are
    assert page.locator("#at").get_attribute("aria-invalid") == "true"
    assert itineraries(page).count() == 0
    assert_clean(page, expected_statuses=(422,))


def test_every_control_is_labelled_and_the_map_works_by_keyboard(page):
    open_trip(page)
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, button, textarea, svg[tabindex]')]
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                         && !e.textContent.trim())
            .map(e => e.outerHTML.slice(0, 80))"""
    )
    assert unlabelled == []
    # Tab reaches the map; Enter picks the point under the cross for "From"
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.tagName.toLowerCase()") == "svg":
            break
    else:
        raise AssertionError("Tab never reached the map")
    page.keyboard.press("Enter")
    expect(page.locator("#from")).to_have_value(re.compile(r"-?\d+\.\d{5}, -?\d+\.\d{5}"))
    # the arrows move the map: Enter then picks another point, for "To"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    expect(itineraries(page).first).to_be_visible()
    assert page.locator("#from").input_value() != page.locator("#to").input_value()
    # the itinerary heads are buttons reached and pressed by keyboard
    head = itineraries(page).first.locator(".itinerary-head")
    head.focus()
    page.keyboard.press("Enter")
    expect(itineraries(page).first).to_have_attribute("aria-current", "true")
    assert_clean(page)


def test_typed_coordinates_and_a_transit_pass_plan_a_free_ride_and_land_in_the_url(page):
    open_trip(page, **{"at": AT})
    page.locator("#from").fill("60.1685, 24.9316")
    page.locator("#to").fill("60.1725, 24.9560")
    page.locator('input[name="mode"][value="BICYCLE_RENTAL"]').uncheck()
    page.locator('input[name="mode"][value="SCOOTER_RENTAL"]').uncheck()
    page.locator('input[name="mode"][value="CAR_RENTAL"]').uncheck()
    page.locator("#pass").check()
    page.locator("#to").press("Enter")  # submits the form from the keyboard
    tram = itineraries(page).filter(has=page.locator("li.leg-TRAM")).first
    expect(tram).to_be_visible()
    # the pass covers the ride: the tram leg and the trip cost nothing more
    assert tram.locator("li.leg-TRAM .leg-price").first.inner_text() == "0.00 EUR"
    assert tram.locator(".itinerary-head .total").inner_text() == "0.00 EUR"
    query = parse_qs(urlsplit(page.url).query)
    assert query["transit_pass"] == ["true"]
    assert query["modes"] == ["WALK,TRANSIT"]
    assert query["from"] == ["60.16850,24.93160"] and query["to"] == ["60.17250,24.95600"]
    # the shared link reopens the same trip
    page.goto(page.url)
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#pass")).to_be_checked()
    expect(
        itineraries(page).filter(has=page.locator("li.leg-TRAM")).first.locator(".total")
    ).to_have_text("0.00 EUR")
    assert_clean(page)


def selected_place(page) -> int:
    """The 1-based place of the itinerary marked current, checked against the map: every
    leg drawn in front belongs to it, and at least one is drawn.
    """
    marks = itineraries(page).evaluate_all(
        "items => items.map(i => i.getAttribute('aria-current'))"
    )
    assert marks.count("true") == 1, marks
    place = marks.index("true") + 1
    chosen = itineraries(page).nth(place - 1).get_attribute("data-id")
    drawn = page.locator("svg path.trip-leg.selected").evaluate_all(
        "paths => paths.map(p => p.getAttribute('data-itinerary'))"
    )
    assert drawn and set(drawn) == {chosen}, (drawn, chosen)
    return place


def test_the_selected_itinerary_is_kept_in_the_url_and_a_reopened_link_draws_it(page):
    trip = {"from": KAMPPI, "to": KRUUNUNHAKA, "at": AT, "modes": "WALK,TRANSIT"}
    open_trip(page, **trip)
    expect(itineraries(page).first).to_be_visible()
    count = itineraries(page).count()
    assert count >= 2, "the link needs two options to tell them apart"
    assert selected_place(page) == 1
    assert "it" not in parse_qs(urlsplit(page.url).query)

    # choosing the last option puts its place in the URL and draws it in front
    itineraries(page).nth(count - 1).locator(".itinerary-head").click()
    expect(itineraries(page).nth(count - 1)).to_have_attribute("aria-current", "true")
    assert parse_qs(urlsplit(page.url).query)["it"] == [str(count)]
    assert selected_place(page) == count

    # the shared link reopens on that option, listed and drawn
    page.goto(page.url)
    page.wait_for_selector("body[data-ready=true]")
    expect(itineraries(page).nth(count - 1)).to_have_attribute("aria-current", "true")
    assert selected_place(page) == count

    # a link may also name the option by its id
    second_id = itineraries(page).nth(1).get_attribute("data-id")
    open_trip(page, **trip, it=second_id)
    expect(itineraries(page).nth(1)).to_have_attribute("aria-current", "true")
    assert selected_place(page) == 2
    assert_clean(page)


def test_a_link_naming_no_listed_itinerary_selects_the_first_and_drops_it_from_the_url(page):
    trip = {"from": KAMPPI, "to": KRUUNUNHAKA, "at": AT, "modes": "WALK,TRANSIT"}
    for wrong in ("99", "0", "not-an-option"):
        open_trip(page, **trip, it=wrong)
        expect(itineraries(page).first).to_have_attribute("aria-current", "true")
        assert selected_place(page) == 1
        query = parse_qs(urlsplit(page.url).query)
        assert "it" not in query, wrong
        # the rest of the trip stays (as the page writes it: five decimals)
        assert query["from"] == ["60.16850,24.93160"] and query["modes"] == ["WALK,TRANSIT"]
    assert_clean(page)
