"""`/map`: the base map of the web pages (streets, stops, zones) as GeoJSON, and its bounds.

The layers are built from the served network by `api.basemap`, once per worker; this
module only picks the encoding the client accepts and answers a revalidation with 304.
"""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Response

from api.basemap import BaseMap, LayerUnavailableError
from api.errors import ApiError, error_responses
from api.examples import responses
from api.pricing import default_paths
from api.state import AppState, StateDep

log = logging.getLogger(__name__)

router = APIRouter(tags=["map"])

LayerName = Literal["streets", "stops", "zones", "fare_zones"]

_LAYER_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A GeoJSON FeatureCollection",
        "content": {
            "application/geo+json": {
                "schema": {"type": "object", "required": ["type", "features"]},
                "example": {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "geometry": {"type": "Point", "coordinates": [24.93143, 60.16795]},
                            "properties": {
                                "stop_id": "1040408",
                                "name": "Kampintori",
                                "zone_id": "A",
                            },
                        }
                    ],
                },
            }
        },
    },
    304: {"description": "Not modified (If-None-Match matched the layer's ETag)"},
    **error_responses(404, 422),
}


def base_map(state: AppState) -> BaseMap:
    """The worker's base map, made on first use and kept with the network's derived values."""

    def make() -> BaseMap:
        fare_zones, demand_zones, _ = default_paths(state.settings, state.network)
        return BaseMap(state.network, fare_zones=fare_zones, demand_zones=demand_zones)

    return state.network.derived(("api.basemap",), make)


def warm_base_map(state: AppState) -> threading.Thread:
    """Build the layers the trip planner loads, in a background thread, so the first page
    load after a start does not wait for them (a second of CPU, mostly the street merge).
    A request that comes sooner waits for the build on the layer's lock instead of
    starting its own.
    """

    def build() -> None:
        layers = base_map(state)
        for name in ("streets", "stops", "zones"):
            try:
                layers.layer(name)
            except LayerUnavailableError as exc:  # the page draws the others
                log.info("map layer %s not built: %s", name, exc)

    thread = threading.Thread(target=build, name="base-map-warm", daemon=True)
    thread.start()
    return thread


@router.get("/map/layers/{name}.geojson", response_class=Response, responses=_LAYER_RESPONSES)
def map_layer(
    name: Annotated[LayerName, Path(description="which layer")],
    state: StateDep,
    accept_encoding: Annotated[str | None, Header(include_in_schema=False)] = None,
    if_none_match: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """A base-map layer: streets (simplified lines), stops, zones (class central/peripheral)
    or fare_zones, drawn from the served network's own data.
    """
    try:
        layer = base_map(state).layer(name)
    except LayerUnavailableError as exc:
        raise ApiError(404, "layer_unavailable", str(exc), field="name") from exc
    headers = {"ETag": layer.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if if_none_match is not None and layer.etag in if_none_match:
        return Response(status_code=304, headers=headers)
    if accept_encoding is not None and "gzip" in accept_encoding:
        headers["Content-Encoding"] = "gzip"
        return Response(layer.gzipped, media_type="application/geo+json", headers=headers)
    return Response(layer.body, media_type="application/geo+json", headers=headers)


@router.get("/map/bounds", responses=responses({"bounds": [24.892, 60.147, 24.99, 60.195]}))
def map_bounds(state: StateDep) -> dict[str, list[float]]:
    """The network's extent, [min_lon, min_lat, max_lon, max_lat]: where the map opens."""
    return {"bounds": base_map(state).bounds()}
