"""The service report document (`service.json`) and its parts: one definition of their shape.

`service_coverage.report` builds the document and reads it back before drawing the HTML
page, and the API answers `/zones/{id}/service` and `/providers/{id}/compliance` with the
same parts (`ZoneMeasures`, `ClassMeasures`, `DayComplianceDoc`), so the figures a planner
reads in the report, in the JSON and from the API cannot drift apart. The parts mirror the
`to_json` of `service_coverage.measures` and `service_coverage.rules`; validating their
output here is what keeps that so.

Values are checked strictly, as JSON types (``"12"`` is not a number, ``true`` is not a
count, NaN is refused). An unknown key is refused (a misspelt key would otherwise be written
and never read), except in the zone GeoJSON, whose other members are data. A malformed
document raises `ServiceReportError` naming the path of the offending key
(``measures.all.zones.hsy-0.period.reach_share``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from pricing.evaluation_doc import ZonesInfo
from pricing.zones import ZoneClass
from service_coverage.errors import CoverageError
from service_coverage.rules import Aggregate, HourStatus, Verdict

#: the `fairtrip_service_report` format version written and read here
SERVICE_REPORT_VERSION: Final = 1
#: a provider whose id starts so publishes SYNTHETIC data (`providers.synthetic`)
SYNTHETIC_PREFIX: Final = "synthetic-"
SYNTHETIC_LABEL: Final = "SYNTHETIC"


class ServiceReportError(CoverageError, ValueError):
    """A service report document is malformed, or cannot be written.

    `key` is the path of the offending key (``rules[0].compliance[2].value``; empty for the
    document as a whole), `value` what was found there.
    """

    def __init__(self, message: str, *, key: str, value: Any = None) -> None:
        super().__init__(message)
        self.key = key
        self.value = value


def is_synthetic(provider_id: str) -> bool:
    """Whether a provider's data is SYNTHETIC (its id says so: `SYNTHETIC_PREFIX`)."""
    return provider_id.startswith(SYNTHETIC_PREFIX)


def _iso_date(value: str) -> str:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError(
            "service_doc", "expected a date as YYYY-MM-DD, got {value!r}", {"value": value}
        ) from None
    return value


def _iso_time(value: str) -> str:
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise PydanticCustomError(
            "service_doc",
            "expected an ISO-8601 time with a UTC offset, got {value!r}",
            {"value": value},
        )
    return value


#: a JSON number (an int is accepted and read as a float); never a bool, a string or NaN
Num = Annotated[float, Strict()]
Int = Annotated[int, Strict()]
Str = Annotated[str, Strict()]
Bool = Annotated[bool, Strict()]
Share = Annotated[float, Strict(), Field(ge=0, le=1)]
Count = Annotated[int, Strict(), Field(ge=0)]
IsoDate = Annotated[str, Strict(), AfterValidator(_iso_date)]
IsoTime = Annotated[str, Strict(), AfterValidator(_iso_time)]
ClockHour = Annotated[str, Strict(), Field(pattern=r"^([01][0-9]|2[0-4]):00$")]


class _Part(BaseModel):
    """Common configuration: strict about unknown keys, NaN refused, keys by their alias."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


# -- measures (service_coverage.measures) ----------------------------------------------------------


class Figures(_Part):
    """The service measures over a set of sample times and zones (`service_coverage.measures`)."""

    samples: Count = Field(description="sample times the figures are over")
    vehicles_per_1000: Annotated[float, Strict(), Field(ge=0)] | None = Field(
        description="available vehicles within walking reach per 1,000 residents "
        "(mean over the sample times); null without residents"
    )
    station_samples: Count = Field(
        description="(docked station, sample time) pairs behind the empty and full shares"
    )
    empty_share: Share | None = Field(
        description="share of those pairs with no vehicle to rent; null without stations"
    )
    full_share: Share | None = Field(
        description="share of those pairs where no vehicle can be returned; null without stations"
    )
    median_walk_m: Annotated[float, Strict(), Field(ge=0)] | None = Field(
        description="population-weighted median walk to the nearest available vehicle, metres; "
        "null when at least half the residents had none"
    )
    reach_share: Share | None = Field(
        description="share of residents (x time) with a vehicle within 5 minutes' walk"
    )
    no_vehicle_share: Share | None = Field(
        description="share of residents (x time) with no available vehicle anywhere"
    )


class HourFigures(Figures):
    """The measures of one local hour of day (over every day of the period)."""

    hour: Annotated[int, Strict(), Field(ge=0, le=23, description="local hour of day")]


Hours = Annotated[list[HourFigures], Field(min_length=24, max_length=24)]


class ZoneMeasures(_Part):
    """One zone's measures: over the whole period and per local hour of day (0..23)."""

    zone_id: Str
    zone_class: ZoneClass = Field(alias="class", description="central or peripheral")
    population: Count = Field(description="residents")
    period: Figures
    hours: Hours


class ClassMeasures(_Part):
    """One zone class's measures: its zones together, weighted by residents."""

    zone_class: ZoneClass = Field(alias="class", description="central or peripheral")
    zones: Count = Field(description="zones of the class")
    population: Count = Field(description="residents of those zones")
    period: Figures
    hours: Hours


class Measures(_Part):
    """Measures per zone and class over one history extract (`ServiceMeasures.to_json`)."""

    timezone: Str = Field(description="the time zone hours of day are read in")
    provider_id: Str | None = Field(description="one provider's measures; null: all providers")
    form_factors: list[Str] | None
    first_s: Int | None = Field(description="first sample time, epoch seconds")
    last_s: Int | None = Field(description="last sample time, epoch seconds")
    samples: Count = Field(description="distinct sample times")
    reach_m: Num = Field(description="the walk that counts as 'within reach', metres")
    classes: dict[str, ClassMeasures]
    zones: dict[str, ZoneMeasures]


# -- compliance (service_coverage.rules) -----------------------------------------------------------


class HourCompliance(_Part):
    """One window hour of one day: the provider's share of vehicles in the rule's class."""

    hour: ClockHour = Field(description="local hour, HH:00")
    samples: Count
    share: Share | None = Field(description="mean share over the hour's samples with vehicles")
    status: HourStatus


class DayComplianceDoc(_Part):
    """One provider's compliance with one rule on one local day (`DayCompliance.to_json`)."""

    rule_id: Str
    rule_version: Int
    provider_id: Str
    day: IsoDate = Field(description="the local day, YYYY-MM-DD")
    timezone: Str
    aggregate: Aggregate
    zone_class: ZoneClass
    min_share: Share
    value: Share | None = Field(
        description="the day's share: the mean of the hourly shares (daily_average) or the "
        "lowest (every_hour); null when no hour has one"
    )
    verdict: Verdict
    compliant: Bool
    failed_hours: list[ClockHour] = Field(description="window hours below min_share")
    hours_without_data: list[ClockHour] = Field(
        description="window hours with no share: no sample, or no vehicle of the rule's types"
    )
    hours: list[HourCompliance]


class RuleInfo(_Part):
    """The distribution rule a compliance was judged against."""

    id: Str
    version: Int
    name: Str
    describe: Str = Field(description="the rule in one sentence")
    providers: Literal["all"] | list[Str]
    form_factors: list[Str] = Field(description="GBFS form factors whose vehicles count")
    zone_class: ZoneClass
    min_share: Share
    window: list[ClockHour] = Field(min_length=2, max_length=2, description="[start, end)")
    aggregate: Aggregate


class RuleReport(_Part):
    """One rule and its compliance for each provider it judges and each day."""

    rule: RuleInfo
    compliance: list[DayComplianceDoc]
    not_applicable: list[Str] = Field(
        default_factory=list,
        description="providers the rule names that had no vehicle type it counts",
    )


# -- the document ----------------------------------------------------------------------------------


class Period(_Part):
    """The period reported: [from, to), and the local days it touches."""

    from_: IsoTime = Field(alias="from")
    to: IsoTime
    timezone: Str
    days: list[IsoDate]


class ProviderInfo(_Part):
    """A provider with history in the period; SYNTHETIC when its data is made up."""

    provider_id: Str
    synthetic: Bool
    label: Literal["SYNTHETIC"] | None = Field(description="SYNTHETIC, or null for real data")


class MeasureSet(_Part):
    """The measures of every provider together (as a resident sees them), and of each."""

    all: Measures
    by_provider: dict[str, Measures]


class ServiceReportDoc(_Part):
    """The whole service report."""

    fairtrip_service_report: Literal[1] = SERVICE_REPORT_VERSION
    generated_at: IsoTime
    period: Period
    synthetic: Bool = Field(description="true when any provider's data is SYNTHETIC")
    providers: list[ProviderInfo]
    zones: ZonesInfo
    measures: MeasureSet
    rules: list[RuleReport]


def parse_service_report(data: Any) -> ServiceReportDoc:
    """Read a service report document, checking every key.

    Raises
    ------
    ServiceReportError
        The format version is not `SERVICE_REPORT_VERSION`, or a key is missing, unknown or
        has the wrong type (the error's `key` is its path).
    """
    if not isinstance(data, Mapping):
        raise ServiceReportError(
            f"service report is {type(data).__name__}; expected an object", key=""
        )
    version = data.get("fairtrip_service_report")
    if version != SERVICE_REPORT_VERSION or isinstance(version, bool):
        raise ServiceReportError(
            f"service report format version is {version!r}; this code reads version "
            f"{SERVICE_REPORT_VERSION}",
            key="fairtrip_service_report",
            value=version,
        )
    try:
        return ServiceReportDoc.model_validate(data)
    except ValidationError as exc:
        raise report_error(exc) from None


def report_error(exc: ValidationError) -> ServiceReportError:
    """The first problem of a failed validation, as an error naming its key's path."""
    err = exc.errors(include_url=False)[0]
    path = _path(err["loc"])
    shown = path or "(document)"
    if err["type"] == "missing":
        return ServiceReportError(f"service report is missing required key {shown}", key=path)
    if err["type"] == "extra_forbidden":
        return ServiceReportError(
            f"service report key {shown} is not part of the format (misspelt?)",
            key=path,
            value=err.get("input"),
        )
    msg = err["msg"]
    return ServiceReportError(
        f"service report key {shown} is {err.get('input')!r}; {msg[:1].lower()}{msg[1:]}",
        key=path,
        value=err.get("input"),
    )


def _path(loc: Sequence[int | str]) -> str:
    """``('rules', 0, 'compliance', 2, 'value')`` -> ``rules[0].compliance[2].value``."""
    out = ""
    for part in loc:
        if isinstance(part, str) and part.startswith(("function-", "literal[", "list[")):
            continue  # pydantic's names for a validator or union member, not a key
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
