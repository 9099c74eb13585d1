"""Trips for people: the typed trip model, the one planning service, itineraries, prices,
and the fleet adapter that turns availability snapshots into router fleets.
"""
