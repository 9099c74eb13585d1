"""Leg geometry rounding: the vectorised 6-decimal rounding is Python's `round`, bit for bit."""

from __future__ import annotations

import math

import numpy as np

from trips.rental_legs import line, round6


def _python_line(lats: np.ndarray, lons: np.ndarray) -> list[list[float]]:
    """The point-by-point rule `line` must keep: round each coordinate, drop repeats."""
    coords: list[list[float]] = []
    for x, y in zip(lons.tolist(), lats.tolist(), strict=True):
        point = [round(x, 6), round(y, 6)]
        if not coords or coords[-1] != point:
            coords.append(point)
    return coords if len(coords) > 1 else coords * 2


def test_round6_equals_python_round_on_coordinates_and_exact_half_ties():
    rng = np.random.default_rng(7)
    halves = (np.arange(-200_000, 200_000) + 0.5) / 1e6  # x.xxxxxx5: where scaled rounding slips
    values = np.concatenate(
        [rng.uniform(-180, 180, 200_000), 60.0 + halves, 24.9 + halves, halves, [0.0, -0.0]]
    )
    got = round6(values)
    want = np.array([round(x, 6) for x in values.tolist()])
    assert np.array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))  # -0.0 stays -0.0


def test_round6_leaves_non_finite_and_huge_values_to_python_round():
    values = np.array([math.inf, -math.inf, 1e300, 1234.5678905, 0.1234565])
    got = round6(values)
    assert got[:3].tolist() == [math.inf, -math.inf, 1e300]
    assert got[3:].tolist() == [round(1234.5678905, 6), round(0.1234565, 6)]
    assert math.isnan(float(round6(np.array([math.nan]))[0]))


def test_line_matches_point_by_point_rounding_for_short_and_long_lines():
    rng = np.random.default_rng(3)
    for n in (1, 2, 8, 9, 300):
        for _ in range(50):
            lats = np.round(rng.uniform(60.15, 60.16, n), int(rng.integers(5, 9)))
            lons = np.round(rng.uniform(24.90, 24.91, n), int(rng.integers(5, 9)))
            lats[rng.random(n) < 0.3] = lats[0]  # repeats, some only equal once rounded
            lons[rng.random(n) < 0.3] = lons[0]
            assert line(lats, lons).coordinates == _python_line(lats, lons)
