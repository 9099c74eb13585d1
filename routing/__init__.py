"""The routing core: street graphs and a RAPTOR timetable as compact int arrays.

Nothing in this package reads files, talks to a network or imports a web, Redis or
ingest library; `tests/test_architecture.py` fails the build if it does. Callers hand it
arrays (built by `ingest`, loaded by `network.compiled`) and get dense indexes back.
"""
