"""The mobility evaluation document (`mobility.json`): one definition of its shape, for both sides.

`evaluation.mobility` evaluates cross-mode policies over every mode (issue 13) and builds a
`MobilityDoc`; `pricing.mobility_report` reads a document back with `parse_mobility` before
drawing anything. It is a different document from the transit evaluation's
(`pricing.evaluation_doc`): its unit is the trip a resident makes among the options they have
(walk, walk + transit, a rental, rental + transit, their own bike), not a transit fare, and it
carries what only a cross-mode evaluation has: the mode families' shares, the money each
operator is owed, the sensitivity to the choice rule and what the search could not reach.

As in the transit document, the writer is held to the format exactly (an unknown key is
refused) and a reader ignores keys it does not know. A malformed document raises
`MobilityDocError` naming the path of the offending key.

Amounts are minor units of `settings.currency`: totals as integers, means as numbers. A mean
over a group without trips is ``null``, never NaN (JSON cannot carry NaN).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, ValidationError

from pricing.errors import PricingError
from pricing.evaluation_doc import ZonesInfo
from pricing.money import currency_exponent
from pricing.zones import ZONE_CLASSES, ZoneClass

#: the `fairtrip_mobility` format version written and read here
MOBILITY_VERSION: Final = 1

Num = Annotated[float, Strict()]
Int = Annotated[int, Strict()]
Str = Annotated[str, Strict()]
Bool = Annotated[bool, Strict()]


class MobilityDocError(PricingError, ValueError):
    """A mobility document is malformed; `key` is the path of the offending key."""

    def __init__(self, message: str, *, key: str) -> None:
        super().__init__(message)
        self.key = key


def _currency(value: str) -> str:
    currency_exponent(value)  # raises PricingError naming the code
    return value


def _zone_class(value: str) -> str:
    if value not in ZONE_CLASSES:
        raise ValueError(f"expected one of {', '.join(ZONE_CLASSES)}")
    return value


class _Part(BaseModel):
    """Strict about unknown keys (the writer), NaN refused."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


# -- the header ------------------------------------------------------------------------------


class NetworkPart(_Part):
    """Which network was searched, on which day, at which departures."""

    name: Str
    service_date: Str
    departures_local: list[Str]  # HH:MM in the network's time zone
    timezone: Str


class DemandPart(_Part):
    """The OD demand evaluated."""

    source: Str  # a file name, never a server path
    synthetic: Bool
    pairs: Int
    trips: Num
    note: Str = ""


class SettingsPart(_Part):
    """The choice rule and how the options were found."""

    currency: Annotated[str, Strict(), AfterValidator(_currency)]
    #: the rule in one sentence, with its parameters
    rule: Str
    rule_name: Str
    value_of_time_minor_per_h: Int | None
    #: residents re-choose under the policy's prices (the rule is the demand response)
    rechoose: Bool
    #: points off the streets had their walks estimated (walk + transit only from there)
    beyond_streets: Bool
    #: how trips are classed central / peripheral
    class_rule: Str
    neutrality_tolerance: Num


class VehicleReach(_Part):
    """Where one rental vehicle family is an option at all (slots are OD pair x departure)."""

    vehicle: Str
    central_slots: Int  # both ends central, with an option riding this vehicle
    peripheral_slots: Int  # a peripheral end, with an option riding this vehicle
    #: a peripheral end and the vehicle ridden the whole way (no transit)
    peripheral_whole_way_slots: Int


class ClassPoints(_Part):
    """How many zone points of one class lie on the searched streets."""

    zone_class: Annotated[ZoneClass, AfterValidator(_zone_class)] = Field(alias="class")
    zones: Int
    on_streets: Int


class CoveragePart(_Part):
    """What the search could reach, said plainly."""

    slots: Int
    central_slots: Int
    peripheral_slots: Int
    slots_without_options: Int
    trips_without_options: Num
    #: slots with an end off the streets (its walks estimated: no vehicle there)
    slots_off_streets: Int
    trips_off_streets: Num
    zone_points: list[ClassPoints]
    vehicles: list[VehicleReach]
    left_out: dict[str, Int]
    #: options with a shared vehicle whose rental costs nothing (no rental part: no operator
    #: is paid for it, so no cross-mode measure prices it and the vehicle table misses it)
    free_rental_options: Int = 0
    #: one plain sentence per fact a reader must know before reading the results
    notes: list[Str]


# -- one scenario ----------------------------------------------------------------------------


class Solved(_Part):
    """The free parameter as solved for whole-system revenue neutrality."""

    parameter: Str
    value: Num
    residual: Num
    iterations: Int


class ByClass(_Part):
    """A mean for trips with both ends central, with a peripheral end, and for all trips."""

    central: Num | None
    peripheral: Num | None
    all: Num | None


class FamilyRow(_Part):
    """One mode family under one scenario: its share of trips and its mean price."""

    family: Str
    trips: Num
    share: Num
    share_central: Num
    share_peripheral: Num
    mean_price_minor: Num | None


class FlowRow(_Part):
    """One operator's money (`pricing.compensation`), whole minor units."""

    operator: Str
    paid_before_minor: Int
    base_for_trips_minor: Int
    paid_after_minor: Int
    compensation_minor: Int  # > 0: the city pool pays it; < 0: it pays the pool


class SensitivityRow(_Part):
    """The policy re-solved under another choice rule, to see whether the gap's change holds."""

    label: Str
    rule: Str
    value: Num | None
    residual: Num | None
    #: why the row has no solution (the solver's message), "" when it has one
    note: Str = ""
    gap_before_minor: Num | None
    gap_after_minor: Num | None
    gap_change_minor: Num | None
    #: the gap moves the same way as under the stated rule (None: no change either way)
    same_direction: Bool | None
    #: the gap after the policy has the stated rule's sign (who pays more stays the same)
    same_sign_after: Bool | None = None


class ZoneRow(_Part):
    """One origin zone under one scenario."""

    zone_id: Str
    zone_class: Annotated[ZoneClass, AfterValidator(_zone_class)] = Field(alias="class")
    trips: Num
    cost_per_trip_minor: Num
    change_per_trip_minor: Num
    cost_per_km_minor: Num | None
    change_per_km_minor: Num | None


class Unchanged(_Part):
    """How many options the policy reprices; when none, why."""

    options_in_scope: Int
    options_repriced: Int
    reason: Str | None


class MobilityScenario(_Part):
    """One policy's results (the status quo first: base prices, no policy)."""

    policy_id: Str
    version: Int | None
    name: Str
    measures: list[Str]
    solved: Solved | None
    neutral: Bool | None
    revenue_minor: Int
    revenue_change: Num
    trips: Num
    cost_per_trip_minor: ByClass
    cost_per_km_minor: ByClass
    gap_per_trip_minor: Num | None
    gap_per_km_minor: Num | None
    families: list[FamilyRow]
    flows: list[FlowRow]
    pool_net_minor: Int | None
    sensitivity: list[SensitivityRow]
    unchanged: Unchanged | None
    zones: list[ZoneRow]
    #: residents re-chose under this scenario's prices (False for the status quo)
    rechoose: Bool
    #: what a reader must know about how this scenario was solved, "" when nothing
    note: Str = ""


class MobilityDoc(_Part):
    """The whole mobility evaluation: status quo first, then each cross-mode policy."""

    fairtrip_mobility: Literal[1] = MOBILITY_VERSION
    generated_at: Str
    #: repeated wherever results show: fleets and/or demand are SYNTHETIC (None: neither)
    synthetic_note: Str | None
    network: NetworkPart
    demand: DemandPart
    settings: SettingsPart
    coverage: CoveragePart
    zones: ZonesInfo
    timing_s: dict[str, Num]
    scenarios: Annotated[list[MobilityScenario], Field(min_length=1)]

    def to_document(self) -> dict[str, Any]:
        """The JSON-ready document (plain dicts and lists, keys as the format spells them)."""
        return self.model_dump(by_alias=True)


def parse_mobility(data: Any) -> MobilityDoc:
    """Read a mobility document, ignoring keys this version does not know.

    Raises MobilityDocError naming the key when the version is not `MOBILITY_VERSION` or a
    required key is missing or mistyped.
    """
    if not isinstance(data, Mapping):
        raise MobilityDocError(f"mobility document is {type(data).__name__}; expected an object",
                               key="")
    version = data.get("fairtrip_mobility")
    if version != MOBILITY_VERSION or isinstance(version, bool):
        raise MobilityDocError(
            f"mobility document format version is {version!r}; this code reads version "
            f"{MOBILITY_VERSION}",
            key="fairtrip_mobility",
        )
    try:
        return MobilityDoc.model_validate(data, extra="ignore")
    except ValidationError as exc:
        raise mobility_error(exc) from None


def mobility_error(exc: ValidationError) -> MobilityDocError:
    """The first problem of a failed validation, naming its key's path."""
    err = exc.errors(include_url=False)[0]
    path = ""
    for part in err["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    if err["type"] == "missing":
        return MobilityDocError(f"mobility document is missing required key {path}", key=path)
    return MobilityDocError(
        f"mobility document key {path or '(document)'} is {err.get('input')!r}: {err['msg']}",
        key=path,
    )
