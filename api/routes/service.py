"""`/zones` and `/providers/{id}/compliance`: where the shared vehicles were, and whether a
provider met the city's distribution rules.

Reads are open, like fare policies: service levels and permit conditions are public. Each
answer reads up to a month of the aggregated history, so the handlers are plain `def`
functions (FastAPI runs them in its thread pool, off the event loop) and the history is
read a day at a time (`service_coverage.queries`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.errors import ApiError
from api.examples import COMPLIANCE, SERVICE_ZONES, ZONE_SERVICE, responses
from api.service import ServiceCoverage
from api.service_schemas import (
    MAX_PERIOD_DAYS,
    ComplianceOut,
    ComplianceQuery,
    ProviderIdPattern,
    ServiceZonesOut,
    ZoneServiceOut,
    ZoneServiceQuery,
)
from api.state import AppState, StateDep
from providers.errors import StoreUnavailableError
from service_coverage.measures import service_measures
from service_coverage.queries import find_rule, known_rule_ids, local_day_spans, merged_period
from service_coverage.report import check_period, provider_info, rule_info
from service_coverage.rule_store import UnknownRuleError
from service_coverage.rules import compliance
from service_coverage.service_doc import ServiceReportError

router = APIRouter(tags=["service"])

ZoneIdPath = Annotated[
    str,
    Path(min_length=1, max_length=128, description="service zone id", examples=["hsy-0"]),
]
ProviderIdPath = Annotated[
    str,
    Path(pattern=ProviderIdPattern, description="provider id", examples=["synthetic-scooters-hki"]),
]


def _coverage(state: AppState, *, field: str) -> ServiceCoverage:
    """The worker's service coverage, or a 404 naming `field` when there is none."""
    if state.service is None:
        raise ApiError(
            404,
            "no_service_zones",
            "this server has no service zones (a network without demand zones, "
            "FAIRTRIP_DEMAND_ZONES) or its availability history could not be opened",
            field=field,
        )
    return state.service


def _period(
    coverage: ServiceCoverage, start: datetime, end: datetime
) -> tuple[int, int, dict[str, Any]]:
    """The period as epoch seconds and as the answer states it; 422 naming `to` when it is
    empty or longer than `MAX_PERIOD_DAYS`.
    """
    if end <= start:
        raise ApiError(
            422,
            "invalid_period",
            f"to ({end.isoformat()}) must be after from ({start.isoformat()})",
            field="to",
        )
    if end - start > timedelta(days=MAX_PERIOD_DAYS):
        raise ApiError(
            422,
            "period_too_long",
            f"the period from {start.isoformat()} to {end.isoformat()} is longer than "
            f"{MAX_PERIOD_DAYS} days; ask for it in parts",
            field="to",
        )
    try:
        from_s, to_s = check_period(start, end)
    except ServiceReportError as exc:  # a time outside the years the history can hold
        raise ApiError(422, "invalid_period", str(exc), field=exc.key) from exc
    spans = local_day_spans(from_s, to_s, coverage.timezone)
    period = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "timezone": str(coverage.timezone),
        "days": [day.isoformat() for day, _, _ in spans],
    }
    return from_s, to_s, period


@router.get("/zones", response_model=ServiceZonesOut, responses=responses(SERVICE_ZONES))
def service_zones(state: StateDep) -> dict[str, Any]:
    """The zones service is measured in: id, class (central/peripheral), residents."""
    if state.service is None:
        return {"source": None, "zones": []}
    zones = state.service.zones
    return {
        "source": zones.source,
        "zones": [
            {"zone_id": z.zone_id, "class": z.zone_class, "population": z.population}
            for z in zones.zones
        ],
    }


@router.get(
    "/zones/{zone_id}/service",
    response_model=ZoneServiceOut,
    responses=responses(ZONE_SERVICE, 404, 422),
)
def zone_service(
    zone_id: ZoneIdPath, q: Annotated[ZoneServiceQuery, Query()], state: StateDep
) -> dict[str, Any]:
    """A zone's service measures by local hour and over the period, with its class's."""
    coverage = _coverage(state, field="zone_id")
    zone = coverage.zones.get(zone_id)
    if zone is None:
        raise ApiError(
            404,
            "unknown_zone",
            f"no service zone {zone_id!r} in {coverage.zones.source} "
            f"({len(coverage.zones)} zones; GET /zones lists them)",
            field="zone_id",
        )
    from_s, to_s, period = _period(coverage, q.from_, q.to)
    if q.provider is not None and q.provider not in coverage.history.providers():
        raise ApiError(
            404,
            "unknown_provider",
            f"the availability history holds nothing of provider {q.provider!r}",
            field="provider",
        )
    same_class = [z.zone_id for z in coverage.zones.zones if z.zone_class == zone.zone_class]
    merged = merged_period(
        coverage.history, from_s, to_s, zone_ids=same_class, provider_id=q.provider
    )
    measures = service_measures(merged.rows, coverage.zones, tz=coverage.timezone)
    providers = sorted(merged.providers)
    return {
        "period": period,
        "provider_id": q.provider,
        "providers": [provider_info(p) for p in providers],
        "synthetic": any(provider_info(p)["synthetic"] for p in providers),
        "zone": measures.zones[zone_id].to_json(),
        "class": measures.classes[zone.zone_class].to_json(),
    }


def _known_provider(state: AppState, coverage: ServiceCoverage, provider_id: str) -> bool:
    """A provider with history, or with an account (its history may simply be empty)."""
    if provider_id in coverage.history.providers():
        return True
    try:
        return state.fleets.accounts.get(provider_id) is not None
    except StoreUnavailableError:  # the history is what is asked about; it says no
        return False


@router.get(
    "/providers/{provider_id}/compliance",
    response_model=ComplianceOut,
    responses=responses(COMPLIANCE, 404, 422),
)
def provider_compliance(
    provider_id: ProviderIdPath, q: Annotated[ComplianceQuery, Query()], state: StateDep
) -> dict[str, Any]:
    """A provider's compliance with a distribution rule per local day: the day's share,
    whether it met the rule, and the hours that failed.
    """
    coverage = _coverage(state, field="provider_id")
    try:
        rule = find_rule(coverage.rules, q.rule)
    except UnknownRuleError:
        known = ", ".join(known_rule_ids(coverage.rules))
        raise ApiError(
            404, "unknown_rule", f"no distribution rule {q.rule!r}; known: {known}", field="rule"
        ) from None
    if not _known_provider(state, coverage, provider_id):
        raise ApiError(
            404,
            "unknown_provider",
            f"no provider {provider_id!r}: no account and nothing in the availability history",
            field="provider_id",
        )
    if not rule.applies_to.covers_provider(provider_id):
        raise ApiError(
            422,
            "rule_not_applicable",
            f"rule {rule.id!r} names providers {', '.join(rule.applies_to.providers)}, "
            f"not {provider_id!r}",
            field="provider_id",
        )
    from_s, to_s, period = _period(coverage, q.from_, q.to)
    days = [
        compliance(
            rule,
            coverage.history.samples(from_s=start, to_s=end, provider_id=provider_id),
            coverage.zones,
            provider_id=provider_id,
            day=day,
            tz=coverage.timezone,
        ).to_json()
        for day, start, end in local_day_spans(from_s, to_s, coverage.timezone)
    ]
    return {
        "rule": rule_info(rule),
        "provider": provider_info(provider_id),
        "period": period,
        "days": days,
    }
