"""What the lifespan builds and the handlers use, reached through one dependency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from api.fleets import Fleets
from api.planning import PlanService
from api.pricing import PricingService
from api.service import ServiceCoverage
from api.settings import Settings
from network.compiled import Network
from network.stop_index import StopIndex


@dataclass
class AppState:
    """One worker's loaded network, its indexes and services."""

    settings: Settings
    network: Network
    stops: StopIndex
    planning: PlanService
    fleets: Fleets
    pricing: PricingService
    #: history, service zones and distribution rules (None: this network has no zones)
    service: ServiceCoverage | None = None


def get_state(request: Request) -> AppState:
    """The state the lifespan stored on the app."""
    return request.app.state.fairtrip  # type: ignore[no-any-return]


StateDep = Annotated[AppState, Depends(get_state)]
