"""Credentials: provider API keys and the admin token, both as `Authorization: Bearer`."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError
from api.state import StateDep
from providers.errors import AuthError

bearer = HTTPBearer(auto_error=False, description="provider API key or admin token")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def require_provider_key(state: StateDep, provider_id: str, credentials: BearerDep) -> str:
    """The key id of a valid key *of this provider*; 401 without one, 403 with another's.

    A key of provider A presented for provider B is refused exactly like a wrong key, so a
    key holder learns nothing about other tenants (not even whether they exist).
    """
    if credentials is None:
        raise ApiError(
            401,
            "missing_credentials",
            "send the provider's API key as 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return state.fleets.accounts.authenticate(provider_id, credentials.credentials)
    except AuthError:
        raise ApiError(
            403, "forbidden", f"this API key is not a valid key of provider {provider_id!r}"
        ) from None


def require_admin(state: StateDep, credentials: BearerDep) -> None:
    """The admin token from settings, compared in constant time."""
    token = state.settings.admin_token
    if token is None:
        raise ApiError(403, "admin_disabled", "the admin API is off: set FAIRTRIP_ADMIN_TOKEN")
    if credentials is None:
        raise ApiError(
            401,
            "missing_credentials",
            "send the admin token as 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(credentials.credentials.encode(), token.get_secret_value().encode()):
        raise ApiError(403, "forbidden", "wrong admin token")


AdminDep = Annotated[None, Depends(require_admin)]
