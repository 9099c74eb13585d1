"""The walk polyline kernel: numpy's interpolation bit for bit, pieces cut and joined.

All graphs and polylines here are SYNTHETIC (hand-made coordinates).
"""

from __future__ import annotations

import numpy as np

from routing.streets import _interp, _path_points


def test_interp_is_numpy_interp_bit_for_bit_including_repeated_positions() -> None:
    rng = np.random.default_rng(5)
    for _ in range(2000):
        n = int(rng.integers(2, 7))
        steps = np.where(rng.random(n) < 0.3, 0.0, rng.random(n) * 40.0)
        xp = np.cumsum(steps) - steps[0]  # starts at 0, some zero-length segments
        fp = 60.15 + rng.random(n) * 0.01
        for x in (*xp.tolist(), float(xp[-1] * rng.random()), -1.0, float(xp[-1]) + 1.0):
            assert _interp(x, xp, fp) == np.interp(x, xp, fp)


def _graph() -> dict[str, np.ndarray]:
    """SYNTHETIC: edge 0 a three-point polyline 0-10-30 m along, edge 1 a two-point one
    starting where edge 0 ends, edge 2 a zero-length edge (one repeated point)."""
    return {
        "geom_ptr": np.array([0, 3, 5, 7], dtype=np.int64),
        "geom_lat": np.array([60.0, 60.1, 60.3, 60.3, 60.4, 60.4, 60.4]),
        "geom_lon": np.array([24.0, 24.0, 24.0, 24.0, 24.5, 24.5, 24.5]),
        "geom_along_m": np.array([0.0, 10.0, 30.0, 0.0, 50.0, 0.0, 0.0]),
        "edge_length_m": np.array([30.0, 50.0, 0.0], dtype=np.float32),
    }


def test_path_points_cuts_partial_edges_joins_whole_ones_and_drops_repeats() -> None:
    g = _graph()
    ends_lat = np.array([59.9, 60.05, 60.4, 60.45])
    ends_lon = np.array([23.9, 24.0, 24.5, 24.55])
    lat, lon, length_m = _path_points(
        *g.values(),
        np.array([0, 1, 2], dtype=np.int32),
        np.array([0.5 / 3, 0.0, 0.0]),  # edge 0 from 5 m on
        np.array([1.0, 1.0, 1.0]),
        ends_lat,
        ends_lon,
        7.0,
    )
    # origin, its snapped point (= the cut start), 60.1, 60.3 (shared with edge 1), 60.4
    # (edge 1's end, edge 2's point and the snapped target all one point), the target
    assert lat.tolist() == [59.9, 60.05, 60.1, 60.3, 60.4, 60.45]
    assert lon.tolist() == [23.9, 24.0, 24.0, 24.0, 24.5, 24.55]
    assert length_m == 7.0 + (1.0 - 0.5 / 3) * 30.0 + 50.0


def test_path_points_cut_inside_one_edge_interpolates_both_ends() -> None:
    g = _graph()
    lat, _, _ = _path_points(
        *g.values(),
        np.array([0], dtype=np.int32),
        np.array([0.25]),  # 7.5 m along
        np.array([0.5]),  # 15 m along: past the 10 m point
        np.array([0.0, 0.0, 0.0, 0.0]),
        np.array([0.0, 0.0, 0.0, 0.0]),
        0.0,
    )
    xp, fp = g["geom_along_m"][:3], g["geom_lat"][:3]
    assert lat.tolist() == [0.0, np.interp(7.5, xp, fp), 60.1, np.interp(15.0, xp, fp), 0.0]
