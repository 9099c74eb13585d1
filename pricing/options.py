"""The options residents have, priced in full: the table the mobility-wide evaluation works on.

Issue 13 evaluates every mode at once. A search (``evaluation/``) finds, for each OD pair and
departure time, the options a resident has (walk, walk + transit, a rental the whole way,
rental + transit, their own bike) and prices them. Everything after that (the choice rule,
cross-mode policies, the money that has to move between operators) is pure arithmetic over
this one typed table, so it lives here in `pricing/`, below the search, and the search only
has to fill it.

Two tables, struct-of-arrays like the router's, with dense int indexes inside and ids only in
the object columns:

* `TripSlots`: one row per (OD pair, departure time): the zones, their classes and the demand
  weight of the slot;
* `OptionTable`: one row per (slot, option), with its duration, distance and base price, plus a
  long table of *parts* (who receives the money: each transit agency and each rental provider
  the option pays), so that compensation can be computed per operator.

Both are validated on construction (`TripDataError` naming the column, the row and what was
expected) and their arrays are read-only: a table that was checked once cannot be changed
behind the checker's back. Columns given as lists are converted; money and int columns given
as floats are refused, because a float price has already lost the exact amount.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final

import numpy as np

from pricing.errors import PricingError
from pricing.money import currency_exponent
from pricing.policy import ZONE_CLASSES
from pricing.policy_apply import TripDataError

#: what kind of trip an option is (the families issue 13 names)
OPTION_FAMILIES: Final[tuple[str, ...]] = (
    "walk",
    "walk_transit",
    "rental",
    "rental_transit",
    "own_bike",
)
#: families with no operator to pay: their options have no parts and cost nothing
FREE_FAMILIES: Final[frozenset[str]] = frozenset({"walk", "own_bike"})
#: kind of a part -> the prefix its operator id must carry
PART_KINDS: Final[Mapping[str, str]] = {"transit": "transit:", "rental": "provider:"}
#: vehicle families a rental part may name (the policy document's rental mode families)
RENTAL_VEHICLE_FAMILIES: Final[tuple[str, ...]] = ("bike_share", "scooter", "car_share", "moped")
#: a rental part whose vehicle family the search did not record
UNKNOWN_VEHICLE: Final[str] = "rental"
#: largest option price or part accepted, minor units (the policy documents' MAX_MINOR x 10)
MAX_OPTION_MINOR: Final[int] = 10_000_000_000


def _column(name: str, values: object, n: int | None) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise TripDataError(f"{name} must be 1-D, got shape {array.shape}")
    if n is not None and array.shape[0] != n:
        raise TripDataError(f"{name} has {array.shape[0]} rows; expected {n}")
    return array


def _int_column(name: str, values: object, n: int | None, dtype: type[np.integer]) -> np.ndarray:
    """An integer column converted exactly to `dtype`, refusing floats and out-of-range values."""
    array = _column(name, values, n)
    if array.size and array.dtype.kind not in "iu":
        raise TripDataError(f"{name} must hold integers, got dtype {array.dtype}")
    info = np.iinfo(dtype)
    if array.size and (int(array.min()) < info.min or int(array.max()) > info.max):
        raise TripDataError(f"{name} has values outside {np.dtype(dtype).name}")
    return array.astype(dtype)


def _non_negative(name: str, array: np.ndarray, upper: float | None = None) -> None:
    if not array.size:
        return
    low = int(np.argmin(array))
    if array[low] < 0:
        raise TripDataError(f"{name}[{low}] is {array[low]}; expected >= 0")
    if upper is not None:
        high = int(np.argmax(array))
        if array[high] > upper:
            raise TripDataError(f"{name}[{high}] is {array[high]}; expected <= {upper:.0f}")


def _labels(name: str, values: object, n: int | None, allowed: tuple[str, ...]) -> np.ndarray:
    array = _column(name, values, n).astype(object)
    bad = ~np.isin(array, allowed)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise TripDataError(f"{name}[{row}] is {array[row]!r}; expected one of {allowed}")
    return array


def _ids(name: str, values: object, n: int | None) -> np.ndarray:
    array = _column(name, values, n).astype(object)
    bad = np.fromiter((not isinstance(v, str) or not v for v in array), bool, array.shape[0])
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise TripDataError(f"{name}[{row}] is {array[row]!r}; expected a non-empty string id")
    return array


def _freeze(obj: object, columns: Mapping[str, np.ndarray]) -> None:
    for name, column in columns.items():
        column.flags.writeable = False
        object.__setattr__(obj, name, column)


@dataclass(frozen=True)
class TripSlots:
    """One row per (OD pair, departure time): where a trip goes, when, and how many make it.

    Departure times across a peak are separate slots whose `trips` share the OD pair's demand
    (OD trips / number of departures), so averaging over departures, as accessibility
    studies do, is a weighted sum with no extra step.
    """

    #: slot -> origin zone id
    origin_zone: np.ndarray
    #: slot -> destination zone id
    dest_zone: np.ndarray
    #: slot -> class of the origin zone, "central" | "peripheral"
    origin_class: np.ndarray
    #: slot -> class of the destination zone, "central" | "peripheral"
    dest_class: np.ndarray
    #: slot -> departure, int32 seconds of the service day
    departure_s: np.ndarray
    #: slot -> demand weight, trips (float64, finite, >= 0)
    trips: np.ndarray

    def __post_init__(self) -> None:
        trips = _column("trips", self.trips, None)
        if trips.size and trips.dtype.kind not in "iuf":
            raise TripDataError(f"trips must be numbers, got dtype {trips.dtype}")
        trips = trips.astype(np.float64)
        n = trips.shape[0]
        if not np.isfinite(trips).all():
            row = int(np.flatnonzero(~np.isfinite(trips))[0])
            raise TripDataError(f"trips[{row}] is {trips[row]}; expected a finite number")
        _non_negative("trips", trips)
        columns = {
            "origin_zone": _ids("origin_zone", self.origin_zone, n),
            "dest_zone": _ids("dest_zone", self.dest_zone, n),
            "origin_class": _labels("origin_class", self.origin_class, n, ZONE_CLASSES),
            "dest_class": _labels("dest_class", self.dest_class, n, ZONE_CLASSES),
            "departure_s": _int_column("departure_s", self.departure_s, n, np.int32),
            "trips": trips,
        }
        _freeze(self, columns)

    def __len__(self) -> int:
        return int(self.trips.shape[0])

    def touches_periphery(self) -> np.ndarray:
        """Boolean mask of the slots with a peripheral origin or destination."""
        mask: np.ndarray = (self.origin_class == "peripheral") | (self.dest_class == "peripheral")
        return mask

    def both_central(self) -> np.ndarray:
        """Boolean mask of the slots with both ends central (the policies' "centre")."""
        return ~self.touches_periphery()


@dataclass(frozen=True)
class OptionTable:
    """One row per (slot, option a resident has), and who receives each option's price.

    Every option's parts sum exactly to its `price_minor`; options of the free families
    (walk, own bike) have no parts; a rental part is `part_access` only inside a
    rental + transit option (the first or last mile of a transit trip). `part_vehicle` says
    which rental family a rental part rides (``"bike_share"``, ``"scooter"``, ...; transit
    parts say ``"transit"``); when it is not given, transit parts get ``"transit"`` and rental
    parts `UNKNOWN_VEHICLE`, and a policy that prices only some rental families refuses them.
    """

    slots: TripSlots
    #: option -> row of `slots` it answers (int32)
    slot: np.ndarray
    #: option -> family, one of OPTION_FAMILIES
    family: np.ndarray
    #: option -> door-to-door duration, int32 seconds (waiting at the origin excluded)
    duration_s: np.ndarray
    #: option -> door-to-door distance, int32 metres (what per-km measures use)
    distance_m: np.ndarray
    #: option -> what the rider pays before any policy, int64 minor units (= sum of its parts)
    price_minor: np.ndarray
    #: part -> option row it belongs to (int32)
    part_option: np.ndarray
    #: part -> who receives it: "transit:<agency or feed>" | "provider:<system_id>"
    part_operator: np.ndarray
    #: part -> "transit" | "rental"
    part_kind: np.ndarray
    #: part -> a rental part used as first/last mile of a transit trip (bool)
    part_access: np.ndarray
    #: part -> amount, int64 minor units (>= 0)
    part_minor: np.ndarray
    #: ISO 4217 currency of every amount
    currency: str
    #: set when fleets or demand are SYNTHETIC; every report built on the table repeats it
    synthetic_note: str | None = None
    #: part -> vehicle family ("transit", a RENTAL_VEHICLE_FAMILIES name or UNKNOWN_VEHICLE)
    part_vehicle: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.slots, TripSlots):
            raise TripDataError(f"slots must be a TripSlots, got {type(self.slots).__name__}")
        try:
            currency_exponent(self.currency)
        except PricingError as e:
            raise TripDataError(f"currency: {e}") from None
        if self.synthetic_note is not None and not (
            isinstance(self.synthetic_note, str) and self.synthetic_note.strip()
        ):
            raise TripDataError("synthetic_note must be None or a non-empty text")
        options = self._option_columns()
        parts = self._part_columns(options)
        _freeze(self, {**options, **parts})

    def _option_columns(self) -> dict[str, np.ndarray]:
        slot = _int_column("slot", self.slot, None, np.int32)
        n = slot.shape[0]
        if n and (slot.min() < 0 or slot.max() >= len(self.slots)):
            row = int(np.flatnonzero((slot < 0) | (slot >= len(self.slots)))[0])
            raise TripDataError(
                f"slot[{row}] is {slot[row]}; expected a row of slots (0..{len(self.slots) - 1})"
            )
        columns = {
            "slot": slot,
            "family": _labels("family", self.family, n, OPTION_FAMILIES),
            "duration_s": _int_column("duration_s", self.duration_s, n, np.int32),
            "distance_m": _int_column("distance_m", self.distance_m, n, np.int32),
            "price_minor": _int_column("price_minor", self.price_minor, n, np.int64),
        }
        _non_negative("duration_s", columns["duration_s"])
        _non_negative("distance_m", columns["distance_m"])
        _non_negative("price_minor", columns["price_minor"], MAX_OPTION_MINOR)
        return columns

    def _part_columns(self, options: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        n_options = options["slot"].shape[0]
        option = _int_column("part_option", self.part_option, None, np.int32)
        m = option.shape[0]
        if m and (option.min() < 0 or option.max() >= n_options):
            row = int(np.flatnonzero((option < 0) | (option >= n_options))[0])
            raise TripDataError(
                f"part_option[{row}] is {option[row]}; expected an option row "
                f"(0..{n_options - 1})"
            )
        kind = _labels("part_kind", self.part_kind, m, tuple(PART_KINDS))
        operator = _ids("part_operator", self.part_operator, m)
        access = _column("part_access", self.part_access, m)
        if access.size and access.dtype != np.bool_:
            raise TripDataError(f"part_access must be booleans, got dtype {access.dtype}")
        amount = _int_column("part_minor", self.part_minor, m, np.int64)
        _non_negative("part_minor", amount, MAX_OPTION_MINOR)
        vehicle = self._vehicle_column(kind, m)
        columns = {
            "part_option": option,
            "part_operator": operator,
            "part_kind": kind,
            "part_access": access.astype(bool),
            "part_minor": amount,
            "part_vehicle": vehicle,
        }
        _check_parts(options, columns)
        return columns

    def _vehicle_column(self, kind: np.ndarray, m: int) -> np.ndarray:
        if self.part_vehicle is None:
            return np.where(kind == "transit", "transit", UNKNOWN_VEHICLE).astype(object)
        allowed = ("transit", *RENTAL_VEHICLE_FAMILIES, UNKNOWN_VEHICLE)
        vehicle = _labels("part_vehicle", self.part_vehicle, m, allowed)
        wrong = (kind == "transit") != (vehicle == "transit")
        if wrong.any():
            row = int(np.flatnonzero(wrong)[0])
            raise TripDataError(
                f"part_vehicle[{row}] is {vehicle[row]!r} for a {kind[row]} part; a transit "
                "part rides 'transit' and a rental part a rental vehicle family"
            )
        return vehicle

    # -- derived facts -------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.slot.shape[0])

    @property
    def vehicles(self) -> np.ndarray:
        """Per part, its vehicle family: `part_vehicle` as filled in on construction."""
        vehicle = self.part_vehicle
        if vehicle is None:  # pragma: no cover - __post_init__ always fills it
            raise TripDataError("part_vehicle was not filled in on construction")
        return vehicle

    def parts_sum(self, amounts: np.ndarray | None = None) -> np.ndarray:
        """Per option, the sum of `amounts` over its parts (default `part_minor`), int64."""
        values = self.part_minor if amounts is None else amounts
        total = np.zeros(len(self), dtype=np.int64)
        np.add.at(total, self.part_option, values.astype(np.int64))
        return total

    def kind_minor(self, kind: str) -> np.ndarray:
        """Per option, the amount its parts of `kind` ("transit" | "rental") receive, int64."""
        if kind not in PART_KINDS:
            raise TripDataError(f"unknown part kind {kind!r}; expected one of {tuple(PART_KINDS)}")
        return self.parts_sum(np.where(self.part_kind == kind, self.part_minor, 0))

    def access_minor(self) -> np.ndarray:
        """Per option, the amount of its rental parts used as first/last mile, int64."""
        return self.parts_sum(np.where(self.part_access, self.part_minor, 0))

    def part_count(self) -> np.ndarray:
        """Per option, how many parts it has (0 for walk and own bike)."""
        return np.bincount(self.part_option, minlength=len(self)).astype(np.int64)

    def option_trips(self) -> np.ndarray:
        """Per option, the demand weight of its slot (before any choice)."""
        weights: np.ndarray = self.slots.trips[self.slot]
        return weights

    def touches_periphery(self) -> np.ndarray:
        """Per option, whether its slot has a peripheral end."""
        mask: np.ndarray = self.slots.touches_periphery()[self.slot]
        return mask

    def with_prices(self, price_minor: np.ndarray, part_minor: np.ndarray) -> OptionTable:
        """The same options with other prices and parts (validated again: parts must add up)."""
        return replace(self, price_minor=price_minor, part_minor=part_minor)


def _check_parts(options: Mapping[str, np.ndarray], parts: Mapping[str, np.ndarray]) -> None:
    """Parts add up to each option's price; kinds, operators and access flags agree."""
    kind, operator, option = parts["part_kind"], parts["part_operator"], parts["part_option"]
    for name, prefix in PART_KINDS.items():
        rows = kind == name
        named = np.fromiter(
            (o.startswith(prefix) and len(o) > len(prefix) for o in operator),
            bool,
            operator.shape[0],
        )
        bad = rows & ~named
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise TripDataError(
                f"part_operator[{row}] is {operator[row]!r} for a {name} part; expected "
                f"'{prefix}<id>'"
            )
    family = options["family"]
    free = np.isin(family[option], list(FREE_FAMILIES))
    if free.any():
        row = int(np.flatnonzero(free)[0])
        raise TripDataError(
            f"part {row} belongs to option {option[row]}, a {family[option[row]]!r} option; "
            f"options of {sorted(FREE_FAMILIES)} pay no operator and have no parts"
        )
    misplaced = parts["part_access"] & ((kind != "rental") | (family[option] != "rental_transit"))
    if misplaced.any():
        row = int(np.flatnonzero(misplaced)[0])
        raise TripDataError(
            f"part_access[{row}] is true for a {kind[row]} part of a {family[option[row]]!r} "
            "option; only rental parts of 'rental_transit' options are first/last mile"
        )
    total = np.zeros(options["price_minor"].shape[0], dtype=np.int64)
    np.add.at(total, option, parts["part_minor"])
    wrong = total != options["price_minor"]
    if wrong.any():
        row = int(np.flatnonzero(wrong)[0])
        raise TripDataError(
            f"option {row}'s parts sum to {total[row]} but its price_minor is "
            f"{options['price_minor'][row]}; every option's parts must add up to its price"
        )
