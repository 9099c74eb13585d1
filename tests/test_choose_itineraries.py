"""trips.choose: duplicates, the Pareto filter on (time, price, transfers), labels."""

from __future__ import annotations

import datetime as dt
from typing import Any

from trips.choose import Candidate
from trips.choose import choose as choose_candidates
from trips.model import (
    Itinerary,
    ItineraryPrice,
    Leg,
    LineString,
    MoneyOut,
    Place,
    RentalInfo,
    to_builtins,
)

_HERE = Place(name="here", lat=60.0, lon=24.0)
_LINE = LineString(type="LineString", coordinates=[(24.0, 60.0), (24.0, 60.0)])


def _leg(mode: str, **kw: Any) -> Leg:
    return Leg(mode=mode, from_=_HERE, to=_HERE, start="", end="", duration_s=0, distance_m=0.0,
               geometry=_LINE, **kw)


def itinerary(
    name: str,
    *,
    start: str = "08:00",
    end: str,
    price: int | None = 280,
    transfers: int = 0,
    walk_m: float = 300.0,
    trips: tuple[str, ...] = (),
    rentals: tuple[tuple[str, str | None, str | None], ...] = (),
    currency: str = "EUR",
) -> Candidate:
    """A minimal candidate: only what the chooser reads."""
    legs = [_leg("WALK")]
    legs += [
        _leg("BUS", trip_id=t, trip_start_time="07:50:00", service_date="2022-02-22")
        for t in trips
    ]
    legs += [
        _leg("SCOOTER_RENTAL", rental=RentalInfo(
            provider_id=p, station_id=s, vehicle_id=v, synthetic=True, rental_start="",
            rental_end="", pickup_probability=1.0))
        for p, s, v in rentals
    ]
    final = None if price is None else MoneyOut(amount_minor=price, currency=currency, text="")
    start_t, end_t = f"2022-02-22T{start}:00+02:00", f"2022-02-22T{end}:00+02:00"
    it = Itinerary(
        id=name, start=start_t, end=end_t, duration_s=0, walk_distance_m=walk_m,
        transfers=transfers, legs=legs, price=ItineraryPrice(base=final, final=final, reason=""),
        co2_g=0, modes=[],
    )
    return Candidate.of(it, dt.datetime.fromisoformat(start_t).timestamp(),
                        dt.datetime.fromisoformat(end_t).timestamp())


def ids(its: list[dict[str, Any]]) -> list[str]:
    return [it["id"] for it in its]


def choose(its: list[Candidate], limit: int = 10, **kw: Any):
    chosen = choose_candidates(
        its, limit=limit, arrive_by=kw.get("arrive_by", False), window=kw.get("window", False)
    )
    return [to_builtins(it) for it in chosen.itineraries()], to_builtins(chosen.choices)


def test_an_itinerary_no_better_on_time_price_or_transfers_is_dropped():
    fast = itinerary("fast", end="08:20", price=280, trips=("t1",))
    slower_pricier = itinerary("slow", end="08:25", price=300, trips=("t2",))
    slower_more_transfers = itinerary("xfer", end="08:25", price=280, transfers=1,
                                      trips=("t3", "t4"))
    cheap_walk = itinerary("walk", end="08:40", price=0)  # slower but cheaper: kept
    kept, _ = choose([fast, slower_pricier, slower_more_transfers, cheap_walk])
    assert ids(kept) == ["fast", "walk"]


def test_equal_on_every_criterion_keeps_both():
    a = itinerary("a", end="08:20", trips=("t1",))
    b = itinerary("b", end="08:20", trips=("t2",))
    kept, _ = choose([a, b])
    assert sorted(ids(kept)) == ["a", "b"]


def test_an_unknown_price_counts_as_the_highest():
    priced = itinerary("priced", end="08:20", price=500, trips=("t1",))
    unknown = itinerary("unknown", end="08:20", price=None, trips=("t2",))
    kept, choices = choose([unknown, priced])
    assert ids(kept) == ["priced"]
    assert choices["cheapest"] == "priced"


def test_prices_in_two_currencies_are_not_compared():
    eur = itinerary("eur", end="08:20", price=100, trips=("t1",))
    usd = itinerary("usd", end="08:20", price=999, trips=("t2",), currency="USD")
    kept, choices = choose([eur, usd])
    assert sorted(ids(kept)) == ["eur", "usd"]
    assert choices["cheapest"] is None


def test_each_label_goes_to_the_itinerary_best_at_it():
    fast = itinerary("fast", end="08:15", price=600, transfers=1, walk_m=500,
                     trips=("t1", "t2"))
    cheap = itinerary("cheap", end="08:40", price=0, transfers=0, walk_m=2500)
    direct = itinerary("direct", end="08:25", price=280, transfers=0, walk_m=400,
                       trips=("t3",))
    lazy = itinerary("lazy", end="08:30", price=250, transfers=0, walk_m=50,
                     rentals=(("scooters", None, "v1"),))
    kept, choices = choose([cheap, direct, fast, lazy])
    assert choices == {
        "fastest": "fast",
        "cheapest": "cheap",
        "fewest_transfers": "direct",  # three have none: the earliest arriving of them
        "least_walking": "lazy",
    }
    labels = {it["id"]: it["labels"] for it in kept}
    assert labels == {
        "fast": ["fastest"],
        "direct": ["fewest_transfers"],
        "lazy": ["least_walking"],
        "cheap": ["cheapest"],
    }
    assert ids(kept) == ["fast", "direct", "lazy", "cheap"]  # by arrival


def test_label_ties_go_to_the_earlier_arrival():
    late = itinerary("late", end="08:30", price=280, walk_m=100, trips=("t1",))
    early = itinerary("early", end="08:20", price=300, walk_m=100, trips=("t2",))
    _, choices = choose([late, early])
    assert choices["least_walking"] == "early"
    assert choices["fewest_transfers"] == "early"
    assert choices["cheapest"] == "late"


def test_labelled_itineraries_are_kept_past_the_limit_and_the_rest_fill_in_order():
    fast = itinerary("fast", end="08:10", price=900, transfers=2, walk_m=900,
                     trips=("a", "b", "c"))
    mid1 = itinerary("mid1", end="08:12", price=800, transfers=1, walk_m=800,
                     trips=("d", "e"))
    mid2 = itinerary("mid2", end="08:14", price=700, transfers=1, walk_m=700,
                     trips=("f", "g"))
    direct = itinerary("direct", end="08:20", price=600, transfers=0, walk_m=600,
                       trips=("h",))
    walk = itinerary("walk", end="08:50", price=0, transfers=0, walk_m=4000)
    scooter = itinerary("scooter", end="08:30", price=500, walk_m=10,
                        rentals=(("s", None, "v"),))
    all_six = [walk, mid2, scooter, direct, mid1, fast]
    kept, _ = choose(all_six, limit=2)
    # four labelled (fast, direct, walk, scooter) stay; no room is left for mid1 / mid2
    assert ids(kept) == ["fast", "direct", "scooter", "walk"]
    kept, _ = choose(all_six, limit=5)
    assert ids(kept) == ["fast", "mid1", "direct", "scooter", "walk"]


def test_arrive_by_prefers_the_latest_departure():
    early = itinerary("early", start="08:00", end="08:40", trips=("t1",))
    late = itinerary("late", start="08:10", end="08:45", trips=("t2",))
    kept, choices = choose([early, late], arrive_by=True)
    assert ids(kept) == ["late"]  # leaves later at the same price and transfers
    assert choices["fastest"] == "late"


def test_rentals_of_the_same_vehicle_and_rides_are_duplicates():
    a = itinerary("a", end="08:20", walk_m=500, trips=("t1",),
                  rentals=(("scooters", None, "v1"),))
    b = itinerary("b", end="08:20", walk_m=300, trips=("t1",),
                  rentals=(("scooters", None, "v1"),))
    other_vehicle = itinerary("c", end="08:20", walk_m=300, trips=("t1",),
                              rentals=(("scooters", None, "v2"),))
    kept, _ = choose([a, b, other_vehicle])
    assert sorted(ids(kept)) == ["b", "c"]


def test_a_window_keeps_every_departure_cut_at_the_limit_and_labelled():
    first = itinerary("first", start="08:00", end="08:30", trips=("t1",))
    second = itinerary("second", start="08:10", end="08:35", trips=("t2",))  # dominated
    third = itinerary("third", start="08:20", end="08:45", trips=("t3",))
    kept, choices = choose([third, second, first], limit=2, window=True)
    assert ids(kept) == ["first", "second"]
    assert choices["fastest"] == "first"


def test_no_itineraries_have_no_choices():
    kept, choices = choose([])
    assert kept == [] and choices == dict.fromkeys(
        ("fastest", "cheapest", "fewest_transfers", "least_walking")
    )


def test_a_tie_that_adds_a_vehicle_to_the_same_trip_gives_way_to_the_simpler_one():
    simple = itinerary("simple", end="08:15", price=300, trips=("t6",),
                       rentals=(("scooters", None, "v1"),))
    cluttered = itinerary("cluttered", end="08:15", price=300, trips=("t6",),
                          rentals=(("bikes", "s1", None), ("scooters", None, "v1")))
    other = itinerary("other", end="08:15", price=300, trips=("t9",),
                      rentals=(("scooters", None, "v1"),))
    kept, _ = choose([cluttered, simple, other])
    assert sorted(ids(kept)) == ["other", "simple"]
