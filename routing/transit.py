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

    def _turn_around(self, journey: Journey) -> Journey:
        tt = self.timetable
        legs: list[Leg] = []
        for leg in reversed(journey.legs):
            if isinstance(leg, Walk):
                legs.append(Walk(leg.to_stop, leg.from_stop, -leg.arrive_s, -leg.depart_s))
            else:
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
        return Journey(tuple(legs))
