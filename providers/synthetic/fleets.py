"""The synthetic providers of a city, built together from one seed.

Helsinki gets three (city bikes at the real stations, scooters, car sharing). Northern
Kentucky gets two, scooters and car sharing, sized for its urban core (`NKY_SIZES`): there
is no bike-station register for it here, and inventing station sites would pass made-up
places off as a real network.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from network.embedded import city_of_manifest, data_dir
from providers.errors import NoStreetGraphError
from providers.synthetic import carshare, citybikes, scooters
from providers.synthetic._common import HELSINKI, NKY, FleetCity, Nodes

if TYPE_CHECKING:
    from network.compiled import Network

#: provider id -> file name (no .json) -> GBFS 3.0 document
Feeds = dict[str, dict[str, dict[str, Any]]]

DEFAULT_SEED = 20220222

#: Northern Kentucky's fleet sizes (ASSUMPTIONS, SYNTHETIC): 400 scooters, about the size
#: of one operator's permit in a small US city around 2019, and car sharing at a third of
#: Helsinki's (30 free-floating EVs, 4 round-trip stations): a car-owning region. Placed by
#: `NKY`'s centre weights, most of them stand in the urban core around the Roebling bridge.
NKY_SIZES: Final = MappingProxyType({"n_scooters": 400, "n_free_cars": 30, "n_car_stations": 4})


def synthetic_fleets(
    *,
    stations_csv: Path | None,
    walk_nodes: Nodes,
    car_nodes: Nodes,
    now_s: int,
    seed: int = DEFAULT_SEED,
    station_bbox: tuple[float, float, float, float] | None = citybikes.HSL_BBOX,
    n_scooters: int = scooters.N_SCOOTERS,
    n_free_cars: int = carshare.N_FREE_CARS,
    n_car_stations: int = carshare.N_STATIONS,
    city: FleetCity = HELSINKI,
) -> Feeds:
    """GBFS 3.0 feeds of the three synthetic providers; a pure function of its arguments.

    Parameters
    ----------
    stations_csv
        the city-bike station register (real stations and capacities); None: the city has
        no city-bike provider.
    walk_nodes, car_nodes
        (latitude, longitude) arrays of the street graphs' nodes; scooters are put on walk
        nodes, car-share cars and stations on car nodes.
    now_s
        `last_updated` of every file (epoch seconds).
    seed
        same seed, same documents; each provider draws from its own child stream, so
        changing one provider's size does not reshuffle the others.
    station_bbox
        (min lon, min lat, max lon, max lat) of the city-bike stations kept; None keeps all.
    n_scooters, n_free_cars, n_car_stations
        fleet sizes (defaults justified in the provider modules' docstrings).
    city
        where the fleets are (ids, names, time zone, currency, centre; `FleetCity`).

    Returns
    -------
    provider id -> GBFS file name (without .json) -> document, each provider including its
    `gbfs` discovery file.
    """
    for name, nodes in (("walk_nodes", walk_nodes), ("car_nodes", car_nodes)):
        lat, lon = nodes
        if len(lat) != len(lon) or len(lat) == 0:
            raise ValueError(
                f"{name} must be two equally long, non-empty arrays, got {len(lat)} and {len(lon)}"
            )
    bikes_rng, scooters_rng, cars_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    feeds: Feeds = {}
    if stations_csv is not None:
        stations = citybikes.read_stations(stations_csv, bbox=station_bbox)
        feeds[citybikes.PROVIDER_ID] = citybikes.build(stations, rng=bikes_rng, now_s=now_s)
    feeds[scooters.provider_id(city)] = scooters.build(
        walk_nodes, rng=scooters_rng, now_s=now_s, n_scooters=n_scooters, city=city
    )
    feeds[carshare.provider_id(city)] = carshare.build(
        car_nodes,
        rng=cars_rng,
        now_s=now_s,
        n_free_cars=n_free_cars,
        n_stations=n_car_stations,
        city=city,
    )
    return feeds


def embedded_synthetic_fleets(network: Network, *, now_s: int, seed: int = DEFAULT_SEED) -> Feeds:
    """`synthetic_fleets` for the network's city: Northern Kentucky's when the network was
    compiled from its built-in inputs, else Helsinki's (the data dir's register), on the
    network's street graphs.
    """
    city = city_of_manifest(network.manifest)
    if city is not None and city.key == "nky":
        return synthetic_fleets(
            stations_csv=None,
            walk_nodes=street_nodes(network, "walk"),
            car_nodes=street_nodes(network, "car"),
            now_s=now_s,
            seed=seed,
            city=NKY,
            n_scooters=NKY_SIZES["n_scooters"],
            n_free_cars=NKY_SIZES["n_free_cars"],
            n_car_stations=NKY_SIZES["n_car_stations"],
        )
    return synthetic_fleets(
        stations_csv=data_dir() / "helsinki" / "citybike-stations-2021.csv",
        walk_nodes=street_nodes(network, "walk"),
        car_nodes=street_nodes(network, "car"),
        now_s=now_s,
        seed=seed,
    )


def street_nodes(network: Network, profile: str) -> Nodes:
    """(latitude, longitude) of one profile's street nodes (NoStreetGraphError if missing)."""
    graph = network.streets.get(profile)
    if graph is None:
        raise NoStreetGraphError(profile, sorted(network.streets))
    return graph.node_lat, graph.node_lon
