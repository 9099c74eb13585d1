"""Typed errors of the build side: each names the file and what was wrong with it."""

from __future__ import annotations


class IngestError(Exception):
    """Base class of every error raised while reading or compiling inputs."""


class GtfsError(IngestError, ValueError):
    """A GTFS feed is missing a table or column, or holds values that cannot be used."""


class OsmError(IngestError, ValueError):
    """An OSM extract cannot be read or yields no usable streets."""


class InputFileError(IngestError, FileNotFoundError):
    """An input file does not exist or is not a readable file of the expected kind."""
