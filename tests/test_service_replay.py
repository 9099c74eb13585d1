"""`fairtrip service replay`: a day of SYNTHETIC history, 288 samples per provider at 5
minutes, stamped with the replayed day's local times, deterministic, and the morning
commute visible in a distribution rule's compliance.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from fairtrip.cli import main
from providers.synthetic import PROVIDER_IDS, street_nodes, synthetic_fleets
from service_coverage.history import HistoryStore
from service_coverage.replay import ReplayError, day_bounds, replay_day
from service_coverage.rules import compliance, load_rule
from service_coverage.zones import default_service_zones

ROOT = Path(__file__).resolve().parents[1]
HKI = ZoneInfo("Europe/Helsinki")
DAY = dt.date(2022, 2, 22)


@pytest.fixture(scope="module")
def zones() -> Any:
    return default_service_zones()


def small_fleets(helsinki: Any, start_s: int) -> Any:
    """The embedded city's providers with fewer free-floating vehicles (a faster test)."""
    return synthetic_fleets(
        stations_csv=ROOT / "data" / "helsinki" / "citybike-stations-2021.csv",
        walk_nodes=street_nodes(helsinki, "walk"),
        car_nodes=street_nodes(helsinki, "car"),
        now_s=start_s,
        n_scooters=150,
        n_free_cars=10,
    )


def replay(helsinki: Any, zones: Any, path: Path) -> tuple[Any, HistoryStore]:
    start_s, _ = day_bounds(DAY, HKI)
    store = HistoryStore(path, retention_s=None)
    result = replay_day(helsinki, DAY, store, zones, base=small_fleets(helsinki, start_s))
    return result, store


@pytest.fixture(scope="module")
def replayed(helsinki, zones, tmp_path_factory) -> tuple[Any, HistoryStore]:
    return replay(helsinki, zones, tmp_path_factory.mktemp("replay") / "history.sqlite3")


def test_a_day_is_288_samples_per_provider_at_local_times(replayed):
    result, store = replayed
    start_s, end_s = day_bounds(DAY, HKI)
    assert end_s - start_s == 86_400
    assert result.samples == dict.fromkeys(PROVIDER_IDS, 288)
    assert result.rounds == 287 and result.period_s == 300
    rows = store.samples(from_s=start_s - 86_400, to_s=end_s + 86_400)
    assert len(rows) == result.rows
    for pid in PROVIDER_IDS:
        times = sorted({r.sampled_at_s for r in rows if r.provider_id == pid})
        assert times == list(range(start_s, end_s, 300))
    assert dt.datetime.fromtimestamp(result.first_s, HKI).isoformat() == "2022-02-22T00:00:00+02:00"
    assert dt.datetime.fromtimestamp(result.last_s, HKI).isoformat() == "2022-02-22T23:55:00+02:00"


def test_the_replay_is_deterministic_and_replaces_its_rows(replayed, helsinki, zones, tmp_path):
    result, store = replayed
    start_s, end_s = day_bounds(DAY, HKI)
    again, other = replay(helsinki, zones, tmp_path / "again.sqlite3")
    assert again.rows == result.rows
    assert other.samples(from_s=start_s, to_s=end_s) == store.samples(from_s=start_s, to_s=end_s)
    # replaying into the same file replaces the day, it does not add to it
    replay_day(helsinki, DAY, other, zones, base=small_fleets(helsinki, start_s), period_s=3600)
    assert len(other.samples(from_s=start_s, to_s=end_s)) == result.rows
    other.close()


def test_the_morning_commute_shows_in_the_city_bike_rule(replayed, zones):
    _, store = replayed
    rule = load_rule(ROOT / "data" / "policies" / "rules" / "citybikes-peripheral-every-hour.yaml")
    start_s, end_s = day_bounds(DAY, HKI)
    rows = store.samples(from_s=start_s, to_s=end_s, provider_id="synthetic-citybikes-hki")
    day = compliance(rule, rows, zones, provider_id="synthetic-citybikes-hki", day=DAY, tz=HKI)
    share = {h.hour: h.share for h in day.hours}
    assert all(h.samples == 12 for h in day.hours)
    assert share[9] < 0.6 * share[6]  # the outer stations drained by the commute
    assert share[18] > share[9]  # and filled again in the evening
    assert 8 in day.failed_hours and day.verdict == "not_compliant"


def test_bad_periods_are_refused(helsinki, zones):
    store = HistoryStore(":memory:")
    for period_s in (0, 7 * 60, 7200):
        with pytest.raises(ReplayError, match="divisor of an hour"):
            replay_day(helsinki, DAY, store, zones, period_s=period_s)


def test_cli_replays_into_the_given_file(helsinki_dir, tmp_path, capsys):
    db = tmp_path / "durable.sqlite3"
    args = ["service", "replay", "--date", "2022-02-22", "--db", str(db), "--period-min", "60"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("SYNTHETIC availability history replayed: 2022-02-22 (Europe/Helsinki)")
    assert "synthetic-scooters-hki: 24 samples" in out and str(db) in out
    store = HistoryStore(db, retention_s=None)
    assert store.providers() == sorted(PROVIDER_IDS)
    assert store.span() == (day_bounds(DAY, HKI)[0], day_bounds(DAY, HKI)[1] - 3600)
    store.close()


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--date", "2022-02-30"], "is not YYYY-MM-DD"),
        (["--date", "2022-02-22", "--period-min", "7"], "divisor of an hour"),
        (["--date", "2022-02-22", "--zones", "/no/such.geojson"], "does not exist"),
    ],
)
def test_cli_mistakes_end_in_one_line(helsinki_dir, tmp_path, capsys, extra, says):
    assert main(["service", "replay", "--db", str(tmp_path / "h.sqlite3"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fairtrip service: ") and says in err and err.count("\n") == 1


def test_a_day_at_the_calendar_s_end_is_refused_by_name_not_overflowed():
    import datetime as dt
    from zoneinfo import ZoneInfo

    from service_coverage.replay import ReplayError, day_bounds

    with pytest.raises(ReplayError, match=r"outside the years 1970\.\.9998"):
        day_bounds(dt.date(9999, 12, 31), ZoneInfo("Europe/Helsinki"))
