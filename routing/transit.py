"""Depart-at, arrive-by and range transit searches over one timetable.

Arrive-by runs the forward RAPTOR kernel on the time-reversed timetable (see
`Timetable.reversed`) and turns the journeys it finds back around, so both directions share
one kernel and one set of invariants.
"""

from __future__ import annotations

from routing.journey import Journey, Leg, Ride, Walk
from routing.raptor import MAX_ROUNDS_LIMIT, Raptor, StopTimes
from routing.timetable import Timetable


class TransitSearch:
    """Per-worker transit searcher: a forward and a reverse `Raptor` sharing one timetable."""

    def __init__(self, timetable: Timetable, *, max_rounds: int = MAX_ROUNDS_LIMIT) -> None:
        self.timetable = timetable
        self.forward = Raptor(timetable, max_rounds=max_rounds)
        self._reverse_tt = timetable.reversed()
        self.backward = Raptor(self._reverse_tt, max_rounds=max_rounds)

    def depart_at(
        self, access: StopTimes, egress: StopTimes, depart_s: int, *, max_transfers: int = 8
    ) -> list[Journey]:
        """Pareto set over (arrival, transfers) leaving the origin at `depart_s`."""
        return self.forward.earliest_arrival(access, egress, depart_s, max_transfers=max_transfers)

    def depart_window(
        self,
        access: StopTimes,
        egress: StopTimes,
        depart_s: int,
        window_s: int,
        *,
        max_transfers: int = 8,
    ) -> list[Journey]:
        """Pareto set over (departure, arrival, transfers) leaving within the window (rRAPTOR)."""
        return self.forward.range_query(
            access, egress, depart_s, window_s, max_transfers=max_transfers
        )

    def arrive_by(
        self, access: StopTimes, egress: StopTimes, arrive_s: int, *, max_transfers: int = 8
    ) -> list[Journey]:
        """Pareto set over (latest departure, transfers) reaching the destination by `arrive_s`."""
        found = self.backward.earliest_arrival(
            egress, access, -arrive_s, max_transfers=max_transfers
        )
        return [self._turn_around(j) for j in found]

    def has_service(
        self,
        access: StopTimes,
        egress: StopTimes,
        time_s: int,
        *,
        window_s: int = 0,
        arrive_by: bool = False,
    ) -> bool:
        """Whether any ride could start the search: one boarding at an access stop after the
        rider can be there (within the window's departures for a range query), or, for
        arrive-by, one alighting at an egress stop early enough to walk on by `time_s`.

        Without one, "no service in the time window" is the honest reason for an empty
        answer; with one, the rides simply do not connect the two ends.
        """
        if arrive_by:
            tt, stops, walk_s, start = self._reverse_tt, egress.stops, egress.seconds, -time_s
        else:
            tt, stops, walk_s, start = self.timetable, access.stops, access.seconds, time_s
        horizon_s = window_s + 1 if window_s else 4 * 86_400
        for stop, seconds in zip(stops.tolist(), walk_s.tolist(), strict=True):
            trips, _, _ = tt.next_departures(
                int(stop), start + int(seconds), limit=1, horizon_s=horizon_s
            )
            if len(trips):
                return True
        return False

    def _turn_around(self, journey: Journey) -> Journey:
        tt = self.timetable
        legs: list[Leg] = []
        for leg in reversed(journey.legs):
            if isinstance(leg, Walk):
                legs.append(Walk(leg.to_stop, leg.from_stop, -leg.arrive_s, -leg.depart_s))
            elif isinstance(leg, Ride):
                p = leg.pattern
                m = int(tt.pattern_stop_ptr[p + 1] - tt.pattern_stop_ptr[p])
                legs.append(
                    Ride(
                        trip=tt.reversed_trip(leg.trip),
                        pattern=p,
                        board_pos=m - 1 - leg.alight_pos,
                        alight_pos=m - 1 - leg.board_pos,
                        board_stop=leg.alight_stop,
                        alight_stop=leg.board_stop,
                        depart_s=-leg.arrive_s,
                        arrive_s=-leg.depart_s,
                    )
                )
            else:  # RAPTOR builds rides and stop-to-stop walks only
                raise TypeError(f"a transit journey cannot hold a {type(leg).__name__} leg")
        return Journey(tuple(legs))
