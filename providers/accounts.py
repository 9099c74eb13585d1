"""Provider accounts and their API keys (what a provider presents to push its feed).

A key is shown once, at issue, as ``ft_<key_id>_<random>``; the store keeps only a hash.
The key id in the clear lets operators name a key (in logs, to revoke it) without the
secret. Authentication is scoped to the provider named in the request: the presented secret's
hash is compared, in constant time, with every active key of *that* provider only, so a key of
provider A never authenticates for B and timing does not reveal which provider owns a key.

Accounts are durable configuration, not cache: their Redis keys have no TTL (an expiring
account would lock a provider out), unlike the availability store's data keys.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import json
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import redis

from providers.errors import AuthError, ProviderError, UnknownProviderError
from providers.store.breaker import CircuitBreaker
from providers.store.keys import DEFAULT_NAMESPACE, PROVIDER_ID_RE, Keys
from providers.store.redis_conn import BackendUnavailableError, guarded, make_client

#: every secret starts with this, so leaked keys are easy to find by secret scanners
SECRET_PREFIX = "ft_"
#: active keys per provider: enough to rotate, few enough to compare them all every request
MAX_ACTIVE_KEYS = 10
#: longest secret worth hashing (ours are 60 characters); longer input is refused outright
MAX_SECRET_CHARS = 256
#: domain separation: a fairtrip key hash is not the sha256 of anything else
_HASH_DOMAIN = b"fairtrip-api-key-v1\x00"
_NAME_MAX_CHARS = 200


class ProviderExistsError(ProviderError, ValueError):
    """An account with this provider id already exists."""

    def __init__(self, provider_id: str) -> None:
        self.provider_id = provider_id
        super().__init__(f"provider {provider_id!r} already exists")


class UnknownApiKeyError(ProviderError, KeyError):
    """The provider has no API key with this id."""

    def __init__(self, provider_id: str, key_id: str) -> None:
        self.provider_id = provider_id
        self.key_id = key_id
        super().__init__(f"provider {provider_id!r} has no key {key_id!r}")

    def __str__(self) -> str:
        return f"provider {self.provider_id!r} has no key {self.key_id!r}"


class TooManyKeysError(ProviderError, ValueError):
    """The provider already has `MAX_ACTIVE_KEYS` active keys; revoke one first."""


@dataclass(frozen=True, slots=True)
class ProviderAccount:
    """A registered provider (pushing, or polled at `poll_url`)."""

    provider_id: str
    name: str
    poll_url: str | None
    created_at_s: int


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """What may be shown about a key after issue: never the secret, never its hash."""

    key_id: str
    created_at_s: int
    revoked_at_s: int | None


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly issued key; `secret` is shown to the provider once and not kept."""

    key_id: str
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A stored key: its id, the hash of its secret and its lifecycle."""

    key_id: str
    secret_sha256: str
    created_at_s: int
    revoked_at_s: int | None = None

    def to_json(self) -> str:
        """Compact JSON for storage."""
        return json.dumps(
            [self.key_id, self.secret_sha256, self.created_at_s, self.revoked_at_s],
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> KeyRecord:
        """The record `to_json` wrote."""
        key_id, sha, created, revoked = json.loads(text)
        return cls(key_id, sha, created, revoked)


def hash_secret(secret: str) -> str:
    """sha256 (hex) of a secret, domain-separated.

    A fast hash is the right tool here, unlike for passwords: our secrets are 256 random
    bits (`secrets.token_urlsafe(32)`), so even a leaked hash table cannot be brute-forced,
    and bcrypt/argon2 would only add milliseconds to every push without adding security.
    """
    return hashlib.sha256(_HASH_DOMAIN + secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> IssuedKey:
    """A new key id and secret: ``ft_<12 hex key id>_<43 url-safe random chars>``."""
    key_id = secrets.token_hex(6)
    return IssuedKey(key_id, f"{SECRET_PREFIX}{key_id}_{secrets.token_urlsafe(32)}")


#: compared against when a provider has no keys, so that case costs the same as a miss
_DUMMY_SHA256 = hash_secret("no key")


def _check_new_account(provider_id: str, name: str, poll_url: str | None) -> None:
    if not isinstance(provider_id, str) or not PROVIDER_ID_RE.fullmatch(provider_id):
        raise ValueError(f"invalid provider id {provider_id!r}: expected {PROVIDER_ID_RE.pattern}")
    if not isinstance(name, str) or not 0 < len(name.strip()) <= _NAME_MAX_CHARS:
        raise ValueError(f"provider name {name!r} must be 1-{_NAME_MAX_CHARS} characters")
    if poll_url is not None and not poll_url.startswith(("https://", "http://")):
        raise ValueError(f"poll_url {poll_url!r} must be an http(s) URL")


class ProviderAccounts(ABC):
    """Accounts and keys; the rules live here once, backends only store records."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    # -- the API ---------------------------------------------------------------------------
    def create_provider(
        self, provider_id: str, name: str, *, poll_url: str | None = None
    ) -> ProviderAccount:
        """Register a provider (ProviderExistsError if the id is taken)."""
        _check_new_account(provider_id, name, poll_url)
        account = ProviderAccount(provider_id, name, poll_url, int(self._clock()))
        if not self._insert_account(account):
            raise ProviderExistsError(provider_id)
        return account

    def get(self, provider_id: str) -> ProviderAccount | None:
        """The provider's account, or None."""
        if not isinstance(provider_id, str) or not PROVIDER_ID_RE.fullmatch(provider_id):
            return None
        return self._load_account(provider_id)

    def delete_provider(self, provider_id: str) -> None:
        """Remove the account and all its keys (UnknownProviderError if there is none)."""
        if self.get(provider_id) is None or not self._delete_account(provider_id):
            raise UnknownProviderError(provider_id)

    def issue_key(self, provider_id: str) -> IssuedKey:
        """A new key for the provider; its secret is in the result and nowhere else."""
        if self.get(provider_id) is None:
            raise UnknownProviderError(provider_id)
        active = [r for r in self._load_keys(provider_id) if r.revoked_at_s is None]
        if len(active) >= MAX_ACTIVE_KEYS:
            raise TooManyKeysError(
                f"provider {provider_id!r} has {len(active)} active keys (max {MAX_ACTIVE_KEYS})"
            )
        issued = new_key()
        record = KeyRecord(issued.key_id, hash_secret(issued.secret), int(self._clock()))
        if not self._put_key(provider_id, record):
            raise UnknownProviderError(provider_id)  # deleted meanwhile
        return issued

    def revoke_key(self, provider_id: str, key_id: str) -> None:
        """Revoke a key (kept, marked revoked, for the audit trail); idempotent."""
        record = next((r for r in self._load_keys(provider_id) if r.key_id == key_id), None)
        if record is None:
            if self.get(provider_id) is None:
                raise UnknownProviderError(provider_id)
            raise UnknownApiKeyError(provider_id, key_id)
        if record.revoked_at_s is None:
            self._put_key(provider_id, replace(record, revoked_at_s=int(self._clock())))

    def keys(self, provider_id: str) -> builtins.list[ApiKeyInfo]:
        """The provider's keys (ids and dates only), oldest first."""
        if self.get(provider_id) is None:
            raise UnknownProviderError(provider_id)
        records = sorted(self._load_keys(provider_id), key=lambda r: (r.created_at_s, r.key_id))
        return [ApiKeyInfo(r.key_id, r.created_at_s, r.revoked_at_s) for r in records]

    def authenticate(self, provider_id: str, presented_secret: str | None) -> str:
        """The key id that `presented_secret` is an active key of `provider_id`, else AuthError.

        Every active key of that provider is compared (no early exit) with
        `hmac.compare_digest`; an unknown provider is compared against a dummy hash, so the
        answer's timing says neither which key matched nor whether the provider exists.
        """
        secret = presented_secret if isinstance(presented_secret, str) else ""
        if len(secret) > MAX_SECRET_CHARS:
            secret = ""
        presented_sha = hash_secret(secret)
        valid_id = isinstance(provider_id, str) and PROVIDER_ID_RE.fullmatch(provider_id)
        records = self._load_keys(provider_id) if valid_id else []
        candidates = [r for r in records if r.revoked_at_s is None]
        matched: str | None = None
        for r in candidates:
            if hmac.compare_digest(r.secret_sha256, presented_sha):
                matched = r.key_id
        if not candidates:
            hmac.compare_digest(_DUMMY_SHA256, presented_sha)
        if matched is None or not secret:
            raise AuthError("missing, wrong or revoked API key for this provider")
        return matched

    def list(self) -> builtins.list[ProviderAccount]:
        """Every account, by provider id."""
        return sorted(self._all_accounts(), key=lambda a: a.provider_id)

    # -- storage primitives ----------------------------------------------------------------
    @abstractmethod
    def _insert_account(self, account: ProviderAccount) -> bool:
        """Store a new account; False if the id is taken."""

    @abstractmethod
    def _load_account(self, provider_id: str) -> ProviderAccount | None:
        """The stored account, or None."""

    @abstractmethod
    def _all_accounts(self) -> builtins.list[ProviderAccount]:
        """Every stored account, any order."""

    @abstractmethod
    def _delete_account(self, provider_id: str) -> bool:
        """Delete an account and its keys; False if there was none."""

    @abstractmethod
    def _load_keys(self, provider_id: str) -> builtins.list[KeyRecord]:
        """Every key record of the provider (revoked too)."""

    @abstractmethod
    def _put_key(self, provider_id: str, record: KeyRecord) -> bool:
        """Store or replace a key record; False if the account does not exist."""


class MemoryAccounts(ProviderAccounts):
    """Accounts in this process (tests, the demo)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock=clock)
        self._lock = threading.Lock()
        self._accounts: dict[str, ProviderAccount] = {}
        self._keys: dict[str, dict[str, KeyRecord]] = {}

    def _insert_account(self, account: ProviderAccount) -> bool:
        with self._lock:
            if account.provider_id in self._accounts:
                return False
            self._accounts[account.provider_id] = account
            self._keys[account.provider_id] = {}
            return True

    def _load_account(self, provider_id: str) -> ProviderAccount | None:
        return self._accounts.get(provider_id)

    def _all_accounts(self) -> builtins.list[ProviderAccount]:
        return builtins.list(self._accounts.values())

    def _delete_account(self, provider_id: str) -> bool:
        with self._lock:
            self._keys.pop(provider_id, None)
            return self._accounts.pop(provider_id, None) is not None

    def _load_keys(self, provider_id: str) -> builtins.list[KeyRecord]:
        return builtins.list(self._keys.get(provider_id, {}).values())

    def _put_key(self, provider_id: str, record: KeyRecord) -> bool:
        with self._lock:
            if provider_id not in self._accounts:
                return False
            self._keys[provider_id][record.key_id] = record
            return True


class RedisAccounts(ProviderAccounts):
    """Accounts in Redis under the same namespace and key module as the store.

    Redis being down makes every call raise `StoreUnavailableError` (a 503), never
    `AuthError`: an outage must not look like a bad key, and must not let anyone in.
    """

    def __init__(
        self,
        client_or_url: redis.Redis | str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        socket_timeout_s: float = 0.5,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(clock=clock)
        if isinstance(client_or_url, str):
            self._client = make_client(client_or_url, socket_timeout_s=socket_timeout_s)
        else:
            self._client = client_or_url
        self._key_names = Keys(namespace)
        self.breaker = breaker if breaker is not None else CircuitBreaker(name="redis-accounts")

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return guarded(self.breaker, what, fn)
        except BackendUnavailableError as e:
            raise e.public() from e

    def _insert_account(self, account: ProviderAccount) -> bool:
        key = self._key_names.account(account.provider_id)
        fields = {
            "name": account.name,
            "poll_url": account.poll_url or "",
            "created_at_s": account.created_at_s,
        }

        def insert() -> bool:
            with self._client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(key)
                    if pipe.exists(key):
                        return False
                    pipe.multi()
                    pipe.hset(key, mapping=fields)
                    pipe.sadd(self._key_names.accounts(), account.provider_id)
                    pipe.execute()
                    return True
                except redis.WatchError:
                    return False  # created by someone else between WATCH and EXEC

        return bool(self._call("create_provider", insert))

    def _load_account(self, provider_id: str) -> ProviderAccount | None:
        raw = self._call("get", lambda: self._client.hgetall(self._key_names.account(provider_id)))
        return _account(provider_id, raw) if raw else None

    def _all_accounts(self) -> builtins.list[ProviderAccount]:
        def load() -> builtins.list[ProviderAccount]:
            ids = sorted(
                p
                for p in (_text(m) for m in self._client.smembers(self._key_names.accounts()))
                if PROVIDER_ID_RE.fullmatch(p)
            )
            pipe = self._client.pipeline(transaction=False)
            for pid in ids:
                pipe.hgetall(self._key_names.account(pid))
            return [_account(p, raw) for p, raw in zip(ids, pipe.execute(), strict=True) if raw]

        result: builtins.list[ProviderAccount] = self._call("list", load)
        return result

    def _delete_account(self, provider_id: str) -> bool:
        def delete() -> bool:
            pipe = self._client.pipeline(transaction=True)
            pipe.delete(self._key_names.account(provider_id))
            pipe.delete(self._key_names.api_keys(provider_id))
            pipe.srem(self._key_names.accounts(), provider_id)
            return bool(pipe.execute()[0])

        return bool(self._call("delete_provider", delete))

    def _load_keys(self, provider_id: str) -> builtins.list[KeyRecord]:
        raw = self._call("keys", lambda: self._client.hvals(self._key_names.api_keys(provider_id)))
        return [KeyRecord.from_json(r) for r in raw]

    def _put_key(self, provider_id: str, record: KeyRecord) -> bool:
        account_key = self._key_names.account(provider_id)

        def put() -> bool:
            with self._client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(account_key)  # never write keys for a deleted account
                    if not pipe.exists(account_key):
                        return False
                    pipe.multi()
                    keys_key = self._key_names.api_keys(provider_id)
                    pipe.hset(keys_key, record.key_id, record.to_json())
                    pipe.execute()
                    return True
                except redis.WatchError:
                    return False

        return bool(self._call("put_key", put))


def _account(provider_id: str, raw: dict[Any, Any]) -> ProviderAccount:
    fields = {_text(k): _text(v) for k, v in raw.items()}
    return ProviderAccount(
        provider_id=provider_id,
        name=fields["name"],
        poll_url=fields.get("poll_url") or None,
        created_at_s=int(fields["created_at_s"]),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
