"""The options table (pricing.options): what it accepts, what it refuses and why.

Every table here is SYNTHETIC (tests/option_factory.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from pricing.options import OptionTable, TripSlots
from pricing.policy_apply import TripDataError
from tests.option_factory import BIKES, HSL, make_slots, make_table, two_slots


def refused(**overrides):
    with pytest.raises(TripDataError) as info:
        two_slots(**overrides)
    return str(info.value)


def test_a_valid_table_keeps_its_columns_typed_and_read_only():
    table = two_slots()
    assert len(table) == 5 and len(table.slots) == 2
    assert table.slot.dtype == np.int32 and table.duration_s.dtype == np.int32
    assert table.price_minor.dtype == np.int64 and table.part_minor.dtype == np.int64
    assert table.part_access.dtype == bool
    for column in (table.price_minor, table.part_minor, table.slots.trips, table.family):
        with pytest.raises(ValueError, match="read-only"):
            column[0] = column[1]


def test_derived_amounts_per_option_add_up_by_kind_and_access():
    table = two_slots()
    # option 3 = bikes 200 (access) + HSL 400; option 4 = bikes 900
    assert table.kind_minor("transit").tolist() == [0, 300, 400, 400, 0]
    assert table.kind_minor("rental").tolist() == [0, 0, 0, 200, 900]
    assert table.access_minor().tolist() == [0, 0, 0, 200, 0]
    assert table.part_count().tolist() == [0, 1, 1, 2, 1]
    assert table.option_trips().tolist() == [10.0] * 5
    assert table.touches_periphery().tolist() == [False, False, True, True, True]


def test_parts_that_do_not_add_up_to_the_price_are_refused_naming_the_option():
    message = refused(price_minor=np.array([0, 300, 400, 650, 900], dtype=np.int64))
    assert "option 3's parts sum to 600 but its price_minor is 650" in message


def test_float_prices_are_refused_not_rounded():
    message = refused(price_minor=np.array([0.0, 300.0, 400.0, 600.0, 900.0]))
    assert "price_minor must hold integers, got dtype float64" in message


def test_an_unknown_family_is_refused_naming_the_row_and_the_known_families():
    family = np.array(["walk", "walk_transit", "bus", "rental_transit", "rental"], dtype=object)
    message = refused(family=family)
    assert "family[2] is 'bus'" in message and "walk_transit" in message


def test_a_negative_part_is_refused():
    table = two_slots()
    parts = table.part_minor.copy()
    parts[0] = -100  # refused as a negative amount, before the sums are checked
    message = refused(part_minor=parts)
    assert "part_minor[0] is -100; expected >= 0" in message


def test_an_option_pointing_past_the_slots_is_refused():
    message = refused(slot=np.array([0, 0, 1, 1, 2], dtype=np.int32))
    assert "slot[4] is 2; expected a row of slots (0..1)" in message


def test_columns_of_different_lengths_are_refused():
    message = refused(duration_s=np.array([1, 2, 3], dtype=np.int32))
    assert "duration_s has 3 rows; expected 5" in message


def test_walk_and_own_bike_options_may_not_have_parts():
    with pytest.raises(TripDataError, match=r"'walk' option; options of .* have no parts"):
        make_table(
            [("central", "central", 1.0)],
            [(0, "walk", 600, 800, [(HSL, "transit", False, 0, "transit")])],
        )


def test_a_part_operator_must_carry_its_kinds_prefix():
    with pytest.raises(TripDataError, match=r"part_operator\[0\] is 'HSL' for a transit part"):
        make_table(
            [("central", "central", 1.0)],
            [(0, "walk_transit", 600, 800, [("HSL", "transit", False, 280, "transit")])],
        )


def test_only_rental_parts_of_rental_transit_options_are_first_or_last_mile():
    with pytest.raises(TripDataError, match=r"part_access\[0\] is true for a rental part"):
        make_table(
            [("central", "central", 1.0)],
            [(0, "rental", 600, 800, [(BIKES, "rental", True, 280, "bike_share")])],
        )
    with pytest.raises(TripDataError, match=r"part_access\[0\] is true for a transit part"):
        make_table(
            [("central", "central", 1.0)],
            [(0, "rental_transit", 600, 800, [(HSL, "transit", True, 280, "transit")])],
        )


def test_a_rental_part_cannot_ride_transit():
    with pytest.raises(TripDataError, match=r"part_vehicle\[0\] is 'transit' for a rental part"):
        make_table(
            [("central", "central", 1.0)],
            [(0, "rental", 600, 800, [(BIKES, "rental", False, 280, "transit")])],
        )


def test_without_part_vehicle_rental_parts_are_of_unknown_vehicle():
    table = two_slots(part_vehicle=None)
    assert table.vehicles.tolist() == ["transit", "transit", "rental", "transit", "rental"]


def test_slots_refuse_unknown_classes_and_non_finite_trips():
    with pytest.raises(TripDataError, match=r"origin_class\[0\] is 'suburb'"):
        make_slots([("suburb", "central", 1.0)])
    with pytest.raises(TripDataError, match=r"trips\[1\] is nan; expected a finite number"):
        make_slots([("central", "central", 1.0), ("central", "central", float("nan"))])
    with pytest.raises(TripDataError, match=r"trips\[0\] is -1.0; expected >= 0"):
        make_slots([("central", "central", -1.0)])


def test_an_unknown_currency_and_a_foreign_slots_object_are_refused():
    assert "currency: unknown currency code 'EURO'" in refused(currency="EURO")
    assert "slots must be a TripSlots, got dict" in refused(slots={})


def test_with_prices_validates_the_new_parts_again():
    table = two_slots()
    price = np.array([0, 450, 450, 450, 450], dtype=np.int64)
    parts = np.array([450, 450, 150, 300, 450], dtype=np.int64)
    assert table.with_prices(price, parts).price_minor.tolist() == price.tolist()
    with pytest.raises(TripDataError, match="option 3's parts sum to 451"):
        table.with_prices(price, np.array([450, 450, 151, 300, 450], dtype=np.int64))


def test_an_empty_table_is_valid():
    slots = TripSlots([], [], [], [], np.array([], dtype=np.int32), [])
    table = OptionTable(
        slots, [], [], [], [], np.array([], dtype=np.int64), [], [], [], [], [], "EUR"
    )
    assert len(table) == 0 and table.parts_sum().tolist() == []
