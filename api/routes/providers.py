"""Provider endpoints: push GBFS (whole snapshot or one file), read status, list providers.

A push is parsed and cross-checked completely before anything is written; the store then
swaps the provider's fleet atomically. So a bad push changes nothing, and readers see the
old fleet or the new one, never a mix. The response waits until the worker that answered has
rebuilt its fleet views (`Fleets.refreshed`): a plan sent after it sees the pushed vehicles
on that worker, and on the others within `Settings.fleet_refresh_s`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from api.auth import require_provider_key
from api.errors import ApiError
from api.examples import PROVIDER_STATUS, PROVIDERS, PUSH, responses
from api.provider_schemas import (
    FileNamePath,
    ProviderIdPath,
    ProvidersOut,
    ProviderStatusOut,
    PushResult,
)
from api.state import AppState, StateDep
from providers.accounts import ProviderAccount
from providers.errors import (
    FeedError,
    OutsideServiceAreaError,
    ProviderError,
    StoreUnavailableError,
    UnknownProviderError,
)
from providers.gbfs import GBFS_FILES, merge_file, parse_feed
from providers.gbfs.jsonload import load_json
from providers.model import FleetSnapshot

log = logging.getLogger(__name__)

router = APIRouter(tags=["providers"])

#: request bodies are read raw (the GBFS parser validates them), so they are described here
SNAPSHOT_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["files"],
                "additionalProperties": False,
                "properties": {
                    "files": {
                        "type": "object",
                        "description": "GBFS file name (no .json) -> that file's JSON document",
                    }
                },
            },
            "example": {
                "files": {
                    "system_information": {
                        "last_updated": "2022-02-22T06:00:00+00:00",
                        "ttl": 86400,
                        "version": "3.0",
                        "data": {"system_id": "acme-bikes", "...": "..."},
                    },
                    "vehicle_status": {"...": "..."},
                }
            },
        }
    },
}
FILE_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"type": "object", "description": "one GBFS file's JSON document"},
            "example": {
                "last_updated": "2022-02-22T06:00:00+00:00",
                "ttl": 60,
                "version": "3.0",
                "data": {"vehicles": []},
            },
        }
    },
}


def _feed_error(exc: FeedError) -> ApiError:
    code = "outside_service_area" if isinstance(exc, OutsideServiceAreaError) else "invalid_feed"
    return ApiError(422, code, str(exc), field=f"{exc.file}{exc.path}")


def split_envelope(raw: bytes) -> dict[str, bytes]:
    """`{"files": {name: document}}` -> name -> the document's bytes, checked as GBFS is.

    The envelope goes through the same hostile-input guards as a feed file (size, depth,
    NaN, duplicate keys) in one pass; numbers are read as floats there, which re-encode to
    the same decimal text (shortest round-trip repr), so the parser still sees exact prices.
    """
    envelope = load_json("request", raw, exact_numbers=False)
    if not isinstance(envelope, dict) or set(envelope) != {"files"}:
        raise FeedError("request", "", 'body must be {"files": {"<gbfs file>": {...}, ...}}')
    files = envelope["files"]
    if not isinstance(files, dict) or not files:
        raise FeedError("request", "/files", "must be a non-empty object of GBFS files")
    unknown = sorted(set(files) - set(GBFS_FILES) - {"gbfs", "manifest"})
    if unknown:
        raise FeedError(
            "request",
            f"/files/{unknown[0]}",
            f"not a GBFS file name; expected one of {', '.join(sorted(GBFS_FILES))}",
        )
    # re-encode each document as the bytes a feed would carry; the parser reads them exactly
    return {
        name: json.dumps(doc, ensure_ascii=False, allow_nan=False).encode()
        for name, doc in files.items()
        if name not in ("gbfs", "manifest")
    }


async def _store(state: AppState, snapshot: FleetSnapshot) -> PushResult:
    try:
        await asyncio.to_thread(state.fleets.store.put_snapshot, snapshot)
    except StoreUnavailableError as exc:
        raise ApiError(
            503,
            "store_unavailable",
            str(exc),
            headers={"Retry-After": str(max(1, int(exc.retry_after_s)))},
        ) from exc
    try:
        await asyncio.to_thread(state.fleets.note_push, snapshot.provider_id)
    except ProviderError:  # the cache check records it within one period anyway
        log.warning("could not record %s's push in the accounts", snapshot.provider_id)
    # this worker plans with the push before answering; other workers within their period
    await state.fleets.refreshed()
    received = max((f.received_at_s for f in snapshot.feeds), default=int(time.time()))
    return PushResult(
        provider_id=snapshot.provider_id,
        gbfs_version=snapshot.gbfs_version,
        vehicles=len(snapshot.vehicles),
        stations=len(snapshot.stations),
        files=sorted(f.name for f in snapshot.feeds),
        received_at_s=received,
        warnings=list(snapshot.warnings),
    )


_PUSH_RESPONSES = responses(PUSH, 400, 401, 403, 404, 409, 413, 422, 503)


@router.put(
    "/providers/{provider_id}/gbfs",
    response_model=PushResult,
    responses=_PUSH_RESPONSES,
    openapi_extra={"requestBody": SNAPSHOT_BODY},
)
async def push_snapshot(
    provider_id: ProviderIdPath,
    request: Request,
    state: StateDep,
    _key: Annotated[str, Depends(require_provider_key)],
) -> PushResult:
    """Replace the provider's whole fleet with a GBFS snapshot (`{"files": {...}}`)."""
    raw = await request.body()
    try:
        files = split_envelope(raw)
        snapshot = await asyncio.to_thread(
            parse_feed,
            provider_id,
            files,
            received_at_s=int(time.time()),
            source="push",
            area=state.fleets.area,
        )
    except FeedError as exc:
        raise _feed_error(exc) from exc
    return await _store(state, snapshot)


@router.put(
    "/providers/{provider_id}/gbfs/{file}",
    response_model=PushResult,
    responses=_PUSH_RESPONSES,
    openapi_extra={"requestBody": FILE_BODY},
)
async def push_file(
    provider_id: ProviderIdPath,
    file: FileNamePath,
    request: Request,
    state: StateDep,
    _key: Annotated[str, Depends(require_provider_key)],
) -> PushResult:
    """Replace one GBFS file of the provider's stored snapshot (e.g. `vehicle_status`)."""
    if file not in GBFS_FILES:
        raise ApiError(
            404,
            "unknown_gbfs_file",
            f"{file!r} is not a GBFS file this server accepts",
            field="file",
        )
    current = await asyncio.to_thread(state.fleets.store.snapshot, provider_id)
    if current is None:
        raise ApiError(
            409,
            "no_snapshot",
            f"provider {provider_id!r} has no snapshot yet; push the "
            "whole feed to /providers/{provider_id}/gbfs first",
        )
    raw = await request.body()
    try:
        snapshot = await asyncio.to_thread(
            merge_file, current, file, raw, received_at_s=int(time.time()), area=state.fleets.area
        )
    except FeedError as exc:
        raise _feed_error(exc) from exc
    return await _store(state, snapshot)


def _poll_error(state: AppState, provider_id: str) -> dict[str, Any] | None:
    """Why polling this provider fails now (None when it is not polled or doing fine)."""
    poller = state.fleets.poller
    if poller is None:
        return None
    try:
        st = poller.status(provider_id)
    except UnknownProviderError:
        return None
    if not st.failing or st.last_error is None:
        return None
    return {
        "reason": st.last_error,
        "at_s": st.last_error_s,
        "consecutive_failures": st.consecutive_failures,
        "refused": st.refused,
    }


def _status(state: AppState, provider_id: str) -> dict[str, Any]:
    poll_error = _poll_error(state, provider_id)
    try:
        st = state.fleets.store.status(provider_id, int(time.time()))
    except UnknownProviderError:
        lost = _data_lost(state, provider_id)
        if lost is not None:
            return lost
        why = f"; its last poll failed: {poll_error['reason']}" if poll_error else ""
        raise ApiError(
            404,
            "unknown_provider",
            f"no data for provider {provider_id!r}{why}",
            field="provider_id",
        ) from None
    try:
        account = state.fleets.accounts.get(provider_id)
    except StoreUnavailableError:  # reads keep working from the last good copy
        account = None
    return {
        "provider_id": st.provider_id,
        "name": account.name if account else None,
        "source": st.source,
        "gbfs_version": st.gbfs_version,
        "age_s": st.age_s,
        "stale": st.stale,
        "vehicles": st.vehicles,
        "stations": st.stations,
        "files": [dataclasses.asdict(f) for f in st.files],
        "poll_error": poll_error,
        "warnings": _last_warnings(state, provider_id),
    }


def _data_lost(state: AppState, provider_id: str) -> dict[str, Any] | None:
    """The status of a provider whose data the availability cache lost, or None."""
    try:
        account = state.fleets.accounts.get(provider_id)
    except StoreUnavailableError:
        return None
    lost_at = state.fleets.data_lost_at(account) if account is not None else None
    if account is None or lost_at is None:
        return None
    return {
        "provider_id": provider_id,
        "name": account.name,
        "source": None,
        "gbfs_version": None,
        "age_s": None,
        "stale": True,
        "vehicles": 0,
        "stations": 0,
        "files": [],
        "data_lost": True,
        "lost_at_s": lost_at,
    }


def _last_warnings(state: AppState, provider_id: str) -> list[str]:
    """The warnings kept on the provider's current snapshot (its last push or poll)."""
    snapshot = state.fleets.store.snapshot(provider_id)
    return list(snapshot.warnings) if snapshot is not None else []


@router.get(
    "/providers/{provider_id}/status",
    response_model=ProviderStatusOut,
    responses=responses(PROVIDER_STATUS, 404, 422, 503),
)
def provider_status(provider_id: ProviderIdPath, state: StateDep) -> dict[str, Any]:
    """Freshness of each feed file; a provider older than 300 s is stale (not routed)."""
    return _status(state, provider_id)


@router.get(
    "/providers/{provider_id}/gbfs",
    response_model=ProviderStatusOut,
    responses=responses(PROVIDER_STATUS, 401, 403, 404, 422, 503),
)
def own_snapshot(
    provider_id: ProviderIdPath,
    state: StateDep,
    _key: Annotated[str, Depends(require_provider_key)],
) -> dict[str, Any]:
    """What the server holds for the calling provider (its own data only)."""
    return _status(state, provider_id)


@router.get("/providers", response_model=ProvidersOut, responses=responses(PROVIDERS, 503))
def list_providers(state: StateDep) -> dict[str, Any]:
    """Every registered provider and its freshness; synthetic fleets say so in `source`."""
    now = int(time.time())
    out = []
    try:
        accounts = state.fleets.accounts.list()
    except StoreUnavailableError:  # accounts unreadable: list what the last good copy holds
        accounts = [ProviderAccount(pid, pid, None, 0) for pid in state.fleets.store.provider_ids()]
    for account in accounts:
        entry: dict[str, Any] = {
            "provider_id": account.provider_id,
            "name": account.name,
            "polled": account.poll_url is not None,
            "poll_error": _poll_error(state, account.provider_id),
        }
        try:
            st = state.fleets.store.status(account.provider_id, now)
        except UnknownProviderError:
            lost_at = state.fleets.data_lost_at(account)
            if lost_at is not None:
                entry.update(data_lost=True, lost_at_s=lost_at)
        else:
            entry.update(
                source=st.source,
                stale=st.stale,
                age_s=st.age_s,
                vehicles=st.vehicles,
                stations=st.stations,
            )
        out.append(entry)
    return {"providers": out}
