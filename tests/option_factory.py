"""Small SYNTHETIC option tables for the choice, cross-mode and compensation tests.

`make_table` builds a `pricing.options.OptionTable` from readable tuples, and `two_slots` is
the hand-computed example the tests share (its arithmetic is written out where it is used):

    slot 0: central -> central,    10 trips
    slot 1: peripheral -> central, 10 trips

    option  slot  family          duration  distance  price  parts
    0       0     walk            1800 s    2000 m      0    -
    1       0     walk_transit     900 s    3000 m    300    transit:HSL 300
    2       1     walk_transit    2400 s   10000 m    400    transit:HSL 400
    3       1     rental_transit  1500 s   10000 m    600    provider:bikes 200 (access),
                                                             transit:HSL 400
    4       1     rental          1800 s    9000 m    900    provider:bikes 900
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pricing.options import OptionTable, TripSlots

#: (operator, kind, access, amount, vehicle)
Part = tuple[str, str, bool, int, str]
#: (slot, family, duration_s, distance_m, parts)
Option = tuple[int, str, int, int, Sequence[Part]]

SYNTHETIC = "SYNTHETIC options for tests"


def make_slots(slots: Sequence[tuple[str, str, float]]) -> TripSlots:
    """Slots from (origin class, destination class, trips); zones are named z<row>o/z<row>d."""
    return TripSlots(
        origin_zone=np.array([f"z{i}o" for i in range(len(slots))], dtype=object),
        dest_zone=np.array([f"z{i}d" for i in range(len(slots))], dtype=object),
        origin_class=np.array([s[0] for s in slots], dtype=object),
        dest_class=np.array([s[1] for s in slots], dtype=object),
        departure_s=np.full(len(slots), 8 * 3600, dtype=np.int32),
        trips=np.array([s[2] for s in slots], dtype=np.float64),
    )


def make_table(
    slot_rows: Sequence[tuple[str, str, float]],
    option_rows: Sequence[Option],
    *,
    currency: str = "EUR",
    **overrides: Any,
) -> OptionTable:
    """An OptionTable whose prices are the sums of the parts given (unless overridden)."""
    options = option_rows
    parts = [(row, part) for row, option in enumerate(options) for part in option[4]]
    columns: dict[str, Any] = {
        "slots": make_slots(slot_rows),
        "slot": np.array([o[0] for o in options], dtype=np.int32),
        "family": np.array([o[1] for o in options], dtype=object),
        "duration_s": np.array([o[2] for o in options], dtype=np.int32),
        "distance_m": np.array([o[3] for o in options], dtype=np.int32),
        "price_minor": np.array([sum(p[3] for p in o[4]) for o in options], dtype=np.int64),
        "part_option": np.array([row for row, _ in parts], dtype=np.int32),
        "part_operator": np.array([p[0] for _, p in parts], dtype=object),
        "part_kind": np.array([p[1] for _, p in parts], dtype=object),
        "part_access": np.array([p[2] for _, p in parts], dtype=bool),
        "part_minor": np.array([p[3] for _, p in parts], dtype=np.int64),
        "currency": currency,
        "synthetic_note": SYNTHETIC,
        "part_vehicle": np.array([p[4] for _, p in parts], dtype=object),
    }
    columns.update(overrides)
    return OptionTable(**columns)


HSL = "transit:HSL"
BIKES = "provider:bikes"


def two_slots(**overrides: Any) -> OptionTable:
    """The shared hand-computed example (see the module docstring)."""
    return make_table(
        [("central", "central", 10.0), ("peripheral", "central", 10.0)],
        [
            (0, "walk", 1800, 2000, []),
            (0, "walk_transit", 900, 3000, [(HSL, "transit", False, 300, "transit")]),
            (1, "walk_transit", 2400, 10000, [(HSL, "transit", False, 400, "transit")]),
            (
                1,
                "rental_transit",
                1500,
                10000,
                [
                    (BIKES, "rental", True, 200, "bike_share"),
                    (HSL, "transit", False, 400, "transit"),
                ],
            ),
            (1, "rental", 1800, 9000, [(BIKES, "rental", False, 900, "bike_share")]),
        ],
        **overrides,
    )
