"""Query and response models of the service coverage endpoints (`api.routes.service`).

The figures themselves are the service report's parts (`service_coverage.service_doc`), so an
answer and `service.json` describe a zone, a class or a day of compliance in one shape.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from pricing.zones import ZoneClass
from service_coverage.service_doc import (
    ClassMeasures,
    DayComplianceDoc,
    Period,
    ProviderInfo,
    RuleInfo,
    ZoneMeasures,
)

#: the longest period one answer covers (a month of history is read for it)
MAX_PERIOD_DAYS = 31

_QUERY = ConfigDict(extra="forbid", allow_inf_nan=False, validate_by_alias=True)
_OUT = ConfigDict(extra="forbid", validate_by_name=True, serialize_by_alias=True)

ProviderIdPattern = r"^[a-z0-9][a-z0-9_-]{1,63}$"
RuleIdPattern = r"^[a-z0-9-]{3,64}$"

FromTime = Annotated[
    AwareDatetime,
    Field(
        alias="from",
        description="start of the period (included), ISO-8601 with a UTC offset; in a URL "
        "write '+' as %2B",
        examples=["2022-02-22T00:00:00+02:00"],
    ),
]
ToTime = Annotated[
    AwareDatetime,
    Field(
        description=f"end of the period (excluded), after `from`, at most {MAX_PERIOD_DAYS} "
        "days later",
        examples=["2022-02-23T00:00:00+02:00"],
    ),
]


class ZoneServiceQuery(BaseModel):
    """The period, and optionally one provider (default: every provider together)."""

    model_config = _QUERY

    from_: FromTime
    to: ToTime
    provider: Annotated[
        str | None,
        Field(
            default=None,
            pattern=ProviderIdPattern,
            description="one provider's vehicles only (default: every provider, as a "
            "resident sees them)",
            examples=["synthetic-scooters-hki"],
        ),
    ] = None


class ComplianceQuery(BaseModel):
    """The distribution rule and the period."""

    model_config = _QUERY

    rule: Annotated[
        str,
        Field(
            pattern=RuleIdPattern,
            description="distribution rule id (stored, or the shipped example rule)",
            examples=["scooters-peripheral-20"],
        ),
    ]
    from_: FromTime
    to: ToTime


class ServiceZoneOut(BaseModel):
    """A zone residents live in."""

    model_config = _OUT

    zone_id: str
    zone_class: ZoneClass = Field(alias="class", description="central or peripheral")
    population: int = Field(ge=0, description="residents")


class ServiceZonesOut(BaseModel):
    """The zones service is measured in (empty when this network has none)."""

    model_config = _OUT

    source: str | None = Field(description="the zone file (name only)")
    zones: list[ServiceZoneOut]


class ZoneServiceOut(BaseModel):
    """One zone's service over a period, by local hour of day and over the whole period,
    with its class's figures for comparison.
    """

    model_config = _OUT

    period: Period
    provider_id: str | None = Field(description="the provider asked for; null: all providers")
    providers: list[ProviderInfo] = Field(
        description="the providers whose history the figures count (SYNTHETIC labelled)"
    )
    synthetic: bool = Field(description="true when any of those providers is SYNTHETIC")
    zone: ZoneMeasures
    zone_class: ClassMeasures = Field(
        alias="class", description="the zone's class (all its zones), for comparison"
    )


class ComplianceOut(BaseModel):
    """A provider's compliance with a distribution rule, local day by local day."""

    model_config = _OUT

    rule: RuleInfo
    provider: ProviderInfo
    period: Period
    days: list[DayComplianceDoc] = Field(
        description="each local day the period touches, judged on the samples inside the period"
    )
