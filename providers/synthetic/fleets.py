"""The three synthetic Helsinki providers, built together from one seed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from network.embedded import data_dir
from providers.errors import NoStreetGraphError
from providers.synthetic import carshare, citybikes, scooters
from providers.synthetic._common import Nodes

if TYPE_CHECKING:
    from network.compiled import Network

#: provider id -> file name (no .json) -> GBFS 3.0 document
Feeds = dict[str, dict[str, dict[str, Any]]]

DEFAULT_SEED = 20220222


def synthetic_fleets(
    *,
    stations_csv: Path,
    walk_nodes: Nodes,
    car_nodes: Nodes,
    now_s: int,
    seed: int = DEFAULT_SEED,
    station_bbox: tuple[float, float, float, float] | None = citybikes.HSL_BBOX,
    n_scooters: int = scooters.N_SCOOTERS,
    n_free_cars: int = carshare.N_FREE_CARS,
    n_car_stations: int = carshare.N_STATIONS,
) -> Feeds:
    """GBFS 3.0 feeds of the three synthetic providers; a pure function of its arguments.

    Parameters
    ----------
    stations_csv
        the city-bike station register (real stations and capacities).
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
    stations = citybikes.read_stations(stations_csv, bbox=station_bbox)
    return {
        citybikes.PROVIDER_ID: citybikes.build(stations, rng=bikes_rng, now_s=now_s),
        scooters.PROVIDER_ID: scooters.build(
            walk_nodes, rng=scooters_rng, now_s=now_s, n_scooters=n_scooters
        ),
        carshare.PROVIDER_ID: carshare.build(
            car_nodes,
            rng=cars_rng,
            now_s=now_s,
            n_free_cars=n_free_cars,
            n_stations=n_car_stations,
        ),
    }


def embedded_synthetic_fleets(network: Network, *, now_s: int, seed: int = DEFAULT_SEED) -> Feeds:
    """`synthetic_fleets` for the embedded city: the data dir's register, the network's graphs."""
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
