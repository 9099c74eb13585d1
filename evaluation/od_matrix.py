"""Travel time and base fare for every origin-destination pair of a matrix, in batch.

A planner's evaluation needs thousands of OD pairs. Calling /plan once per pair would run
RAPTOR once per pair; here RAPTOR runs once per *origin* (`Raptor.reach`) and every
destination reads its answer off the same labels, which is what makes a 100 x 100 matrix a
matter of seconds and New York's 2,000 x 2,000 a matter of minutes: the earliest arrival of
every destination is one vectorised minimum over the egress stops, and a journey is rebuilt
and priced only where transit beats walking (`OriginRouter._fill_transit_row`). Origins
are routed in blocks (`OriginRouter.block`): `od_matrix` routes them all as one block in
this process, `evaluation.distributed` runs blocks as Dask tasks,
and `assemble` joins blocks into the same matrix either way.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from network.compiled import Network
from network.stop_index import StopIndex
from routing.geo import DETOUR_FACTOR, haversine_m
from routing.journey import Journey
from routing.planner import DEFAULT_WALK_SPEED_MPS, ReasonCode
from routing.raptor import Raptor, StopTimes
from routing.timetable import INF_TIME, Timetable
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


#: reason index -> `ReasonCode` value, as an `ODBlock` carries it (0: the pair can be travelled);
#: one byte per pair instead of a string crosses the wire from a Dask worker
REASONS: tuple[str, ...] = ("", *(str(code) for code in ReasonCode))
_REASON = {code: np.int8(i) for i, code in enumerate(REASONS)}


@dataclass(frozen=True)
class ODBlock:
    """Some origins' rows of the matrix, against every destination.

    The unit of work: `od_matrix` routes all origins as one block, a Dask task routes one
    block of origins (`evaluation.distributed`), and `assemble` joins blocks in order.
    """

    travel_time_s: np.ndarray  # (n, n_d) float64
    price_minor: np.ndarray  # (n, n_d) int64
    transfers: np.ndarray  # (n, n_d) int16
    is_transit: np.ndarray  # (n, n_d) bool
    distance_m: np.ndarray  # (n, n_d) float64
    reason: np.ndarray  # (n, n_d) int8: index into REASONS


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


class OriginRouter:
    """One network at one departure, ready to route origins against destinations.

    Holds a `Raptor` search state, so it serves one thread; a Dask worker keeps one per
    thread and reuses it for every block it is given.
    """

    def __init__(
        self,
        network: Network,
        depart: dt.datetime,
        *,
        max_walk_m: float = 1000.0,
        walk_speed_mps: float = DEFAULT_WALK_SPEED_MPS,
        max_transfers: int = 6,
    ) -> None:
        self.service_date, key, self.depart_s = network.resolve(depart)
        self.tt, trips = network.timetable(key)
        self.raptor = Raptor(self.tt)  # its own search state: the planning thread's is not shared
        self.currency = network.fares.currency if network.fares else "EUR"
        # the base fare /plan shows for the same journey: the same pricer, without a policy
        # (the evaluation applies policies to the whole matrix itself)
        self.pricer = ItineraryPricer(
            network.fares,
            RideFactsReader(network, self.tt, trips),
            dt.date.fromisoformat(self.service_date),
            None,
        )
        self.index = StopIndex(network.stops.lat, network.stops.lon, network.stops.stop_id)
        self.max_walk_m = max_walk_m
        self.walk_speed_mps = walk_speed_mps
        self.max_transfers = max_transfers

    def walk_times(self, lat: float, lon: float) -> StopTimes:
        """The stops within walking distance of a point, with the seconds to walk to each."""
        return _walk_times(
            self.index, lat, lon, max_walk_m=self.max_walk_m, speed_mps=self.walk_speed_mps
        )

    def egress(self, d_lat: np.ndarray, d_lon: np.ndarray) -> list[StopTimes]:
        """Each destination's stops within walking distance (shared by every origin)."""
        return [self.walk_times(float(d_lat[j]), float(d_lon[j])) for j in range(len(d_lat))]

    def block(
        self,
        o_lat: np.ndarray,
        o_lon: np.ndarray,
        d_lat: np.ndarray,
        d_lon: np.ndarray,
        egress: list[StopTimes],
        *,
        progress: Progress | None = None,
    ) -> ODBlock:
        """The matrix rows of these origins (progress: after each origin, of this block)."""
        n_o, n_d = len(o_lat), len(d_lat)
        out = ODBlock(
            travel_time_s=np.full((n_o, n_d), math.inf),
            price_minor=np.full((n_o, n_d), -1, dtype=np.int64),
            transfers=np.full((n_o, n_d), -1, dtype=np.int16),
            is_transit=np.zeros((n_o, n_d), dtype=bool),
            distance_m=haversine_m(o_lat[:, None], o_lon[:, None], d_lat[None, :], d_lon[None, :]),
            reason=np.zeros((n_o, n_d), dtype=np.int8),
        )
        ends = _Egress.of(egress)
        no_egress = np.diff(ends.ptr) == 0
        walk_s = np.ceil(out.distance_m * DETOUR_FACTOR / self.walk_speed_mps)
        # a long walk, but a walk
        walkable = out.distance_m * DETOUR_FACTOR <= max(self.max_walk_m, 0.0) * 5
        for i in range(n_o):
            access = self.walk_times(float(o_lat[i]), float(o_lon[i]))
            row = _Row(out, i, walk_s[i], walkable[i], self._reasons(access, no_egress))
            if len(access.stops):
                self._fill_transit_row(row, access, ends)
            else:
                row.fill(np.full(n_d, INF_TIME, dtype=np.int64), self.depart_s)
            if progress is not None:
                progress(i + 1, n_o)
        return out

    def _reasons(self, access: StopTimes, no_egress: np.ndarray) -> np.ndarray:
        """Per destination, the reason /plan would give if no way to travel is found."""
        if not len(access.stops):
            return np.full(len(no_egress), _REASON[ReasonCode.NOTHING_WITHIN_WALK_LIMIT])
        ride = (
            ReasonCode.NO_CONNECTION
            if _has_departure(self.tt, access, self.depart_s)
            else ReasonCode.NO_SERVICE_IN_WINDOW
        )
        return np.where(no_egress, _REASON[ReasonCode.NOTHING_WITHIN_WALK_LIMIT], _REASON[ride])

    def _fill_transit_row(self, row: _Row, access: StopTimes, ends: _Egress) -> None:
        """Row i from ONE search: per destination the fastest of the earliest transit arrival
        and the walk, with the transfers and fare of the journey that arrives then.

        `Raptor.one_to_many` would rebuild every Pareto journey (arrival, transfers) of every
        destination, though the matrix keeps only the earliest-arriving one (fewer transfers
        on a tie): at New York's 2,000 x 2,000 that rebuilding and the per-destination Python
        loop cost more than the search. Here the search runs once (`Raptor.reach`), the
        earliest arrival of every destination is a vectorised minimum over its egress stops,
        and a journey is rebuilt only for destinations where transit beats walking, once per
        egress stop. The journey is the one `one_to_many` ends with: where a single egress
        stop gives the earliest arrival, it is the ride-earliest journey to that stop
        (`Raptor.journey_to`, its first round to get there); where several stops tie, the
        round decides, which only `one_to_many` sees, so those few destinations are asked
        again of it with just their tied stops.
        """
        arrive_s, stop, tied, via_s = self._earliest(access, ends)
        transit = row.fill(arrive_s, self.depart_s)
        facts: dict[int, tuple[int, int]] = {}  # egress stop -> (transfers, fare) of its journey
        retry = transit & tied
        for j in np.flatnonzero(transit & ~tied).tolist():
            s = int(stop[j])
            if s not in facts:
                journey = self.raptor.journey_to(s)
                if journey is None:  # pragma: no cover - the arrival came from a ride to s
                    raise AssertionError(f"no ride reaches stop {s} after reach() found one")
                facts[s] = (journey.n_transfers, _price(journey, self.pricer))
            row.set_journey(j, *facts[s])
        if retry.any():
            # after journey_to: one_to_many runs the search again over the same labels
            dests = np.flatnonzero(retry)
            on_tie = (via_s == arrive_s[ends.dest]) & retry[ends.dest]
            tied_egress = [
                StopTimes(
                    ends.stop[on_tie & (ends.dest == j)].astype(np.int32),
                    ends.walk_s[on_tie & (ends.dest == j)].astype(np.int32),
                )
                for j in dests.tolist()
            ]
            found = self.raptor.one_to_many(
                access, tied_egress, self.depart_s, max_transfers=self.max_transfers
            )
            for j, journeys in zip(dests.tolist(), found, strict=True):
                best = journeys[-1]  # each later journey arrives strictly earlier
                row.set_journey(j, best.n_transfers, _price(best, self.pricer))

    def _earliest(
        self, access: StopTimes, ends: _Egress
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(earliest arrival by transit per destination, INF_TIME where none; the egress stop
        of that arrival, the first in the destination's egress order; whether another egress
        stop arrives at the same second; the arrival via each egress entry).
        """
        n_d = len(ends.ptr) - 1
        reach = self.raptor.reach(access, self.depart_s, max_transfers=self.max_transfers)
        t_s = reach.astype(np.int64)[ends.stop] + ends.walk_s
        arrive_s = np.full(n_d, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(arrive_s, ends.dest, t_s)
        arrive_s[arrive_s >= INF_TIME] = INF_TIME
        at_best = np.flatnonzero((t_s == arrive_s[ends.dest]) & (t_s < INF_TIME))
        stop = np.full(n_d, -1, dtype=np.int64)
        first = at_best[np.r_[True, np.diff(ends.dest[at_best]) != 0]] if len(at_best) else at_best
        stop[ends.dest[first]] = ends.stop[first]
        tied = np.bincount(ends.dest[at_best], minlength=n_d) > 1
        return arrive_s, stop, tied, t_s


class _Egress:
    """Every destination's egress stops as flat arrays (CSR), for vectorised minima."""

    def __init__(self, ptr: np.ndarray, stop: np.ndarray, walk_s: np.ndarray) -> None:
        self.ptr = ptr  # destination -> its first entry; n_d + 1 offsets
        self.stop = stop  # entry -> egress stop index (int64)
        self.walk_s = walk_s  # entry -> seconds walked from the stop (int64)
        self.dest = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))  # entry -> destination

    @classmethod
    def of(cls, egress: Sequence[StopTimes]) -> _Egress:
        """From one `StopTimes` per destination, in destination order."""
        sizes = np.array([len(e.stops) for e in egress], dtype=np.int64)
        ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        if len(egress) and sizes.sum():
            stop = np.concatenate([e.stops for e in egress]).astype(np.int64)
            walk_s = np.concatenate([e.seconds for e in egress]).astype(np.int64)
        else:
            stop = walk_s = np.zeros(0, dtype=np.int64)
        return cls(ptr, stop, walk_s)


class _Row:
    """Row i of a block being filled: per destination, transit or the walk or a reason."""

    def __init__(
        self, out: ODBlock, i: int, walk_s: np.ndarray, walkable: np.ndarray, why: np.ndarray
    ) -> None:
        self.out, self.i, self.walk_s, self.walkable, self.why = out, i, walk_s, walkable, why

    def fill(self, arrive_s: np.ndarray, depart_s: int) -> np.ndarray:
        """Times of the fastest way per destination; returns where transit wins.

        Walking the whole way wins a tie with transit, and walking is only an answer when
        walkable; a destination with neither gets the reason /plan would give.
        """
        out, i = self.out, self.i
        walk_arrive = np.where(self.walkable, depart_s + self.walk_s, math.inf)
        transit = (arrive_s < INF_TIME) & ~(walk_arrive <= arrive_s)
        walk = ~transit & self.walkable
        out.travel_time_s[i, walk] = self.walk_s[walk]
        out.price_minor[i, walk] = 0
        out.transfers[i, walk] = 0
        stuck = ~transit & ~self.walkable
        out.reason[i, stuck] = self.why[stuck]
        out.travel_time_s[i, transit] = arrive_s[transit] - depart_s
        out.is_transit[i, transit] = True
        return transit

    def set_journey(self, j: int, transfers: int, price_minor: int) -> None:
        """The transfers and fare of destination j's transit journey."""
        self.out.transfers[self.i, j] = transfers
        self.out.price_minor[self.i, j] = price_minor


def assemble(
    blocks: Sequence[ODBlock],
    *,
    currency: str,
    service_date: str,
    depart_s: int,
    seconds: float,
) -> ODMatrix:
    """The matrix of consecutive origin blocks (in origin order)."""
    if len(blocks) == 1:
        b = blocks[0]
        parts = [b.travel_time_s, b.price_minor, b.transfers, b.is_transit, b.distance_m]
        reason = b.reason
    else:
        parts = [
            np.concatenate([getattr(b, name) for b in blocks])
            for name in ("travel_time_s", "price_minor", "transfers", "is_transit", "distance_m")
        ]
        reason = np.concatenate([b.reason for b in blocks])
    codes = np.array(REASONS, dtype=object)[reason].astype(str)
    tt_s, price, transfers, is_transit, dist = parts
    return ODMatrix(
        tt_s, price, transfers, is_transit, dist, currency, service_date, depart_s, seconds, codes
    )


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
    network's fare for that journey (0 for walking). In this process, as one block; see
    `evaluation.distributed.od_matrix_distributed` for the same matrix on Dask.
    """
    started = time.perf_counter()
    router = OriginRouter(
        network, depart, max_walk_m=max_walk_m, walk_speed_mps=walk_speed_mps,
        max_transfers=max_transfers,
    )
    o_lat, o_lon = (np.asarray(a, dtype=np.float64) for a in origins)
    d_lat, d_lon = (np.asarray(a, dtype=np.float64) for a in destinations)
    block = router.block(o_lat, o_lon, d_lat, d_lon, router.egress(d_lat, d_lon),
                         progress=progress)
    seconds = time.perf_counter() - started
    log.info("OD matrix %d x %d in %.1f s", len(o_lat), len(d_lat), seconds)
    return assemble(
        [block], currency=router.currency, service_date=router.service_date,
        depart_s=router.depart_s, seconds=seconds,
    )


def _price(journey: Journey, pricer: ItineraryPricer) -> int:
    """The journey's fare in minor units, -1 when unknown (or the network has no fares)."""
    quote = pricer.quote(journey)
    if quote is None or quote.total is None:
        return -1
    return quote.total.amount_minor
