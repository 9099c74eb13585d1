"""The synthetic churn's daily pattern: commutes empty the outer stations in the morning and
fill them in the evening, nights are quiet and rebalanced, and a seed replays exactly.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from providers.synthetic import CITYBIKES_ID, SCOOTERS_ID, StreetNodes, churn, synthetic_fleets
from providers.synthetic._common import to_xy
from providers.synthetic.churn import ACTIVITY, FLOW, REBALANCE_HOURS, DayTime

ROOT = Path(__file__).resolve().parents[1]
HKI = ZoneInfo("Europe/Helsinki")
DAY = dt.date(2022, 2, 22)
ROUND_S = 300  # one round per 5 simulated minutes, as the replay runs them
OUTER_M = 5_000  # the outer city bike stations (fare zone B starts about here)


def _grid(lat0: float, lat1: float, lon0: float, lon1: float, n: int) -> tuple[np.ndarray, ...]:
    lat, lon = np.meshgrid(np.linspace(lat0, lat1, n), np.linspace(lon0, lon1, n))
    return lat.ravel(), lon.ravel()


# streets over the whole area the HSL city bike stations cover (~9 km each way)
WALK = _grid(60.150, 60.230, 24.860, 25.000, 60)
CAR = _grid(60.150, 60.230, 24.860, 25.000, 25)
NODES = StreetNodes(walk=WALK, car=CAR)


def at(hour: int) -> int:
    return int(dt.datetime.combine(DAY, dt.time(hour), HKI).timestamp())


def fleets(hour: int) -> dict[str, dict[str, dict[str, Any]]]:
    return synthetic_fleets(
        stations_csv=ROOT / "data" / "helsinki" / "citybike-stations-2021.csv",
        walk_nodes=WALK,
        car_nodes=CAR,
        now_s=at(hour),
        n_scooters=400,
        n_free_cars=20,
    )


def run(feeds: Any, start_h: int, end_h: int, seed: int = 1) -> Any:
    """Rounds every 5 minutes from start_h to end_h local."""
    for k in range(1, (end_h - start_h) * 3600 // ROUND_S + 1):
        rng = np.random.default_rng([seed, start_h, k])
        feeds = churn(feeds, rng=rng, now_s=at(start_h) + k * ROUND_S, nodes=NODES)
    return feeds


def station_bikes(feeds: Any) -> tuple[np.ndarray, np.ndarray]:
    """(bikes available per station, True for the stations beyond OUTER_M)."""
    info = feeds[CITYBIKES_ID]["station_information"]["data"]["stations"]
    status = feeds[CITYBIKES_ID]["station_status"]["data"]["stations"]
    x, y = to_xy([s["lat"] for s in info], [s["lon"] for s in info])
    bikes = np.array([s["num_vehicles_available"] for s in status])
    return bikes, np.hypot(x, y) > OUTER_M


def scooter_distance_m(feeds: Any) -> float:
    """Mean distance of the rentable scooters from the centre."""
    vehicles = feeds[SCOOTERS_ID]["vehicle_status"]["data"]["vehicles"]
    ok = [v for v in vehicles if not (v["is_reserved"] or v["is_disabled"])]
    x, y = to_xy([v["lat"] for v in ok], [v["lon"] for v in ok])
    return float(np.hypot(x, y).mean())


@pytest.fixture(scope="module")
def morning() -> tuple[Any, Any]:
    start = fleets(6)
    return start, run(start, 6, 9)


def test_the_morning_commute_empties_the_outer_stations(morning):
    start, end = morning
    before, outer = station_bikes(start)
    after, _ = station_bikes(end)
    assert outer.sum() >= 50  # 63 of the 219 stations in the HSL box
    # bikes are conserved by rides (a few break or get fixed)
    assert abs(int(after.sum()) - int(before.sum())) < 30
    # measured: 122 of the 544 bikes at the outer stations at 06:00 are left at 09:00 ...
    assert after[outer].sum() < 0.35 * before[outer].sum()
    # ... and the central stations hold the others (1597 -> 1990)
    assert after[~outer].sum() > before[~outer].sum() + 0.6 * before[outer].sum()
    # 40 % of the outer stations are empty or down to their last bike (2 % at 06:00)
    assert (after[outer] <= 1).mean() > 0.3 > 0.05 > (before[outer] <= 1).mean()


def test_the_morning_commute_brings_scooters_to_the_centre(morning):
    start, end = morning
    assert scooter_distance_m(end) < 0.8 * scooter_distance_m(start)  # measured 2.9 -> 1.9 km


def test_the_evening_commute_fills_the_outer_stations_again(morning):
    _, at_nine = morning
    midday = run(at_nine, 9, 16, seed=2)
    evening = run(midday, 16, 19, seed=3)
    noon_bikes, outer = station_bikes(midday)
    evening_bikes, _ = station_bikes(evening)
    assert evening_bikes[outer].sum() > 1.3 * noon_bikes[outer].sum()
    assert scooter_distance_m(evening) > scooter_distance_m(midday) + 300


def test_nights_are_quiet_and_rebalanced(morning):
    _, unbalanced = morning  # the 09:00 fleet: outer stations drained
    shifted = json.loads(json.dumps(unbalanced))  # the same counts, now at 01:00
    night = run(shifted, 1, 5, seed=4)

    def imbalance(feeds: Any) -> int:
        status = feeds[CITYBIKES_ID]["station_status"]["data"]["stations"]
        avail = np.array([s["num_vehicles_available"] for s in status])
        docks = np.array([s["num_docks_available"] for s in status])
        return int(np.abs(avail - (avail + docks) // 2).sum())

    assert imbalance(night) < 0.5 * imbalance(shifted)

    def rides(feeds: Any, hour: int) -> int:
        """Scooters ridden in the hour: a new id and range used (night redeploys and
        swapped batteries come back charged to 90 % or more).
        """
        after = run(feeds, hour, hour + 1, seed=5)
        ids = {v["vehicle_id"] for v in feeds[SCOOTERS_ID]["vehicle_status"]["data"]["vehicles"]}
        moved = after[SCOOTERS_ID]["vehicle_status"]["data"]["vehicles"]
        return sum(v["vehicle_id"] not in ids and v["current_fuel_percent"] < 0.9 for v in moved)

    assert rides(fleets(8), 8) > 4 * rides(fleets(3), 3) > 0


def test_the_pattern_follows_local_time():
    assert DayTime.at(at(8)) == DayTime(8, ACTIVITY[8], 1.0, False)
    assert DayTime.at(at(17)).flow == -1.0
    assert DayTime.at(at(3)).rebalancing and 3 in REBALANCE_HOURS
    assert DayTime.at(at(12)).flow == 0.0 and 12 not in FLOW
    # 08:00 in Helsinki is 06:00 UTC: the feed's time zone decides, not the machine's
    assert DayTime.at(at(8), "UTC").hour == 6
    assert min(ACTIVITY) == ACTIVITY[3] and max(ACTIVITY) == ACTIVITY[8] == ACTIVITY[17]


def test_a_seed_replays_the_same_day():
    a = run(fleets(7), 7, 8, seed=9)
    b = run(fleets(7), 7, 8, seed=9)
    c = run(fleets(7), 7, 8, seed=10)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert json.dumps(a, sort_keys=True) != json.dumps(c, sort_keys=True)


def test_unchanged_files_are_shared_and_the_input_is_untouched():
    start = fleets(8)
    frozen = json.dumps(start, sort_keys=True)
    after = churn(start, rng=np.random.default_rng(1), now_s=at(8) + ROUND_S, nodes=NODES)
    assert json.dumps(start, sort_keys=True) == frozen
    assert after[SCOOTERS_ID]["geofencing_zones"] is start[SCOOTERS_ID]["geofencing_zones"]
    assert after[SCOOTERS_ID]["vehicle_status"] is not start[SCOOTERS_ID]["vehicle_status"]
