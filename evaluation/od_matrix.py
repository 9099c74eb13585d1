"""Travel time and base fare for every origin-destination pair of a matrix, in batch.

A planner's evaluation needs thousands of OD pairs. Calling /plan once per pair would run
RAPTOR once per pair; here RAPTOR runs once per *origin* (`Raptor.one_to_many`) and every
destination reads its answer off the same labels, which is what makes a 100 x 100 matrix a
matter of seconds.

Access and egress are walked at 1.33 m/s over the straight line times 1.3, to stops within
`max_walk_m` — the same rule the network build uses for stops beyond the street extracts.
The evaluation deliberately uses it for every zone, covered by streets or not: comparing
central and peripheral residents is only fair if both are measured the same way (the
embedded Helsinki streets cover the centre but not the periphery).

A pair without a way to travel gets the `routing.planner.ReasonCode` that /plan would give
for the same cause (`ODMatrix.reason_code`), so an evaluation can say how many pairs it could
not route and why. The two snapping causes of /plan (a point off the streets or on an
isolated piece) do not arise here: the matrix does not snap to streets.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from network.compiled import Network
from network.stop_index import StopIndex
from routing.geo import DETOUR_FACTOR, haversine_m
from routing.journey import Journey
from routing.planner import DEFAULT_WALK_SPEED_MPS, ReasonCode
from routing.raptor import Raptor, StopTimes
from routing.timetable import Timetable
from trips.fare_facts import RideFactsReader
from trips.prices import ItineraryPricer

log = logging.getLogger(__name__)

#: stops considered around each end; the nearest ones, enough for any sensible access choice
MAX_ACCESS_STOPS = 40

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ODMatrix:
    """Origins x destinations: travel time (inf when unreachable) and base fare per pair.

    `price_minor` is -1 where the fare is unknown (no fare rule covers a ride) and 0 for
    pairs best walked; `mode` is "transit" or "walk" per pair, `transfers` counts changes.
    """

    travel_time_s: np.ndarray  # (n_o, n_d) float64, from the departure time to arrival
    price_minor: np.ndarray  # (n_o, n_d) int64
    transfers: np.ndarray  # (n_o, n_d) int16, -1 when unreachable
    is_transit: np.ndarray  # (n_o, n_d) bool
    distance_m: np.ndarray  # (n_o, n_d) float64, straight line between the points
    currency: str
    service_date: str
    depart_s: int
    seconds: float  # wall time spent
    #: (n_o, n_d) str: why a pair cannot be travelled (a `ReasonCode`), "" where it can
    reason_code: np.ndarray | None = None

    @property
    def pairs(self) -> int:
        """How many OD pairs the matrix holds."""
        return int(self.travel_time_s.size)

    def unreachable(self) -> dict[str, int]:
        """Reason code -> number of pairs without a way to travel (no entry: none)."""
        if self.reason_code is None:
            return {}
        codes, counts = np.unique(self.reason_code[self.reason_code != ""], return_counts=True)
        return {str(c): int(n) for c, n in zip(codes, counts, strict=True)}


def _walk_times(
    index: StopIndex, lat: float, lon: float, *, max_walk_m: float, speed_mps: float
) -> StopTimes:
    near = index.near(lat, lon, max_walk_m / DETOUR_FACTOR, limit=MAX_ACCESS_STOPS)
    stops = np.array([n.stop for n in near], dtype=np.int32)
    d = np.array([n.distance_m for n in near], dtype=np.float64)
    return StopTimes(stops, np.ceil(d * DETOUR_FACTOR / speed_mps).astype(np.int32))


def _has_departure(tt: Timetable, access: StopTimes, depart_s: int) -> bool:
    """Whether any ride can be boarded at an access stop after walking there."""
    for stop, walk_s in zip(access.stops.tolist(), access.seconds.tolist(), strict=True):
        trips, _, _ = tt.next_departures(stop, depart_s + walk_s, limit=1, horizon_s=4 * 86_400)
        if len(trips):
            return True
    return False


def od_matrix(
    network: Network,
    origins: tuple[np.ndarray, np.ndarray],
    destinations: tuple[np.ndarray, np.ndarray],
    *,
    depart: dt.datetime,
    max_walk_m: float = 1000.0,
    walk_speed_mps: float = DEFAULT_WALK_SPEED_MPS,
    max_transfers: int = 6,
    progress: Progress | None = None,
) -> ODMatrix:
    """Travel time and base fare from every origin (lats, lons) to every destination.

    For each pair the fastest way is kept: the earliest-arriving transit journey (fewer
    transfers on a tie) or walking the whole way if that arrives no later. Its price is the
    network's fare for that journey (0 for walking).
    """
    started = time.perf_counter()
    date, key, depart_s = network.resolve(depart)
    tt, trips = network.timetable(key)
    raptor = Raptor(tt)  # its own search state: the planning thread's is not shared
    fares = network.fares
    # the base fare /plan shows for the same journey: the same pricer, without a policy
    # (the evaluation applies policies to the whole matrix itself)
    pricer = ItineraryPricer(
        fares, RideFactsReader(network, tt, trips), dt.date.fromisoformat(date), None
    )
    index = StopIndex(network.stops.lat, network.stops.lon, network.stops.stop_id)
    o_lat, o_lon = (np.asarray(a, dtype=np.float64) for a in origins)
    d_lat, d_lon = (np.asarray(a, dtype=np.float64) for a in destinations)
    n_o, n_d = len(o_lat), len(d_lat)
    egress = [
        _walk_times(index, float(d_lat[j]), float(d_lon[j]), max_walk_m=max_walk_m,
                    speed_mps=walk_speed_mps)
        for j in range(n_d)
    ]
    tt_s = np.full((n_o, n_d), math.inf)
    price = np.full((n_o, n_d), -1, dtype=np.int64)
    transfers = np.full((n_o, n_d), -1, dtype=np.int16)
    is_transit = np.zeros((n_o, n_d), dtype=bool)
    reason = np.full((n_o, n_d), "", dtype=object)
    no_egress = np.array([not len(e.stops) for e in egress], dtype=bool)
    dist = haversine_m(o_lat[:, None], o_lon[:, None], d_lat[None, :], d_lon[None, :])
    walk_s = np.ceil(dist * DETOUR_FACTOR / walk_speed_mps)
    walkable = dist * DETOUR_FACTOR <= max(max_walk_m, 0.0) * 5  # a long walk, but a walk
    for i in range(n_o):
        access = _walk_times(
            index, float(o_lat[i]), float(o_lon[i]), max_walk_m=max_walk_m,
            speed_mps=walk_speed_mps,
        )
        found = (
            raptor.one_to_many(access, egress, depart_s, max_transfers=max_transfers)
            if len(access.stops) else [[] for _ in range(n_d)]
        )
        # the reason a pair cannot be travelled, as /plan gives it (used where it applies)
        if not len(access.stops):
            why = np.full(n_d, str(ReasonCode.NOTHING_WITHIN_WALK_LIMIT), dtype=object)
        else:
            ride = str(
                ReasonCode.NO_CONNECTION
                if _has_departure(tt, access, depart_s)
                else ReasonCode.NO_SERVICE_IN_WINDOW
            )
            why = np.where(no_egress, str(ReasonCode.NOTHING_WITHIN_WALK_LIMIT), ride)
        for j, journeys in enumerate(found):
            best: Journey | None = min(
                journeys, key=lambda jn: (jn.arrive_s, jn.n_transfers), default=None
            )
            walk_arrive = depart_s + walk_s[i, j] if walkable[i, j] else math.inf
            if best is None or walk_arrive <= best.arrive_s:
                if walkable[i, j]:
                    tt_s[i, j] = walk_s[i, j]
                    price[i, j] = 0
                    transfers[i, j] = 0
                else:
                    reason[i, j] = why[j]
                continue
            tt_s[i, j] = best.arrive_s - depart_s
            transfers[i, j] = best.n_transfers
            is_transit[i, j] = True
            price[i, j] = _price(best, pricer)
        if progress is not None:
            progress(i + 1, n_o)
    seconds = time.perf_counter() - started
    log.info("OD matrix %d x %d in %.1f s", n_o, n_d, seconds)
    return ODMatrix(
        tt_s, price, transfers, is_transit, dist, fares.currency if fares else "EUR",
        date, depart_s, seconds, reason.astype(str),
    )


def _price(journey: Journey, pricer: ItineraryPricer) -> int:
    """The journey's fare in minor units, -1 when unknown (or the network has no fares)."""
    quote = pricer.quote(journey)
    if quote is None or quote.total is None:
        return -1
    return quote.total.amount_minor
