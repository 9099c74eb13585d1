"""Discovery files: `gbfs.json` (every version) and the 3.0 `manifest.json`.

`gbfs.json` lists the files a system publishes: 1.x/2.x nest the list per language
(`data.<lang>.feeds[]`), 3.0 has one `data.feeds[]`. `manifest.json` (3.0) lists datasets
(one per system) each with a `gbfs.json` URL per version; it becomes a `Discovery` whose
`feeds` maps each `system_id` to the URL of its newest version's `gbfs.json`.

URLs are checked to be sane strings only; whether a URL may be fetched (scheme, private
hosts) is the fetcher's decision (`UnsafeUrlError`), not the parser's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from providers.gbfs.envelope import SUPPORTED_VERSIONS, Dialect, detect_version
from providers.gbfs.fields import ENVELOPE, FEED_ENTRY
from providers.gbfs.jsonload import load_json
from providers.gbfs.timestamps import read_last_updated, read_ttl
from providers.gbfs.values import (
    Loc,
    as_array,
    as_object,
    check_fields,
    get_str,
    unique_id,
)

logger = logging.getLogger(__name__)

#: Feed names the spec defines, over all versions.
KNOWN_FEED_NAMES: Final = frozenset(
    {
        "gbfs",
        "gbfs_versions",
        "manifest",
        "system_information",
        "vehicle_types",
        "station_information",
        "station_status",
        "vehicle_status",
        "free_bike_status",
        "system_hours",
        "system_calendar",
        "system_regions",
        "system_pricing_plans",
        "system_alerts",
        "geofencing_zones",
    }
)
_MANIFEST_DATASET: Final = frozenset({"system_id", "versions"})
_MANIFEST_VERSION: Final = frozenset({"version", "url"})


@dataclass(frozen=True)
class Discovery:
    """What a discovery file says: the GBFS version and feed name -> URL."""

    version: str
    feeds: dict[str, str]


def _url(obj: Mapping[str, Any], loc: Loc) -> str:
    url = get_str(obj, "url", loc)
    assert url is not None
    if any(c.isspace() or ord(c) < 0x20 for c in url):
        raise loc.at("url").error("URL contains whitespace or control characters")
    return url


def _feed_list(value: object, loc: Loc, dialect: Dialect) -> dict[str, str]:
    feeds: dict[str, str] = {}
    seen: set[str] = set()
    for i, item in enumerate(as_array(value, loc, max_items=100)):
        f_loc = loc.at(i)
        entry = as_object(item, f_loc)
        check_fields(entry, FEED_ENTRY, f_loc, tolerant=dialect.legacy)
        name = get_str(entry, "name", f_loc)
        assert name is not None
        if name not in KNOWN_FEED_NAMES:
            if dialect.legacy:
                f_loc.at("name").warn("ignored", f"unknown feed {name[:40]!r} ignored")
                continue
            raise f_loc.at("name").error(
                f"unknown feed name {name[:40]!r}; expected one of: "
                + ", ".join(sorted(KNOWN_FEED_NAMES))
            )
        unique_id(seen, name, f_loc.at("name"), "feed name")
        feeds[name] = _url(entry, f_loc)
    if not feeds:
        raise loc.error("discovery lists no feeds")
    return feeds


def _manifest(data: Mapping[str, Any], loc: Loc) -> dict[str, str]:
    check_fields(data, {"datasets"}, loc)
    if "datasets" not in data:
        raise loc.at("datasets").error("missing required field 'datasets'")
    out: dict[str, str] = {}
    for i, item in enumerate(as_array(data["datasets"], loc.at("datasets"), max_items=10_000)):
        d_loc = loc.at("datasets").at(i)
        dataset = as_object(item, d_loc)
        check_fields(dataset, _MANIFEST_DATASET, d_loc)
        system_id = get_str(dataset, "system_id", d_loc)
        assert system_id is not None
        if system_id in out:
            raise d_loc.at("system_id").error(f"duplicate system_id {system_id!r}")
        if "versions" not in dataset:
            raise d_loc.at("versions").error("missing required field 'versions'")
        best: tuple[int, str] | None = None
        for j, v_item in enumerate(
            as_array(dataset["versions"], d_loc.at("versions"), max_items=20)
        ):
            v_loc = d_loc.at("versions").at(j)
            entry = as_object(v_item, v_loc)
            check_fields(entry, _MANIFEST_VERSION, v_loc)
            version = get_str(entry, "version", v_loc)
            if version not in SUPPORTED_VERSIONS:
                raise v_loc.at("version").error(
                    f"unsupported version {version!r}; supported: {', '.join(SUPPORTED_VERSIONS)}"
                )
            rank = SUPPORTED_VERSIONS.index(version)
            url = _url(entry, v_loc)
            if best is None or rank > best[0]:
                best = (rank, url)
        if best is None:
            raise d_loc.at("versions").error("dataset lists no versions")
        out[system_id] = best[1]
    if not out:
        raise loc.at("datasets").error("manifest lists no datasets")
    return out


def parse_discovery(raw: bytes, *, language: str | None = None) -> Discovery:
    """Read a `gbfs.json` (any version) or a 3.0 `manifest.json`.

    Parameters
    ----------
    raw
        The file body.
    language
        For 1.x/2.x `gbfs.json`, which language's feed list to take; default `en` when
        published, else the first listed. Asking for a language the file lacks is an error.
    """
    probe = load_json("gbfs", raw)
    is_manifest = (
        isinstance(probe, dict)
        and isinstance(probe.get("data"), dict)
        and "datasets" in probe["data"]
    )
    loc = Loc("manifest" if is_manifest else "gbfs")
    doc = as_object(probe, loc)
    dialect = Dialect(detect_version(doc, loc))
    data = _checked_data(doc, loc, dialect)
    if is_manifest:
        if not dialect.v3:
            raise loc.at("version").error("manifest.json exists only in GBFS 3.0")
        return Discovery(version=dialect.version, feeds=_manifest(data, loc.at("data")))
    if dialect.v3:
        check_fields(data, {"feeds"}, loc.at("data"))
        if "feeds" not in data:
            raise loc.at("data").at("feeds").error("missing required field 'feeds'")
        feeds_loc = loc.at("data").at("feeds")
        return Discovery(dialect.version, _feed_list(data["feeds"], feeds_loc, dialect))
    return Discovery(dialect.version, _language_feeds(data, loc.at("data"), dialect, language))


def _checked_data(doc: Mapping[str, Any], loc: Loc, dialect: Dialect) -> Mapping[str, Any]:
    """The envelope's `data`, once `last_updated`, `ttl` and the field names are checked."""
    check_fields(doc, ENVELOPE, loc, tolerant=dialect.legacy)
    for key in ("last_updated", "ttl", "data"):
        if key not in doc:
            raise loc.at(key).error(f"missing required field {key!r}")
    read_last_updated(
        doc["last_updated"], loc.at("last_updated"), v3=dialect.v3, received_at_s=None
    )
    read_ttl(doc["ttl"], loc.at("ttl"))
    return as_object(doc["data"], loc.at("data"))


def _language_feeds(
    data: Mapping[str, Any], loc: Loc, dialect: Dialect, language: str | None
) -> dict[str, str]:
    """1.x/2.x: the feed list of `language` (default `en` when published, else the first)."""
    if not data:
        raise loc.error("expected at least one language with a feed list")
    if language is not None:
        if language not in data:
            raise loc.error(f"no feed list for language {language!r}; published: {', '.join(data)}")
        chosen = language
    else:
        chosen = "en" if "en" in data else next(iter(data))
    l_loc = loc.at(chosen)
    per_language = as_object(data[chosen], l_loc)
    check_fields(per_language, {"feeds"}, l_loc, tolerant=dialect.legacy)
    if "feeds" not in per_language:
        raise l_loc.at("feeds").error("missing required field 'feeds'")
    return _feed_list(per_language["feeds"], l_loc.at("feeds"), dialect)
