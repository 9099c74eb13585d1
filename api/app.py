"""The FastAPI app factory. Importing this module does nothing heavy: the network is
loaded (and compiled on first start) in the lifespan, per worker process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api.errors import install_error_handlers
from api.fleets import start_fleets
from api.head import HeadAsGetMiddleware
from api.limits import BodyLimitMiddleware
from api.planning import PlanService
from api.pricing import open_pricing
from api.routes import (
    admin,
    health,
    map_layers,
    nearby,
    plan,
    policies,
    policy_check,
    providers,
    service,
    stops,
)
from api.routes.pages import install_pages
from api.service import open_service_coverage
from api.settings import Settings, get_settings
from api.state import AppState
from network.compiled import Network
from network.embedded import ensure_embedded_network
from network.stop_index import StopIndex

log = logging.getLogger(__name__)

DESCRIPTION = """\
fairtrip plans trips that combine public transport and walking on real timetables
(GTFS) and real streets (OpenStreetMap). The built-in cities are Helsinki (the default,
HSL's timetable of Tuesday 2022-02-22) and Northern Kentucky (TANK's 2019-2020 timetable;
`FAIRTRIP_CITY=nky`).

Every error has one shape: `{"error": {"code", "message", "field"}}`. Every `GET` also
answers `HEAD`.
"""


def network_dir(settings: Settings) -> Path:
    """The network to serve: the configured directory, or the built-in city
    `settings.city` (compiled on first start; progress goes to the log).
    """
    if settings.network is not None:
        return settings.network
    return ensure_embedded_network(city=settings.city, progress=False)


async def load_state(settings: Settings) -> AppState:
    """Everything a worker needs to answer requests, built once."""
    path = network_dir(settings)
    log.info("loading network %s", path)
    net = Network.load(path)
    planning = PlanService(
        net, budget_s=settings.plan_budget_s, max_window_min=settings.max_window_min
    )
    planning.warm_up()
    stop_index = StopIndex(net.stops.lat, net.stops.lon, net.stops.stop_id)
    log.info(
        "network %s ready: %d stops, dates %s",
        net.name,
        len(stop_index.by_id),
        ", ".join(net.service_dates),
    )
    fleets = await start_fleets(settings, net)
    if planning.rental_fleets is not None:
        await fleets.start_refresher(planning.rental_fleets, settings.fleet_refresh_s)
    pricing = open_pricing(settings, net, planning)
    pricing.start()
    service_coverage = await asyncio.to_thread(open_service_coverage, settings, net, fleets)
    return AppState(settings, net, stop_index, planning, fleets, pricing, service_coverage)


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app; pass `settings` in tests, otherwise they come from the environment."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await load_state(settings)
        app.state.fairtrip = state
        warming = map_layers.warm_base_map(state)
        try:
            yield
        finally:
            # a build still running when the interpreter finalizes can crash it (GEOS/numpy
            # in a daemon thread): let it finish first, it takes about a second
            await asyncio.to_thread(warming.join, 30.0)
            await state.fleets.close()
            await state.pricing.close()
            if state.service is not None:
                state.service.close()
            state.planning.close()

    # the docs page serves Swagger UI and ReDoc from the package, not a CDN: it must load
    # on a machine without internet access
    app = FastAPIOffline(
        static_url="/static/docs",
        title="fairtrip",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_body_bytes,
        prefix_limits=(
            ("/providers", settings.max_push_bytes),
            ("/policies", settings.max_policy_bytes),
        ),
        read_timeout_s=settings.body_read_timeout_s,
    )
    # added last, so it is the outermost: HEAD becomes GET before anything else sees it
    app.add_middleware(HeadAsGetMiddleware)
    install_error_handlers(app)
    app.include_router(plan.router)
    plan.install_schemas(app)
    app.include_router(stops.router)
    app.include_router(providers.router)
    app.include_router(policies.router)
    app.include_router(policy_check.router)
    app.include_router(service.router)
    app.include_router(admin.router)
    app.include_router(health.router)
    app.include_router(map_layers.router)
    app.include_router(nearby.router)
    # the web pages and their assets (api/static), after the API so no page path shadows it
    install_pages(app)
    return app
