"""Pricing policy documents: what a city planner writes, validated before anything is priced.

A policy is a small versioned YAML or JSON document (see `data/policies/`) naming the mode
families it prices and an ordered list of measures (a city-wide average charge, partial
averaging toward a target, a peripheral discount, caps). It is configuration written by people
and posted over an API, so it is validated strictly and every refusal names the field
(``measures[1].discount_pct``) and what was expected: a planner should never have to guess
why a document was refused, and a typo must never silently become a different policy.

Strictness choices, and why:

* unknown fields and duplicate keys are refused (a misspelt ``discount_pt`` or a second
  ``alpha`` would otherwise be ignored or silently win);
* amounts are integer minor units (``charge_minor: 280``); a float such as ``2.8`` is refused
  with a hint rather than guessed at, because money is never float in fairtrip;
* strings are not coerced to numbers (``"1"`` is not ``1``) and numbers must be finite;
* YAML aliases are refused and documents are limited to 256 KiB and 32 levels of nesting, so
  a hostile document cannot make validation walk an exponential structure.

One measure parameter may be left out to be *solved* (`pricing.neutrality`) so that revenue
stays equal to the status quo: ``charge_minor`` of a city-wide average, ``target_minor`` of a
partial average, ``surcharge_pct`` of a peripheral discount. `Policy.with_parameter` returns
the fully specified policy once the value is known.

Two kinds of measures exist. *Per-family* measures (city-wide average, partial average,
peripheral discount, cap) price each mode family's legs of a trip on their own; `/plan` and
the transit matrix apply them (`pricing.policy_apply`). *Cross-mode* measures (one charge per
trip, per-km averaging, first/last-mile credit, caps across modes) price a whole door-to-door
option whatever modes it combines, so they need the options a resident has: they are applied
to a `pricing.options.OptionTable` by `pricing.cross_mode`. A policy holds one kind or the
other, never both, because the order in which a per-leg and a per-trip measure compose would
be a hidden choice.
"""

from __future__ import annotations

import hashlib
import json
import reprlib
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Final, Literal, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Strict,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from pricing.errors import PricingError
from pricing.money import Money, currency_exponent
from pricing.names import control_character_message

#: document format versions this code reads (``fairtrip_policy: 1``)
SUPPORTED_FORMATS: Final[tuple[int, ...]] = (1,)
#: largest document accepted by `parse_policy`, in bytes (UTF-8)
MAX_DOCUMENT_BYTES: Final[int] = 256 * 1024
#: deepest nesting of mappings and lists accepted (a real policy uses 3)
MAX_DEPTH: Final[int] = 32
#: largest policy version (and document format number): fits a signed 32-bit column in any
#: store, so a version such as 2**63 is refused here, naming the field, not by the database
MAX_VERSION: Final[int] = 2**31 - 1
#: largest amount in minor units (10 million EUR): keeps every price exact in int64 and float64
MAX_MINOR: Final[int] = 1_000_000_000
#: largest central surcharge, in percent (the solver's search range is [0, MAX_SURCHARGE_PCT])
MAX_SURCHARGE_PCT: Final[float] = 1000.0
#: id of the built-in status quo; the only policy allowed version 0
STATUS_QUO_ID: Final[str] = "status-quo"

ModeFamily = Literal["transit", "bike_share", "scooter", "car_share", "moped"]
#: every mode family a policy may price
MODE_FAMILIES: Final[tuple[str, ...]] = get_args(ModeFamily)
ZoneClass = Literal["central", "peripheral"]
#: zone classes of a trip's origin and destination
ZONE_CLASSES: Final[tuple[str, ...]] = get_args(ZoneClass)

_FAMILY_LABELS: Final[Mapping[str, str]] = {
    "transit": "transit",
    "bike_share": "bike-share",
    "scooter": "scooter",
    "car_share": "car-share",
    "moped": "moped",
}
_SLUG_CHARS: Final[frozenset[str]] = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_short = reprlib.Repr()  # short reprs of offending values in messages
_short.maxlevel, _short.maxstring, _short.maxother, _short.maxlist, _short.maxdict = 1, 40, 40, 4, 4


class PolicyError(PricingError, ValueError):
    """A policy document is malformed or breaks a rule.

    `field` is the dotted path of the offending field (``measures[1].discount_pct``; empty for
    the document as a whole) and `message` says what was expected. When a document has several
    problems, `errors` lists every ``(field, message)`` pair and the string shows them all.
    """

    def __init__(self, field: str, message: str, *, errors: Sequence[tuple[str, str]] = ()) -> None:
        self.field = field
        self.message = message
        self.errors: tuple[tuple[str, str], ...] = tuple(errors) or ((field, message),)
        super().__init__("; ".join(f"{f}: {m}" if f else m for f, m in self.errors))


# -- field types -----------------------------------------------------------------------------


def _minor_amount(value: Any) -> Any:
    """Refuse floats and bools for a ``*_minor`` amount with a hint (before pydantic's check)."""
    if isinstance(value, bool):
        raise PydanticCustomError(
            "minor_amount", "expected an integer amount in minor units, got a boolean"
        )
    if isinstance(value, float):
        if value.is_integer():
            hint = f"write {int(value)} without a decimal point"
        else:
            hint = (
                f"amounts are integer minor units: if {value} is in major units of a "
                f"two-decimal currency, write {round(value * 100)}"
            )
        raise PydanticCustomError(
            "minor_amount",
            "expected an integer amount in minor units (e.g. 280 for 2.80 EUR), "
            "got the float {value} ({hint})",
            {"value": value, "hint": hint},
        )
    return value


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("number_type", "expected a number, got a boolean")
    return value


def _slug(value: str) -> str:
    if not 3 <= len(value) <= 64 or not set(value) <= _SLUG_CHARS:
        raise PydanticCustomError(
            "slug",
            "expected a slug of 3-64 characters from a-z, 0-9 and '-', got {value}",
            {"value": _short.repr(value)},
        )
    return value


def _plain_text(allow: str) -> Any:
    """An after-validator refusing control characters in text shown to people (see
    `pricing.names`); `allow` lists the ones a longer text may keep (line breaks).
    """

    def check(value: str) -> str:
        message = control_character_message(value, allow=allow)
        if message is not None:
            raise PydanticCustomError("control_character", "{message}", {"message": message})
        return value

    return check


def _currency(value: str) -> str:
    try:
        currency_exponent(value)
    except PricingError as e:
        raise PydanticCustomError("currency", "{message}", {"message": str(e)}) from None
    return value


MinorAmount = Annotated[int, BeforeValidator(_minor_amount), Strict(), Field(ge=0, le=MAX_MINOR)]
PositiveMinor = Annotated[int, BeforeValidator(_minor_amount), Strict(), Field(gt=0, le=MAX_MINOR)]
Number = Annotated[float, BeforeValidator(_no_bool), Strict()]


class MeasureBase(BaseModel):
    """Common configuration of the measure models (strict, immutable)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    #: the field that may be omitted to be solved for revenue neutrality, if any
    solvable: ClassVar[str | None] = None
    #: short name used in reasons and errors
    label: ClassVar[str] = ""


class CityWideAverage(MeasureBase):
    """Every trip of the policy's families costs the same `charge_minor` (solved if omitted)."""

    solvable: ClassVar[str | None] = "charge_minor"
    label: ClassVar[str] = "city-wide average charge"
    type: Literal["city_wide_average"] = "city_wide_average"
    charge_minor: MinorAmount | None = None


class PartialAverage(MeasureBase):
    """Move each price a fraction `alpha` of the way toward `target_minor`: p + α(target - p).

    The natural target is the trip-weighted city-wide average price, which is what solving it
    for revenue neutrality gives when demand is fixed.
    """

    solvable: ClassVar[str | None] = "target_minor"
    label: ClassVar[str] = "partial averaging"
    type: Literal["partial_average"] = "partial_average"
    alpha: Annotated[Number, Field(ge=0.0, le=1.0)]
    target_minor: MinorAmount | None = None


class PeripheralDiscount(MeasureBase):
    """Trips touching the periphery get `discount_pct` off; central-central trips a surcharge.

    A trip touches the periphery when its origin or its destination zone is peripheral.
    """

    solvable: ClassVar[str | None] = "surcharge_pct"
    label: ClassVar[str] = "peripheral discount"
    type: Literal["peripheral_discount"] = "peripheral_discount"
    discount_pct: Annotated[Number, Field(gt=0.0, le=100.0)]
    surcharge_pct: Annotated[Number, Field(ge=0.0, le=MAX_SURCHARGE_PCT)] | None = None


class Cap(MeasureBase):
    """A price ceiling: per trip, and/or per day over `trips_per_day` trips.

    A rider making `trips_per_day` trips of this kind in a day pays at most `per_day_minor`
    for them: each trip is capped at ``per_day_minor // trips_per_day`` (rounded *down*, so
    the day's total never exceeds the cap after rounding to whole minor units).
    """

    label: ClassVar[str] = "cap"
    type: Literal["cap"] = "cap"
    per_trip_minor: PositiveMinor | None = None
    per_day_minor: PositiveMinor | None = None
    trips_per_day: Annotated[int, BeforeValidator(_no_bool), Strict(), Field(ge=1, le=20)] = 2

    @model_validator(mode="after")
    def _check_cap(self) -> Cap:
        if self.per_trip_minor is None and self.per_day_minor is None:
            raise _rule("", "a cap needs per_trip_minor and/or per_day_minor")
        if self.per_day_minor is None and "trips_per_day" in self.model_fields_set:
            raise _rule("trips_per_day", "trips_per_day only applies with per_day_minor")
        if self.per_day_minor is not None and self.per_day_minor < self.trips_per_day:
            raise _rule(
                "per_day_minor",
                f"per_day_minor {self.per_day_minor} shared over {self.trips_per_day} trips "
                "is less than one minor unit a trip; expected per_day_minor >= trips_per_day",
            )
        return self

    def per_trip_limit_minor(self) -> int:
        """The effective ceiling on one trip's price, in minor units."""
        limits = []
        if self.per_trip_minor is not None:
            limits.append(self.per_trip_minor)
        if self.per_day_minor is not None:
            limits.append(self.per_day_minor // self.trips_per_day)
        return min(limits)


# -- cross-mode measures (priced on whole options by pricing.cross_mode) --------------------

#: largest per-km rate, minor units per km (the solver's search range is [0, MAX_RATE_PER_KM])
MAX_RATE_PER_KM: Final[float] = 100_000.0
#: most trips a distribution may give one rider in a day / in a month
MAX_TRIPS_PER_DAY: Final[int] = 20
MAX_TRIPS_PER_MONTH: Final[int] = 400
#: how far the shares of a trips-per-rider distribution may sum from 1
SHARE_TOLERANCE: Final[float] = 1e-6


class OneChargePerTrip(MeasureBase):
    """Every option that uses a priced service costs `charge_minor`, whatever its modes.

    The MaaS-style city-wide average: walk + transit, a rental the whole way and rental +
    transit all cost the same one charge; walking and one's own bike (no operator) stay free.
    Solved for revenue neutrality of the whole system when omitted.
    """

    solvable: ClassVar[str | None] = "charge_minor"
    label: ClassVar[str] = "one charge per trip"
    type: Literal["one_charge_per_trip"] = "one_charge_per_trip"
    charge_minor: MinorAmount | None = None


class PerKmAverage(MeasureBase):
    """Every priced option costs ``boarding_minor + rate_minor_per_km x distance``, any modes.

    One price per kilometre across modes; the rate is a float (minor units per km) because a
    whole-unit rate is too coarse (1 cent/km is 3 % of a 30 cents/km rate) for neutrality
    within 0.5 %. Each trip's price is rounded to whole minor units once, at the end.
    """

    solvable: ClassVar[str | None] = "rate_minor_per_km"
    label: ClassVar[str] = "per-km averaging"
    type: Literal["per_km_average"] = "per_km_average"
    rate_minor_per_km: Annotated[Number, Field(ge=0.0, le=MAX_RATE_PER_KM)] | None = None
    boarding_minor: MinorAmount = 0


class FirstLastMileCredit(MeasureBase):
    """Rental first/last miles of transit trips with a peripheral end get `credit_pct` off.

    The credit applies to the rental parts used as access or egress of a transit trip
    (`OptionTable.part_access`) when the trip's origin or destination is peripheral, at most
    `credit_max_minor` per trip when given. It is funded by a `surcharge_pct` on every priced
    trip with both ends central (solved for revenue neutrality when omitted).
    """

    solvable: ClassVar[str | None] = "surcharge_pct"
    label: ClassVar[str] = "first/last-mile credit"
    type: Literal["first_last_mile_credit"] = "first_last_mile_credit"
    credit_pct: Annotated[Number, Field(gt=0.0, le=100.0)]
    credit_max_minor: PositiveMinor | None = None
    surcharge_pct: Annotated[Number, Field(ge=0.0, le=MAX_SURCHARGE_PCT)] | None = None


class TripsShare(BaseModel):
    """One point of a trips-per-rider distribution: a `share` of riders make `trips` trips."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    trips: Annotated[int, BeforeValidator(_no_bool), Strict(), Field(ge=1, le=MAX_TRIPS_PER_MONTH)]
    share: Annotated[Number, Field(gt=0.0, le=1.0)]


Distribution = Annotated[tuple[TripsShare, ...], Field(min_length=1, max_length=64)]


class CrossModeCap(MeasureBase):
    """Caps on what a rider pays across every mode in a day and in a month.

    A cap works on a rider's total, which an OD table does not see, so the policy states how
    many trips riders make: `trips_per_rider_day` (share of rider-days with k trips) and
    `trips_per_rider_month` (share of rider-months with m trips). `pricing.cross_mode` turns
    them into the expected capped price of each trip (see `expected_capped_price` there).
    """

    label: ClassVar[str] = "cap across modes"
    type: Literal["cross_mode_cap"] = "cross_mode_cap"
    per_day_minor: PositiveMinor | None = None
    per_month_minor: PositiveMinor | None = None
    trips_per_rider_day: Distribution | None = None
    trips_per_rider_month: Distribution | None = None

    @model_validator(mode="after")
    def _check_cap(self) -> CrossModeCap:
        if self.per_day_minor is None and self.per_month_minor is None:
            raise _rule("", "a cap across modes needs per_day_minor and/or per_month_minor")
        for cap, name, most in (
            ("per_day_minor", "trips_per_rider_day", MAX_TRIPS_PER_DAY),
            ("per_month_minor", "trips_per_rider_month", MAX_TRIPS_PER_MONTH),
        ):
            _check_distribution(getattr(self, cap), cap, getattr(self, name), name, most)
        return self


def _check_distribution(
    cap: int | None, cap_name: str, points: tuple[TripsShare, ...] | None, name: str, most: int
) -> None:
    """A distribution is given exactly when its cap is, has distinct counts and sums to 1."""
    if cap is None:
        if points is not None:
            raise _rule(name, f"{name} only applies with {cap_name}")
        return
    if points is None:
        raise _rule(name, f"{cap_name} needs {name}: the share of riders making each count")
    seen: set[int] = set()
    for i, point in enumerate(points):
        if point.trips in seen:
            raise _rule(f"{name}[{i}].trips", f"{point.trips} trips is listed twice")
        if point.trips > most:
            raise _rule(f"{name}[{i}].trips", f"expected at most {most} trips, got {point.trips}")
        seen.add(point.trips)
    total = sum(point.share for point in points)
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise _rule(name, f"the shares sum to {total:.6g}; expected 1")


Measure = Annotated[
    CityWideAverage
    | PartialAverage
    | PeripheralDiscount
    | Cap
    | OneChargePerTrip
    | PerKmAverage
    | FirstLastMileCredit
    | CrossModeCap,
    Discriminator("type"),
]
#: measure type tag -> model
MEASURE_TYPES: Final[Mapping[str, type[MeasureBase]]] = {
    "city_wide_average": CityWideAverage,
    "partial_average": PartialAverage,
    "peripheral_discount": PeripheralDiscount,
    "cap": Cap,
    "one_charge_per_trip": OneChargePerTrip,
    "per_km_average": PerKmAverage,
    "first_last_mile_credit": FirstLastMileCredit,
    "cross_mode_cap": CrossModeCap,
}
#: measures that price whole door-to-door options (pricing.cross_mode), not one family's legs
CROSS_MODE_MEASURES: Final[tuple[type[MeasureBase], ...]] = (
    OneChargePerTrip,
    PerKmAverage,
    FirstLastMileCredit,
    CrossModeCap,
)
#: the mode families a rental part may belong to
RENTAL_MODE_FAMILIES: Final[tuple[str, ...]] = ("bike_share", "scooter", "car_share", "moped")


def _rule(field: str, message: str) -> PydanticCustomError:
    """A cross-field rule violation; `field` is relative to the model that raises it."""
    return PydanticCustomError("policy_rule", "{message}", {"field": field, "message": message})


# -- the policy ------------------------------------------------------------------------------


class Policy(BaseModel):
    """A validated policy document (immutable). Build one with `parse_policy`/`validate_policy`.

    Constructing the model directly raises pydantic's `ValidationError`; the two functions
    translate it into a `PolicyError` with field paths a planner can read.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    fairtrip_policy: Annotated[int, Strict(), Field(ge=1, le=MAX_VERSION)]
    id: Annotated[str, Strict(), AfterValidator(_slug)]
    version: Annotated[int, BeforeValidator(_no_bool), Strict(), Field(ge=0, le=MAX_VERSION)]
    name: Annotated[
        str, Strict(), Field(min_length=1, max_length=200), AfterValidator(_plain_text(""))
    ]
    description: (
        Annotated[str, Strict(), Field(max_length=4000), AfterValidator(_plain_text("\n\t"))] | None
    ) = None
    currency: Annotated[str, Strict(), AfterValidator(_currency)]
    mode_families: Annotated[tuple[ModeFamily, ...], Field(min_length=1)]
    revenue_neutral: Annotated[bool, Strict()] = False
    elasticity: Annotated[Number, Field(ge=-3.0, le=0.0)] | None = None
    measures: tuple[Measure, ...] = ()

    #: (measure index, field) of a parameter set by `with_parameter`, for describe()
    _solved: tuple[int, str] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check_rules(self) -> Policy:
        if self.fairtrip_policy not in SUPPORTED_FORMATS:
            raise _rule("fairtrip_policy", _format_message(self.fairtrip_policy))
        if self.version == 0 and not self.is_status_quo:
            raise _rule(
                "version",
                "expected an integer >= 1 (version 0 is reserved for the built-in status quo)",
            )
        if self.id == STATUS_QUO_ID and not self.is_status_quo:
            raise _rule("id", f"{STATUS_QUO_ID!r} is reserved for the status quo (no measures)")
        seen: set[str] = set()
        for family in self.mode_families:
            if family in seen:
                raise _rule("mode_families", f"{family!r} is listed twice; list each once")
            seen.add(family)
        free = _open_parameters(self.measures)
        if len(free) > 1:
            names = " and ".join(f"measures[{i}].{f}" for i, f in free)
            raise _rule(
                f"measures[{free[1][0]}].{free[1][1]}",
                f"at most one parameter may be solved per policy, but {names} are both "
                "omitted; give all but one of them",
            )
        if free and not self.revenue_neutral:
            i, name = free[0]
            raise _rule(
                f"measures[{i}].{name}",
                f"{name} is omitted, so it would be solved for revenue neutrality, but "
                f"revenue_neutral is false; give {name} or set revenue_neutral: true",
            )
        if self.revenue_neutral and not free:
            raise _rule(
                "revenue_neutral",
                "revenue_neutral is true but there is nothing to solve: leave out one of "
                "charge_minor, target_minor, surcharge_pct or rate_minor_per_km so it can be "
                "solved, or set revenue_neutral: false",
            )
        self._check_cross_mode()
        return self

    def _check_cross_mode(self) -> None:
        """Cross-mode measures stand alone and cover transit and at least one rental family."""
        cross = [isinstance(m, CROSS_MODE_MEASURES) for m in self.measures]
        if not any(cross):
            return
        if not all(cross):
            i = cross.index(False)
            raise _rule(
                f"measures[{i}]",
                f"a {self.measures[i].label} prices one family's legs, but this policy's "
                f"measures[{cross.index(True)}] prices whole trips across modes; a policy "
                "holds per-family measures or cross-mode measures, not both",
            )
        if "transit" not in self.mode_families or not any(
            f in RENTAL_MODE_FAMILIES for f in self.mode_families
        ):
            raise _rule(
                "mode_families",
                "a cross-mode measure needs transit and at least one rental family "
                f"({', '.join(RENTAL_MODE_FAMILIES)}) in mode_families",
            )

    # -- derived facts ---------------------------------------------------------------------
    @property
    def is_status_quo(self) -> bool:
        """True for a policy that changes nothing (no measures)."""
        return not self.measures

    @property
    def is_cross_mode(self) -> bool:
        """True when the measures price whole options across modes (`pricing.cross_mode`)."""
        return any(isinstance(m, CROSS_MODE_MEASURES) for m in self.measures)

    @property
    def free_parameter(self) -> tuple[int, str] | None:
        """The (measure index, field name) left open to be solved, or None."""
        free = _open_parameters(self.measures)
        return free[0] if free else None

    @property
    def solved_parameter(self) -> tuple[int, str] | None:
        """The (measure index, field name) that `with_parameter` filled in, or None."""
        return self._solved

    def with_parameter(self, value: float) -> Policy:
        """A copy with the free parameter set to `value` (rounded half to even for ``*_minor``).

        Raises PolicyError if there is no free parameter or the value is out of range.
        """
        free = self.free_parameter
        if free is None:
            raise PolicyError("", f"policy {self.id!r} v{self.version} has no free parameter")
        index, name = free
        value = float(value)
        set_value: float | int = round(value) if name.endswith("_minor") else value
        measure = self.measures[index]
        try:
            new_measure = type(measure).model_validate(
                {**measure.model_dump(exclude_none=True), name: set_value}
            )
        except ValidationError as e:
            raise _translate(e, prefix=f"measures[{index}]") from None
        measures = (*self.measures[:index], new_measure, *self.measures[index + 1 :])
        solved = self.model_copy(update={"measures": measures})
        solved._solved = (index, name)
        return solved

    def parameter_value(self) -> float | None:
        """The value of the solved parameter (after `with_parameter`), else None."""
        if self._solved is None:
            return None
        index, name = self._solved
        value = getattr(self.measures[index], name)
        return float(value)

    def describe(self) -> list[str]:
        """One human-readable line per measure (empty for the status quo)."""
        return [self._describe(i, m) for i, m in enumerate(self.measures)]

    def _describe(self, index: int, m: MeasureBase) -> str:
        trips = " or ".join(_FAMILY_LABELS[f] for f in self.mode_families) + " trip"
        solved = " (solved for revenue neutrality)" if self._solved == (index, m.solvable) else ""
        if isinstance(m, CityWideAverage):
            if m.charge_minor is None:
                return f"every {trips} costs the same charge, solved for revenue neutrality"
            return f"every {trips} costs {self._money(m.charge_minor)}{solved}"
        if isinstance(m, PartialAverage):
            return self._describe_partial(m, trips, solved)
        if isinstance(m, PeripheralDiscount):
            return _describe_discount(m, trips, solved)
        if isinstance(m, Cap):
            return self._describe_cap(m, trips)
        return self._describe_cross_mode(m, solved)

    def _describe_cross_mode(self, m: MeasureBase, solved: str) -> str:
        if isinstance(m, OneChargePerTrip):
            if m.charge_minor is None:
                return (
                    "every paid trip costs one charge whatever its modes, solved for revenue "
                    "neutrality"
                )
            return f"every paid trip costs {self._money(m.charge_minor)} whatever its modes{solved}"
        if isinstance(m, PerKmAverage):
            boarding = f"{self._money(m.boarding_minor)} plus " if m.boarding_minor else ""
            if m.rate_minor_per_km is None:
                return (
                    f"every paid trip costs {boarding}one rate per km, solved for revenue "
                    "neutrality"
                )
            rate = f"{m.rate_minor_per_km:.2f} minor units of {self.currency} per km"
            return f"every paid trip costs {boarding}{rate} whatever its modes{solved}"
        if isinstance(m, FirstLastMileCredit):
            return self._describe_credit(m, solved)
        if isinstance(m, CrossModeCap):
            return self._describe_cross_cap(m)
        raise AssertionError(f"unhandled measure {m!r}")  # pragma: no cover

    def _describe_credit(self, m: FirstLastMileCredit, solved: str) -> str:
        limit = f" (at most {self._money(m.credit_max_minor)})" if m.credit_max_minor else ""
        head = (
            f"rental first/last miles of transit trips with a peripheral end get "
            f"{format_pct(m.credit_pct)}% off{limit}"
        )
        if m.surcharge_pct is None:
            return f"{head}; trips within the centre pay a surcharge solved for revenue neutrality"
        return f"{head}; trips within the centre pay {format_pct(m.surcharge_pct)}% more{solved}"

    def _describe_cross_cap(self, m: CrossModeCap) -> str:
        parts = []
        if m.per_day_minor is not None:
            parts.append(f"{self._money(m.per_day_minor)} a day")
        if m.per_month_minor is not None:
            parts.append(f"{self._money(m.per_month_minor)} a month")
        return "a rider pays at most " + " and ".join(parts) + " across every mode"

    def _describe_partial(self, m: PartialAverage, trips: str, solved: str) -> str:
        share = format_pct(m.alpha * 100)
        if m.target_minor is None:
            return (
                f"each {trips}'s price moves {share}% of the way toward a common target "
                "solved for revenue neutrality"
            )
        target = self._money(m.target_minor)
        return f"each {trips}'s price moves {share}% of the way toward {target}{solved}"

    def _describe_cap(self, m: Cap, trips: str) -> str:
        parts = []
        if m.per_trip_minor is not None:
            parts.append(f"a {trips} costs at most {self._money(m.per_trip_minor)}")
        if m.per_day_minor is not None:
            per_trip = self._money(m.per_day_minor // m.trips_per_day)
            parts.append(
                f"a rider pays at most {self._money(m.per_day_minor)} for "
                f"{m.trips_per_day} {trips}s a day (at most {per_trip} a trip)"
            )
        return "; ".join(parts)

    def _money(self, amount_minor: int) -> str:
        return Money(amount_minor, self.currency).format()

    def canonical_json(self) -> str:
        """Stable JSON of the document: sorted keys, no whitespace, omitted fields left out.

        Two documents that mean the same policy (key order, an explicit default, ``20`` vs
        ``20.0``) serialize identically, so the text is fit for storage and hashing. A value
        filled in by `with_parameter` is serialized as omitted: it is a result of solving,
        stored with the activation, not part of what the planner wrote.
        """
        data = self.model_dump(mode="json", exclude_none=True)
        if self._solved is not None:
            index, name = self._solved
            del data["measures"][index][name]
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def sha256(self) -> str:
        """Hex sha256 of `canonical_json` (the document's identity in the store)."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()


def status_quo(currency: str = "EUR", mode_families: Sequence[str] = MODE_FAMILIES) -> Policy:
    """The built-in "no change" policy (id ``status-quo``, version 0, no measures)."""
    return validate_policy(
        {
            "fairtrip_policy": SUPPORTED_FORMATS[-1],
            "id": STATUS_QUO_ID,
            "version": 0,
            "name": "Status quo (base fares)",
            "currency": currency,
            "mode_families": list(mode_families),
        }
    )


def _describe_discount(m: PeripheralDiscount, trips: str, solved: str) -> str:
    head = f"{trips}s to or from the periphery get {format_pct(m.discount_pct)}% off"
    centre = "; trips within the centre pay"
    if m.surcharge_pct is None:
        return f"{head}{centre} a surcharge solved for revenue neutrality"
    if m.surcharge_pct == 0:
        return f"{head}; no surcharge within the centre"
    return f"{head}{centre} a {format_pct(m.surcharge_pct)}% surcharge{solved}"


def _open_parameters(measures: Sequence[MeasureBase]) -> list[tuple[int, str]]:
    return [
        (i, m.solvable)
        for i, m in enumerate(measures)
        if m.solvable is not None and getattr(m, m.solvable) is None
    ]


def format_pct(value: float) -> str:
    """A percentage for people: at most two decimals, no trailing zeros (20, 12.5, 3.33)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _format_message(value: object) -> str:
    supported = ", ".join(str(v) for v in SUPPORTED_FORMATS)
    return (
        f"unsupported policy document format {_short.repr(value)}; this fairtrip reads "
        f"fairtrip_policy: {supported}"
    )


# -- validation errors -> PolicyError -----------------------------------------------------------


def _path(loc: Sequence[int | str]) -> str:
    """``('measures', 1, 'cap', 'per_trip_minor')`` -> ``measures[1].per_trip_minor``."""
    out = ""
    previous_was_index = False
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            previous_was_index = True
            continue
        if previous_was_index and part in MEASURE_TYPES:
            previous_was_index = False  # the discriminated union's tag, not a field
            continue
        previous_was_index = False
        out += f".{part}" if out else part
    return out


def _join(base: str, field: str) -> str:
    if not field:
        return base
    return f"{base}.{field}" if base else field


def _allowed_fields(loc: Sequence[int | str]) -> list[str]:
    """The field names of the model that `loc` (ending in an unknown field) points into."""
    if len(loc) >= 6 and loc[3] in ("trips_per_rider_day", "trips_per_rider_month"):
        return list(TripsShare.model_fields)
    if len(loc) >= 3 and loc[0] == "measures" and loc[2] in MEASURE_TYPES:
        return list(MEASURE_TYPES[str(loc[2])].model_fields)
    return list(Policy.model_fields)


def _translate(exc: ValidationError, *, prefix: str = "") -> PolicyError:
    errors: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        field = _join(prefix, _path(loc))
        kind = err["type"]
        ctx = err.get("ctx") or {}
        if kind == "policy_rule":
            field = _join(field, str(ctx.get("field", "")))
            message = str(ctx["message"])
        elif kind == "missing":
            message = "required field is missing"
        elif kind == "extra_forbidden":
            message = "unknown field; expected one of: " + ", ".join(_allowed_fields(loc))
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            known = ", ".join(MEASURE_TYPES)
            if kind == "union_tag_invalid":
                message = f"unknown measure type {_short.repr(ctx.get('tag'))}; known types: "
            else:
                message = "a measure needs a 'type'; known types: "
            message += known
        elif kind in ("minor_amount", "slug", "currency", "number_type", "control_character"):
            message = err["msg"]
        else:
            message = f"{err['msg'][:1].lower()}{err['msg'][1:]}, got {_describe_input(err)}"
        errors.append((field, message))
    field, message = errors[0]
    return PolicyError(field, message, errors=errors)


def _describe_input(err: Any) -> str:
    value = err.get("input")
    if isinstance(value, str):
        return f"the string {_short.repr(value)}"
    return f"{type(value).__name__} {_short.repr(value)}"


def validate_policy(data: Mapping[str, Any]) -> Policy:
    """A `Policy` from an already parsed document (e.g. a JSON request body), else PolicyError."""
    if not isinstance(data, Mapping):
        raise PolicyError(
            "", f"expected a mapping at the top level of the document, got {type(data).__name__}"
        )
    if "fairtrip_policy" not in data:
        raise PolicyError(
            "fairtrip_policy",
            "required field is missing; expected fairtrip_policy: "
            + ", ".join(str(v) for v in SUPPORTED_FORMATS),
        )
    declared = data["fairtrip_policy"]
    if type(declared) is not int or declared not in SUPPORTED_FORMATS:
        raise PolicyError("fairtrip_policy", _format_message(declared))
    try:
        return Policy.model_validate(dict(data))
    except ValidationError as e:
        raise _translate(e) from None


# -- parsing -----------------------------------------------------------------------------------


class _Pairs(list):  # type: ignore[type-arg]
    """A JSON object as its list of (key, value) pairs, so duplicates can be found with paths."""


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and deep nesting while composing the node tree."""

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        """Compose as usual, but refuse an alias (``*name``) and nesting beyond MAX_DEPTH."""
        if self.check_event(yaml.AliasEvent):
            # types-PyYAML leaves peek_event unannotated; after check_event it is an alias
            event: yaml.AliasEvent = self.peek_event()  # type: ignore[no-untyped-call]
            mark = event.start_mark  # the loader always sets it; the stubs allow None
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise PolicyError(
                "",
                f"YAML aliases are not allowed in a policy (alias *{event.anchor}{where}); "
                "write the value out",
            )
        depth = getattr(self, "_fairtrip_depth", 0)
        if depth >= MAX_DEPTH:
            raise PolicyError("", f"the document nests deeper than {MAX_DEPTH} levels")
        self._fairtrip_depth = depth + 1
        try:
            # PyYAML passes a mapping's key node as `index`; types-PyYAML says int
            return super().compose_node(parent, index)  # type: ignore[arg-type]
        finally:
            self._fairtrip_depth = depth


def _check_yaml_keys(node: yaml.Node, path: str) -> None:
    """Refuse duplicate keys anywhere in the composed YAML tree, naming the path and lines."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[object, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            line = key_node.start_mark.line + 1
            if key is not None:
                if key in seen:
                    raise PolicyError(
                        _join(path, str(key)),
                        f"duplicate key {key!r} (lines {seen[key]} and {line}); "
                        "each key may appear once",
                    )
                seen[key] = line
            _check_yaml_keys(value_node, _join(path, str(key)))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_yaml_keys(item, f"{path}[{i}]")


def _load_yaml(text: str) -> Any:
    try:
        # the reader refuses non-printable characters (a raw NUL or ESC) while it is built
        loader = _NoAliasLoader(text)
    except yaml.YAMLError as e:
        raise PolicyError("", f"not valid YAML: {e}") from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise PolicyError("", "the document is empty")
        _check_yaml_keys(node, "")
        return loader.construct_document(node)
    except yaml.YAMLError as e:
        raise PolicyError("", f"not valid YAML: {e}") from None
    finally:
        loader.dispose()


def _from_pairs(value: Any, path: str, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise PolicyError("", f"the document nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, _Pairs):
        out: dict[str, Any] = {}
        for key, item in value:
            if key in out:
                raise PolicyError(
                    _join(path, key), f"duplicate key {key!r}; each key may appear once"
                )
            out[key] = _from_pairs(item, _join(path, key), depth + 1)
        return out
    if isinstance(value, list):
        return [_from_pairs(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    return value


def _refuse_constant(name: str) -> float:
    raise PolicyError("", f"{name} is not a number a policy may contain")


def _load_json(text: str) -> Any:
    try:
        raw = json.loads(text, object_pairs_hook=_Pairs, parse_constant=_refuse_constant)
    except json.JSONDecodeError as e:
        raise PolicyError(
            "", f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}"
        ) from None
    except RecursionError:
        raise PolicyError("", f"the document nests deeper than {MAX_DEPTH} levels") from None
    return _from_pairs(raw, "")


def parse_policy(text: str | bytes, *, format: Literal["yaml", "json", "auto"] = "auto") -> Policy:
    """Parse and validate a policy document; every problem raises `PolicyError`.

    ``format="auto"`` reads JSON when the document starts with ``{`` and YAML otherwise.
    Documents over `MAX_DOCUMENT_BYTES`, with duplicate keys, YAML aliases, or a top level
    that is not a mapping are refused before validation.
    """
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_DOCUMENT_BYTES:
        raise PolicyError(
            "", f"the document is {size} bytes; a policy may be at most {MAX_DOCUMENT_BYTES}"
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            message = f"the document is not UTF-8: {e.reason} at byte {e.start}"
            raise PolicyError("", message) from None
    if format not in ("yaml", "json", "auto"):
        raise PolicyError("", f"unknown format {format!r}; expected 'yaml', 'json' or 'auto'")
    if format == "auto":
        format = "json" if text.lstrip().startswith("{") else "yaml"
    data = _load_json(text) if format == "json" else _load_yaml(text)
    return validate_policy(data)
