"""Service measures computed by hand on a small history over the zones of
`tests.coverage_factory` (a, b central with 1000 and 500 residents; c peripheral with 2000;
d peripheral with none).

The history (times in UTC; rows: vehicles in reach / nearest walk in metres):

    provider p, scooters      08:00         08:05         09:00
      a                       4 / 130       2 / 260       0 / none
      b                       1 / 390       0 / 520       0 / none
      c                       0 / 1300      0 / 2000      0 / none
    provider q, bikes         08:00         08:05         (stale at 09:00)
      a                       3 / 100       3 / 100
      b                       3 / 300       3 / 300
      c                       0 / 2500      0 / 2500
    provider q, stations      08:00         08:05
      a                       2, 1 empty    2, 1 full
      c                       1, 1 full

All providers together, per (time, zone): vehicles in reach summed, nearest walk the shortest:

                              08:00         08:05         09:00
      a                       7 / 100       5 / 100       0 / none
      b                       4 / 300       3 / 300       0 / none
      c                       0 / 1300      0 / 2000      0 / none
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from service_coverage.measures import ServiceMeasures, service_measures
from service_coverage.model import ZoneSample
from tests.coverage_factory import hand_zones

T8 = int(datetime(2022, 2, 22, 8, 0, tzinfo=UTC).timestamp())
T805 = T8 + 300
T9 = T8 + 3600


def row(
    provider: str,
    t: int,
    zone: str,
    reach: int,
    nearest: float | None,
    *,
    type_id: str = "scooter",
    form: str = "scooter_standing",
) -> ZoneSample:
    return ZoneSample(provider, t, zone, type_id, form, 0, reach, nearest, 0, 0, 0, 0)


def bike(t: int, zone: str, reach: int, nearest: float) -> ZoneSample:
    return row("q", t, zone, reach, nearest, type_id="bike", form="bicycle")


def stations(t: int, zone: str, n: int, empty: int, full: int) -> ZoneSample:
    return ZoneSample("q", t, zone, "", "", 0, 0, None, 0, n, empty, full)


HISTORY = [
    row("p", T8, "a", 4, 130),
    row("p", T8, "b", 1, 390),
    row("p", T8, "c", 0, 1300),
    row("p", T805, "a", 2, 260),
    row("p", T805, "b", 0, 520),
    row("p", T805, "c", 0, 2000),
    row("p", T9, "a", 0, None),
    row("p", T9, "b", 0, None),
    row("p", T9, "c", 0, None),
    bike(T8, "a", 3, 100),
    bike(T8, "b", 3, 300),
    bike(T8, "c", 0, 2500),
    bike(T805, "a", 3, 100),
    bike(T805, "b", 3, 300),
    bike(T805, "c", 0, 2500),
    stations(T8, "a", 2, 1, 0),
    stations(T8, "c", 1, 0, 1),
    stations(T805, "a", 2, 0, 1),
    row("p", T8, "not-a-zone", 9, 10),  # a zone the zones do not hold: ignored
]


@pytest.fixture(scope="module")
def measures() -> ServiceMeasures:
    return service_measures(HISTORY, hand_zones(), tz=UTC)


def test_zone_figures_by_hour(measures: ServiceMeasures) -> None:
    a8 = measures.zones["a"].hours[8]
    assert a8.samples == 2
    assert a8.vehicles_per_1000 == pytest.approx(6.0)  # mean(7, 5) per 1000 residents
    assert a8.median_walk_m == 100
    assert a8.reach_share == 1.0
    assert a8.no_vehicle_share == 0.0
    assert (a8.station_samples, a8.empty_share, a8.full_share) == (4, 0.25, 0.25)

    a9 = measures.zones["a"].hours[9]
    assert (a9.samples, a9.vehicles_per_1000, a9.median_walk_m) == (1, 0.0, None)
    assert (a9.reach_share, a9.no_vehicle_share, a9.empty_share) == (0.0, 1.0, None)

    b8 = measures.zones["b"].hours[8]
    assert b8.vehicles_per_1000 == pytest.approx(7.0)  # mean(4, 3) per 500 residents
    assert (b8.median_walk_m, b8.reach_share, b8.empty_share) == (300, 1.0, None)

    c8 = measures.zones["c"].hours[8]
    assert c8.median_walk_m == 1300  # the lower median of 1300 and 2000
    assert (c8.reach_share, c8.empty_share, c8.full_share) == (0.0, 0.0, 1.0)
    assert measures.zones["a"].hours[7].samples == 0


def test_zone_figures_over_the_period(measures: ServiceMeasures) -> None:
    a = measures.zones["a"].period
    assert a.samples == 3
    assert a.vehicles_per_1000 == pytest.approx(4.0)  # mean(7, 5, 0)
    assert a.median_walk_m == 100  # 100, 100, none
    assert a.reach_share == pytest.approx(2 / 3)
    assert a.no_vehicle_share == pytest.approx(1 / 3)
    c = measures.zones["c"].period
    assert c.median_walk_m == 2000  # 1300, 2000, none
    d = measures.zones["d"].period
    assert (d.vehicles_per_1000, d.median_walk_m, d.no_vehicle_share) == (None, None, 1.0)


def test_class_figures_weigh_zones_by_residents(measures: ServiceMeasures) -> None:
    central = measures.classes["central"]
    assert (central.zones, central.population) == (2, 1500)
    h8 = central.hours[8]
    assert h8.vehicles_per_1000 == pytest.approx((11 + 8) / 2 / 1500 * 1000)
    assert h8.median_walk_m == 100  # 2000 of 3000 resident-samples walk 100 m
    assert (h8.reach_share, h8.empty_share, h8.full_share) == (1.0, 0.25, 0.25)
    period = central.period
    assert period.vehicles_per_1000 == pytest.approx((11 + 8 + 0) / 3 / 1500 * 1000)
    # weights: 100 m x 2000, 300 m x 1000, none x 1500 -> half (2250) is reached at 300 m
    assert period.median_walk_m == 300
    assert period.reach_share == pytest.approx(3000 / 4500)
    assert period.no_vehicle_share == pytest.approx(1500 / 4500)

    peripheral = measures.classes["peripheral"]
    assert (peripheral.zones, peripheral.population) == (2, 2000)  # d has no residents
    assert peripheral.period.median_walk_m == 2000  # c alone: 1300, 2000, none
    assert peripheral.period.vehicles_per_1000 == 0.0
    assert (peripheral.period.empty_share, peripheral.period.full_share) == (0.0, 1.0)


def test_filters_by_form_factor_and_provider() -> None:
    zones = hand_zones()
    bikes = service_measures(HISTORY, zones, tz=UTC, form_factors={"bicycle"})
    assert bikes.samples == 2  # at 09:00 only scooters were sampled
    a = bikes.zones["a"].period
    assert (a.vehicles_per_1000, a.median_walk_m, a.empty_share) == (3.0, 100, 0.25)

    scooters = service_measures(HISTORY, zones, tz=UTC, form_factors=["scooter_standing"])
    a = scooters.zones["a"].period
    assert a.vehicles_per_1000 == pytest.approx(2.0)  # mean(4, 2, 0)
    assert a.empty_share is None  # q's docks serve no scooter
    assert a.median_walk_m == 260  # 130, 260, none

    p = service_measures(HISTORY, zones, tz=UTC, provider_id="p")
    assert p.zones["a"].period == a
    assert p.provider_id == "p" and scooters.form_factors == ("scooter_standing",)


def test_hours_are_local_to_the_network() -> None:
    helsinki = service_measures(HISTORY, hand_zones(), tz=ZoneInfo("Europe/Helsinki"))
    assert helsinki.zones["a"].hours[10].samples == 2  # 08:00 UTC is 10:00 in February
    assert helsinki.zones["a"].hours[8].samples == 0
    assert helsinki.timezone == "Europe/Helsinki"


def test_to_json_is_plain(measures: ServiceMeasures) -> None:
    doc = json.loads(json.dumps(measures.to_json()))
    assert doc["samples"] == 3 and doc["first_s"] == T8 and doc["last_s"] == T9
    assert list(doc["classes"]) == ["central", "peripheral"]
    assert list(doc["zones"]) == ["a", "b", "c", "d"]
    hours = doc["zones"]["a"]["hours"]
    assert len(hours) == 24 and hours[8]["hour"] == 8
    assert hours[8]["vehicles_per_1000"] == 6.0 and hours[8]["median_walk_m"] == 100
    assert doc["classes"]["central"]["period"]["reach_share"] == 0.6667


def test_no_samples_gives_empty_figures() -> None:
    empty = service_measures([], hand_zones(), tz=UTC)
    assert empty.samples == 0 and empty.first_s is None
    assert empty.classes["central"].period.median_walk_m is None
    assert empty.zones["a"].hours[0].samples == 0
