"""Build small timetables from text, so tests read like the networks they describe.

    route R1
      A 08:00 B 08:10 C 08:20
      A 08:05 B 08:12 C 08:30
    walk B D 120

Each indented line is one trip: stop names each followed by a time; ``HH:MM/HH:MM`` gives
arrival/departure, and a time may pass 24:00. ``walk X Y SECONDS`` adds a one-way
footpath (write it twice for both ways). Stops are indexed in order of first mention.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from routing.timetable import CAN_ALIGHT, CAN_BOARD, Timetable
from routing.timetable_builder import Footpaths, TripEvents, build_timetable


@dataclass
class TextNet:
    timetable: Timetable
    stop_index: dict[str, int]
    route_names: list[str]

    @property
    def stop_name(self) -> dict[int, str]:
        return {i: n for n, i in self.stop_index.items()}

    def __getitem__(self, name: str) -> int:
        return self.stop_index[name]


def _clock(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 3600 + int(m) * 60


def parse(text: str) -> TextNet:
    stop_index: dict[str, int] = {}
    routes: list[str] = []
    trip_ptr = [0]
    ev_stop: list[int] = []
    ev_arr: list[int] = []
    ev_dep: list[int] = []
    trip_route: list[int] = []
    walks: list[tuple[int, int, int]] = []

    def stop(name: str) -> int:
        return stop_index.setdefault(name, len(stop_index))

    for raw in text.strip().splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("route "):
            routes.append(line.split()[1])
        elif line.startswith("walk "):
            _, a, b, sec = line.split()
            walks.append((stop(a), stop(b), int(sec)))
        else:
            tokens = line.split()
            for name, t in zip(tokens[::2], tokens[1::2], strict=True):
                a, _, d = t.partition("/")
                ev_stop.append(stop(name))
                ev_arr.append(_clock(a))
                ev_dep.append(_clock(d or a))
            trip_ptr.append(len(ev_stop))
            trip_route.append(len(routes) - 1)
    n_trips = len(trip_route)
    events = TripEvents(
        trip_ptr=np.array(trip_ptr, dtype=np.int64),
        stop=np.array(ev_stop, dtype=np.int32),
        arr_s=np.array(ev_arr, dtype=np.int32),
        dep_s=np.array(ev_dep, dtype=np.int32),
        flags=np.full(len(ev_stop), CAN_BOARD | CAN_ALIGHT, dtype=np.uint8),
        trip_route=np.array(trip_route, dtype=np.int32),
        trip_source=np.arange(n_trips, dtype=np.int32),
        trip_shift_s=np.zeros(n_trips, dtype=np.int32),
    )
    w = np.array(walks, dtype=np.int32).reshape(-1, 3)
    fps = Footpaths(w[:, 0].copy(), w[:, 1].copy(), w[:, 2].copy())
    return TextNet(build_timetable(len(stop_index), events, fps), stop_index, routes)


def describe(journey: object, net: TextNet) -> str:
    """``R1 A 08:00-C 08:20 | walk C-D 2m | R2 ...``: what a rider would read, no indexes."""
    from routing.journey import Journey, Ride

    assert isinstance(journey, Journey)
    tt = net.timetable
    names = net.stop_name

    def clock(t: int) -> str:
        return f"{t // 3600:02d}:{t % 3600 // 60:02d}"

    parts = []
    for leg in journey.legs:
        if isinstance(leg, Ride):
            route = net.route_names[int(tt.pattern_route[leg.pattern])]
            parts.append(
                f"{route} {names[leg.board_stop]} {clock(leg.depart_s)}"
                f"-{names[leg.alight_stop]} {clock(leg.arrive_s)}"
            )
        elif leg.from_stop >= 0 and leg.to_stop >= 0:
            parts.append(f"walk {names[leg.from_stop]}-{names[leg.to_stop]} {leg.duration_s}s")
    return " | ".join(parts)
