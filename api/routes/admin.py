"""Admin endpoints: register providers, issue and revoke their API keys.

Every call needs the admin token from settings (`FAIRTRIP_ADMIN_TOKEN`); without one
configured the admin API is off. Accounts and key hashes are written to the durable store
(SQLite by default), so they survive the availability cache and server restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, Response

from api.auth import AdminDep
from api.errors import ApiError
from api.examples import KEY, KEYS, PROVIDER, created, responses
from api.provider_schemas import KeyOut, KeysOut, NewProvider, ProviderIdPath, ProviderOut
from api.state import StateDep
from providers.accounts import ProviderExistsError, TooManyKeysError, UnknownApiKeyError
from providers.errors import (
    StoreUnavailableError,
    UnknownProviderError,
    UnsafeNameError,
    UnsafeUrlError,
)
from providers.urlsafety import check_url_syntax

router = APIRouter(prefix="/admin", tags=["admin"])

_ADMIN = (401, 403, 422, 503)


def _unknown(provider_id: str) -> ApiError:
    return ApiError(404, "unknown_provider", f"no provider {provider_id!r}", field="provider_id")


def _unavailable(exc: StoreUnavailableError) -> ApiError:
    return ApiError(
        503,
        "store_unavailable",
        str(exc),
        headers={"Retry-After": str(max(1, int(exc.retry_after_s)))},
    )


@router.post(
    "/providers",
    status_code=201,
    response_model=ProviderOut,
    responses=created(PROVIDER, 400, 409, *_ADMIN),
)
def create_provider(body: NewProvider, state: StateDep, _admin: AdminDep) -> dict[str, Any]:
    """Register a provider; with `poll_url`, its public GBFS feed is polled."""
    fleets = state.fleets
    if body.poll_url is not None:
        allow = frozenset(h.lower() for h in state.settings.poll_allow_hosts)
        try:
            check_url_syntax(body.poll_url, allow_hosts=allow)
        except UnsafeUrlError as exc:
            raise ApiError(422, "unsafe_url", str(exc), field="poll_url") from exc
    try:
        account = fleets.accounts.create_provider(
            body.provider_id, body.name, poll_url=body.poll_url
        )
    except ProviderExistsError as exc:
        raise ApiError(409, "provider_exists", str(exc), field="provider_id") from exc
    except StoreUnavailableError as exc:
        raise _unavailable(exc) from exc
    except UnsafeNameError as exc:  # a NUL, ESC, bidi override...: named with its position
        raise ApiError(422, "invalid_name", str(exc), field=exc.field) from exc
    except ValueError as exc:
        raise ApiError(422, "invalid_provider", str(exc)) from exc
    if account.poll_url and fleets.poller is not None:
        fleets.poller.add(account.provider_id, account.poll_url)
    return {
        "provider_id": account.provider_id,
        "name": account.name,
        "poll_url": account.poll_url,
        "created_at_s": account.created_at_s,
    }


@router.delete("/providers/{provider_id}", status_code=204, responses=created(None, 404, *_ADMIN))
async def delete_provider(
    provider_id: ProviderIdPath, state: StateDep, _admin: AdminDep
) -> Response:
    """Remove a provider, its keys and its fleet (if it has one)."""
    fleets = state.fleets
    if fleets.accounts.get(provider_id) is None:
        raise _unknown(provider_id)
    try:
        if fleets.poller is not None:
            # a push provider (no poll URL) was never handed to the poller
            with contextlib.suppress(UnknownProviderError):
                fleets.poller.remove(provider_id)
        # a provider that never pushed, or whose data the cache lost, has no fleet to delete
        with contextlib.suppress(UnknownProviderError):
            await asyncio.to_thread(fleets.store.delete_provider, provider_id)
        fleets.accounts.delete_provider(provider_id)
    except StoreUnavailableError as exc:
        raise _unavailable(exc) from exc
    return Response(status_code=204)


@router.post(
    "/providers/{provider_id}/keys",
    status_code=201,
    response_model=KeyOut,
    responses=created(KEY, 404, 409, *_ADMIN),
)
def issue_key(provider_id: ProviderIdPath, state: StateDep, _admin: AdminDep) -> dict[str, str]:
    """A new API key for the provider; the secret is in this response only."""
    try:
        issued = state.fleets.accounts.issue_key(provider_id)
    except UnknownProviderError:
        raise _unknown(provider_id) from None
    except TooManyKeysError as exc:
        raise ApiError(409, "too_many_keys", str(exc)) from exc
    except StoreUnavailableError as exc:
        raise _unavailable(exc) from exc
    return {"key_id": issued.key_id, "secret": issued.secret}


@router.get(
    "/providers/{provider_id}/keys",
    response_model=KeysOut,
    responses=responses(KEYS, 404, *_ADMIN),
)
def list_keys(provider_id: ProviderIdPath, state: StateDep, _admin: AdminDep) -> dict[str, Any]:
    """The provider's keys: ids and dates, never secrets."""
    try:
        keys = state.fleets.accounts.keys(provider_id)
    except UnknownProviderError:
        raise _unknown(provider_id) from None
    return {
        "keys": [
            {"key_id": k.key_id, "created_at_s": k.created_at_s, "revoked_at_s": k.revoked_at_s}
            for k in keys
        ]
    }


@router.delete(
    "/providers/{provider_id}/keys/{key_id}",
    status_code=204,
    responses=created(None, 404, *_ADMIN),
)
def revoke_key(
    provider_id: ProviderIdPath, key_id: str, state: StateDep, _admin: AdminDep
) -> Response:
    """Revoke a key at once; pushes with it are refused from now on."""
    try:
        state.fleets.accounts.revoke_key(provider_id, key_id)
    except UnknownProviderError:
        raise _unknown(provider_id) from None
    except UnknownApiKeyError as exc:
        raise ApiError(404, "unknown_key", str(exc), field="key_id") from exc
    except StoreUnavailableError as exc:
        raise _unavailable(exc) from exc
    return Response(status_code=204)
