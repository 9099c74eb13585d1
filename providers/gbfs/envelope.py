"""The envelope every GBFS file shares (`last_updated`, `ttl`, `version`, `data`) and versions.

Version detection: the `version` member (added in 1.1) names it; a file without one is 1.0.
Versions group into families that read alike: "1" (1.0, 1.1: read tolerantly), "2" (2.0-2.3:
POSIX timestamps, plain-string names) and "3" (3.0: RFC 3339 timestamps, localized names).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final

from providers.gbfs.fields import ENVELOPE
from providers.gbfs.jsonload import load_json
from providers.gbfs.timestamps import read_last_updated, read_ttl
from providers.gbfs.values import Loc, as_object, check_fields, wrong_type

#: Every version this parser reads; anything else is refused rather than guessed at.
SUPPORTED_VERSIONS: Final = ("1.0", "1.1", "2.0", "2.1", "2.2", "2.3", "3.0")


@dataclass(frozen=True, slots=True)
class Dialect:
    """How to read one GBFS version: its family and the encodings that follow from it."""

    version: str

    @property
    def family(self) -> str:
        """The family: `1`, `2` or `3`."""
        return self.version[0]

    @property
    def v3(self) -> bool:
        """3.0: RFC 3339 timestamps, localized text arrays, `vehicle_status`."""
        return self.family == "3"

    @property
    def legacy(self) -> bool:
        """1.x: deprecated and read tolerantly (unknown fields, nulls, 0/1 booleans)."""
        return self.family == "1"


@dataclass(frozen=True, slots=True)
class Envelope:
    """One loaded file: its name, version, freshness and the still-unparsed `data`."""

    name: str
    dialect: Dialect
    data: dict[str, Any]
    last_updated_s: int
    ttl_s: int
    content_sha256: str


def detect_version(doc: dict[str, Any], loc: Loc) -> str:
    """The GBFS version a file declares (absent: 1.0)."""
    if "version" not in doc:
        return "1.0"
    version = doc["version"]
    if not isinstance(version, str):
        raise wrong_type(version, "version string such as '2.3'", loc.at("version"))
    if version not in SUPPORTED_VERSIONS:
        raise loc.at("version").error(
            f"unsupported GBFS version {version[:20]!r}; supported: {', '.join(SUPPORTED_VERSIONS)}"
        )
    return version


def read_envelope(
    name: str, raw: bytes, *, received_at_s: int | None, expected_version: str | None = None
) -> Envelope:
    """Load one file and check its envelope; `data` is left for the per-file readers.

    With `expected_version` (the rest of the snapshot's), a different version is reported
    as such before anything version-specific (timestamp encoding) is read.
    """
    loc = Loc(name)
    doc = as_object(load_json(name, raw), loc)
    dialect = Dialect(detect_version(doc, loc))
    if expected_version is not None and dialect.version != expected_version:
        raise loc.at("version").error(
            f"version {dialect.version} differs from the snapshot's {expected_version}; "
            "all files of a snapshot share one GBFS version"
        )
    check_fields(doc, ENVELOPE, loc, tolerant=dialect.legacy)
    for key in ("last_updated", "ttl", "data"):
        if key not in doc:
            raise loc.at(key).error(f"missing required field {key!r}")
    last_updated_s = read_last_updated(
        doc["last_updated"], loc.at("last_updated"), v3=dialect.v3, received_at_s=received_at_s
    )
    ttl_s = read_ttl(doc["ttl"], loc.at("ttl"))
    data = as_object(doc["data"], loc.at("data"))
    return Envelope(
        name=name,
        dialect=dialect,
        data=data,
        last_updated_s=last_updated_s,
        ttl_s=ttl_s,
        content_sha256=hashlib.sha256(raw).hexdigest(),
    )
