"""The peer benchmark's bookkeeping: its pairs file, how it reads each engine's answer, and
the figures and target lines it draws from them. The Valhalla replies and plan documents
here are SYNTHETIC, shaped like the real ones; no engine runs in these tests.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bench.peers import (
    DEPART,
    LAT_RANGE,
    LON_RANGE,
    FairtripAnswer,
    PairResult,
    make_pairs,
    read_pairs,
    read_plan,
    run_pairs,
    summarise,
    table,
)
from bench.peers_valhalla import ValhallaAnswer, read_answer, route_request


def _reply(*maneuvers: dict[str, Any], time_s: float = 900.0) -> dict[str, Any]:
    """A SYNTHETIC worker reply with the given maneuvers."""
    return {
        "seconds": 0.02,
        "trip": {"summary": {"time": time_s}, "legs": [{"maneuvers": list(maneuvers)}]},
    }


WALK = {"type": 2, "travel_mode": "pedestrian", "travel_type": "foot", "time": 60.0}
TRAM = {"type": 30, "travel_mode": "transit", "travel_type": "tram", "time": 300.0}
OSM_FERRY_ON_FOOT = {"type": 28, "travel_mode": "pedestrian", "travel_type": "foot", "ferry": True}
GTFS_FERRY = {"type": 30, "travel_mode": "transit", "travel_type": "ferry", "time": 900.0}


def test_committed_pairs_are_the_documented_recipe() -> None:
    pairs = read_pairs()
    assert len(pairs) == 1000
    assert pairs == make_pairs()
    for p in pairs:
        assert LAT_RANGE[0] <= p.from_lat <= LAT_RANGE[1]
        assert LON_RANGE[0] <= p.to_lon <= LON_RANGE[1]


def test_a_ferry_crossed_on_foot_is_marked_but_a_timetabled_ferry_is_a_ride() -> None:
    walked = read_answer(_reply(WALK, OSM_FERRY_ON_FOOT, WALK))
    assert walked.answered and walked.ferry_walk and not walked.with_transit
    ridden = read_answer(_reply(WALK, GTFS_FERRY, WALK))
    assert ridden.answered and ridden.with_transit and not ridden.ferry_walk


def test_a_valhalla_error_is_an_unanswered_pair_with_its_message() -> None:
    a = read_answer({"seconds": 0.01, "error": "No path could be found for input"})
    assert not a.answered and a.duration_s is None
    assert a.error == "No path could be found for input"


def test_the_valhalla_request_departs_at_local_time_with_multimodal_costing() -> None:
    req = route_request(60.16, 24.93, 60.17, 24.95, DEPART[:16])
    assert req["costing"] == "multimodal"
    assert req["date_time"] == {"type": 1, "value": "2022-02-22T08:00"}
    assert req["locations"][1] == {"lat": 60.17, "lon": 24.95}


def test_a_plan_is_read_as_its_earliest_arrival_and_any_transit_leg() -> None:
    depart = dt.datetime.fromisoformat(DEPART)
    doc = {
        "itineraries": [
            {"end": "2022-02-22T08:22:00+02:00", "legs": [{"mode": "WALK"}]},
            {"end": "2022-02-22T08:14:30+02:00", "legs": [{"mode": "WALK"}, {"mode": "TRAM"}]},
        ],
        "reason": "",
    }
    a = read_plan(doc, depart)
    assert a == FairtripAnswer(True, 14 * 60 + 30, True, None)
    empty = read_plan({"itineraries": [], "reason": "no transit connection at that time"}, depart)
    assert not empty.answered and empty.reason == "no transit connection at that time"


def _result(pair: int, ft_s: float | None, va: ValhallaAnswer | None) -> PairResult:
    ft = FairtripAnswer(ft_s is not None, ft_s, False, None if ft_s is not None else "x")
    return PairResult(pair, 0.004, ft, 0.02 if va else None, va)


def _va(duration_s: float | None, *, ferry: bool = False) -> ValhallaAnswer:
    return ValhallaAnswer(duration_s is not None, duration_s, False, ferry, None)


def test_figures_count_ferry_walks_apart_and_compare_arrivals_on_real_answers() -> None:
    results = [
        _result(0, 1000.0, _va(1000.0)),  # same arrival
        _result(1, 1400.0, _va(1000.0)),  # 6 min 40 s later: late
        _result(2, 1000.0, _va(1300.0)),  # 5 min earlier
        _result(3, None, _va(800.0)),  # Valhalla only
        _result(4, 900.0, _va(600.0, ferry=True)),  # ferry walk: not compared
        _result(5, 700.0, _va(None)),  # fairtrip only
    ]
    s = summarise(results)
    v, c = s["valhalla"], s["comparison"]
    assert (v["answered"], v["ferry_walk"], v["answered_real"]) == (5, 1, 4)
    assert c["both_answered"] == 3
    assert c["fairtrip_answered_of_valhalla_real"] == 0.75
    assert c["arrival_diff_min"]["later_than_5_min"] == 1
    assert c["arrival_diff_min"]["median"] == 0.0
    assert c["fairtrip_only"] == 2  # pair 5, and pair 4 whose Valhalla answer is not real
    passed = {t["name"]: t["pass"] for t in s["targets"]}
    assert passed["answered, of the pairs Valhalla answers without a ferry walk"] is False
    assert passed["walk + transit /plan p50 latency over Valhalla's"] is True
    assert "| fairtrip `/plan` (walk + transit) |" in table(s)


def test_without_valhalla_only_fairtrip_figures_and_its_own_target_remain() -> None:
    s = summarise([_result(0, 600.0, None), _result(1, None, None)])
    assert "valhalla" not in s and "comparison" not in s
    assert [t["name"] for t in s["targets"]] == ["answered, of all pairs"]
    assert "Valhalla not measured: no venv" in table({**s, "valhalla_setup": {"reason": "no venv"}})


def test_pairs_run_interleaved_after_the_warm_up_alternating_who_goes_first() -> None:
    calls: list[tuple[str, int]] = []

    def ft(p: Any) -> tuple[float, FairtripAnswer]:
        calls.append(("f", p.id))
        return 0.001, FairtripAnswer(True, 60.0, False, None)

    def va(p: Any) -> tuple[float, ValhallaAnswer]:
        calls.append(("v", p.id))
        return 0.002, _va(60.0)

    out = run_pairs(make_pairs(3), ft, va, warmup=1)
    assert calls == [("f", 0), ("v", 0), ("f", 0), ("v", 0), ("v", 1), ("f", 1), ("f", 2), ("v", 2)]
    assert [r.pair for r in out] == [0, 1, 2]


def test_the_per_pair_file_has_one_row_per_pair_in_its_columns() -> None:
    import json

    from bench.peers import DETAIL_COLUMNS, detail_json

    doc = json.loads(detail_json([_result(7, 600.4, _va(None)), _result(8, None, None)]))
    assert doc["columns"] == list(DETAIL_COLUMNS)
    rows = [dict(zip(doc["columns"], row, strict=True)) for row in doc["rows"]]
    assert rows[0]["pair"] == 7 and rows[0]["fairtrip_duration_s"] == 600
    assert rows[0]["valhalla_answered"] is False
    assert rows[1]["fairtrip_reason"] == "x" and rows[1]["valhalla_ms"] is None
