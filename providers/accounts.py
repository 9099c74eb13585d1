"""Provider accounts and their API keys (what a provider presents to push its feed).

A key is shown once, at issue, as ``ft_<key_id>_<random>``; the store keeps only a hash.
The key id in the clear lets operators name a key (in logs, to revoke it) without the
secret. Authentication is scoped to the provider named in the request: the presented secret's
hash is compared, in constant time, with every active key of *that* provider only, so a key of
provider A never authenticates for B and timing does not reveal which provider owns a key.

Accounts are credentials, not cache. They live in the durable store the policies use
(`SqliteAccounts`, one SQLite file, by default the policy store's file), never only in the
Redis that caches availability: a Redis restarted without persistence must not lock every
provider out. `RedisAccounts` is there for an operator who chose a Redis run with AOF as the
durable store; `MemoryAccounts` for unit tests.

Besides credentials an account remembers whether the provider ever had data in the cache
(`data_seen_at_s`) and whether that data was lost with the cache (`data_lost_at_s`): the
cache cannot say what it lost, so the durable side keeps the record, shared by every worker
and kept across restarts.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import json
import logging
import secrets
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import redis
from redis.typing import EncodableT, FieldT

from providers.errors import AuthError, ProviderError, StoreUnavailableError, UnknownProviderError
from providers.names import check_display_name
from providers.store.keys import DEFAULT_NAMESPACE, PROVIDER_ID_RE, Keys
from storage.breaker import CircuitBreaker
from storage.redis_conn import BackendUnavailableError, guarded, make_client, watch
from storage.sqlite_file import SchemaVersionError, SqliteFile

log = logging.getLogger(__name__)
T = TypeVar("T")

#: every secret starts with this, so leaked keys are easy to find by secret scanners
SECRET_PREFIX = "ft_"
#: active keys per provider: enough to rotate, few enough to compare them all every request
MAX_ACTIVE_KEYS = 10
#: longest secret worth hashing (ours are 60 characters); longer input is refused outright
MAX_SECRET_CHARS = 256
#: domain separation: a fairtrip key hash is not the sha256 of anything else
_HASH_DOMAIN = b"fairtrip-api-key-v1\x00"
_NAME_MAX_CHARS = 200
#: schema of the accounts' tables; a file written by a newer fairtrip is refused, not misread
SQLITE_SCHEMA_VERSION: Final[int] = 1
#: bookkeeping key: the availability cache's epoch token the accounts last agreed with
CACHE_EPOCH = "cache_epoch"


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


class AccountsStoreError(ProviderError, RuntimeError):
    """The durable accounts store cannot be opened: bad URL, missing directory, newer schema."""


@dataclass(frozen=True, slots=True)
class ProviderAccount:
    """A registered provider (pushing, or polled at `poll_url`).

    `data_seen_at_s`: when the provider was first seen with data in the availability cache
    (None: never). `data_lost_at_s`: when the cache lost that data (None: not lost, or the
    provider has pushed since).
    """

    provider_id: str
    name: str
    poll_url: str | None
    created_at_s: int
    data_seen_at_s: int | None = None
    data_lost_at_s: int | None = None


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
    check_display_name(name, field="name")
    if poll_url is not None and not poll_url.startswith(("https://", "http://")):
        raise ValueError(f"poll_url {poll_url!r} must be an http(s) URL")


def _valid_ids(provider_ids: Iterable[str]) -> builtins.list[str]:
    """The distinct well-formed ids among `provider_ids`, sorted (others cannot have accounts)."""
    return sorted({p for p in provider_ids if isinstance(p, str) and PROVIDER_ID_RE.fullmatch(p)})


class ProviderAccounts(ABC):
    """Accounts and keys; the rules live here once, backends only store records."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    # -- the API ---------------------------------------------------------------------------
    def create_provider(
        self, provider_id: str, name: str, *, poll_url: str | None = None
    ) -> ProviderAccount:
        """Register a provider (ProviderExistsError if the id is taken).

        A name with a control, bidirectional-override or separator character is refused
        with `UnsafeNameError` (a ValueError) naming the character's position.
        """
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

    # -- what the cache held ---------------------------------------------------------------
    def record_data(self, provider_ids: Iterable[str]) -> None:
        """These providers have data in the availability cache now.

        Remembers that they had data (first time only) and clears a data-lost mark. Ids
        without an account are ignored (synthetic fleets pushed before registration, say).
        """
        ids = _valid_ids(provider_ids)
        if ids:
            self._record_data(ids, int(self._clock()))

    def mark_data_lost(self, provider_ids: Iterable[str]) -> builtins.list[str]:
        """Mark these providers' cached data as lost; returns the ids newly marked.

        Only providers that had data (`data_seen_at_s` set) and are not marked already are
        marked, so workers that notice the same loss may all call this: the first time wins.
        """
        ids = _valid_ids(provider_ids)
        return self._mark_lost(ids, int(self._clock())) if ids else []

    def cache_epoch(self) -> str | None:
        """The availability cache's epoch token these accounts last agreed with, or None."""
        return self._get_meta(CACHE_EPOCH)

    def set_cache_epoch(self, token: str) -> None:
        """Remember the cache's current epoch token (after any loss has been marked)."""
        self._set_meta(CACHE_EPOCH, token)

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release the backend's connection (if it holds one)."""

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

    @abstractmethod
    def _record_data(self, provider_ids: builtins.list[str], at_s: int) -> None:
        """Set data_seen_at_s where unset and clear data_lost_at_s, for existing accounts."""

    @abstractmethod
    def _mark_lost(self, provider_ids: builtins.list[str], at_s: int) -> builtins.list[str]:
        """Set data_lost_at_s where data was seen and no loss is marked; return those ids."""

    @abstractmethod
    def _get_meta(self, key: str) -> str | None:
        """A bookkeeping value, or None."""

    @abstractmethod
    def _set_meta(self, key: str, value: str) -> None:
        """Store a bookkeeping value."""


class MemoryAccounts(ProviderAccounts):
    """Accounts in this process (unit tests only: nothing survives a restart)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock=clock)
        self._lock = threading.Lock()
        self._accounts: dict[str, ProviderAccount] = {}
        self._keys: dict[str, dict[str, KeyRecord]] = {}
        self._meta: dict[str, str] = {}

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

    def _record_data(self, provider_ids: builtins.list[str], at_s: int) -> None:
        with self._lock:
            for pid in provider_ids:
                a = self._accounts.get(pid)
                if a is not None:
                    seen = a.data_seen_at_s if a.data_seen_at_s is not None else at_s
                    self._accounts[pid] = replace(a, data_seen_at_s=seen, data_lost_at_s=None)

    def _mark_lost(self, provider_ids: builtins.list[str], at_s: int) -> builtins.list[str]:
        marked = []
        with self._lock:
            for pid in provider_ids:
                a = self._accounts.get(pid)
                if a is not None and a.data_seen_at_s is not None and a.data_lost_at_s is None:
                    self._accounts[pid] = replace(a, data_lost_at_s=at_s)
                    marked.append(pid)
        return marked

    def _get_meta(self, key: str) -> str | None:
        return self._meta.get(key)

    def _set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._meta[key] = value


# -- SQLite ------------------------------------------------------------------------------------

_SCHEMA: Final[tuple[str, ...]] = (
    "CREATE TABLE IF NOT EXISTS accounts_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS provider_accounts (
        provider_id    TEXT    PRIMARY KEY,
        name           TEXT    NOT NULL,
        poll_url       TEXT,
        created_at_s   INTEGER NOT NULL,
        data_seen_at_s INTEGER,             -- first seen with data in the cache; NULL: never
        data_lost_at_s INTEGER              -- the cache lost its data then; NULL: not lost
    )""",
    """CREATE TABLE IF NOT EXISTS provider_keys (
        provider_id   TEXT    NOT NULL
                      REFERENCES provider_accounts (provider_id) ON DELETE CASCADE,
        key_id        TEXT    NOT NULL,
        secret_sha256 TEXT    NOT NULL,     -- hash_secret(secret); the secret is never stored
        created_at_s  INTEGER NOT NULL,
        revoked_at_s  INTEGER,
        PRIMARY KEY (provider_id, key_id)
    )""",
)
_ACCOUNT_COLUMNS = "provider_id, name, poll_url, created_at_s, data_seen_at_s, data_lost_at_s"


class SqliteAccounts(ProviderAccounts):
    """Accounts in one SQLite file (WAL), shared by every worker process of a server.

    One connection per instance behind a lock (FastAPI calls from its threadpool); every
    write is one ``BEGIN IMMEDIATE`` transaction, so an account and its keys change together
    or not at all, and a second process waits (up to `timeout_s`) rather than failing.
    ``synchronous = FULL``: a key acknowledged at issue survives a power cut. A locked or
    failing file gives `StoreUnavailableError` (a 503 with Retry-After), never an AuthError,
    and its message names no path (it can reach an unauthenticated caller).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(clock=clock)
        self.path = str(path)
        try:
            self._db = SqliteFile(
                self.path,
                schema=_SCHEMA,
                meta_table="accounts_meta",
                schema_version=SQLITE_SCHEMA_VERSION,
                timeout_s=timeout_s,
            )
        except SchemaVersionError as e:
            raise AccountsStoreError(f"{self.path}: accounts {e}") from e
        except sqlite3.Error as e:
            raise AccountsStoreError(f"cannot open provider accounts {self.path}: {e}") from e

    def _unavailable(self, what: str, e: sqlite3.Error) -> StoreUnavailableError:
        log.error("provider accounts %s: %s failed: %s", self.path, what, e)
        return StoreUnavailableError(f"provider accounts: {what} failed: {e}", 1)

    def _read(self, what: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return self._db.read(fn)
        except sqlite3.Error as e:
            raise self._unavailable(what, e) from e

    def _write(self, what: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return self._db.write(fn)
        except sqlite3.Error as e:
            raise self._unavailable(what, e) from e

    def _insert_account(self, account: ProviderAccount) -> bool:
        def insert(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "INSERT OR IGNORE INTO provider_accounts "
                "(provider_id, name, poll_url, created_at_s) VALUES (?, ?, ?, ?)",
                (account.provider_id, account.name, account.poll_url, account.created_at_s),
            )
            return cur.rowcount == 1

        return self._write("create_provider", insert)

    def _load_account(self, provider_id: str) -> ProviderAccount | None:
        row = self._read(
            "get",
            lambda c: c.execute(
                f"SELECT {_ACCOUNT_COLUMNS} FROM provider_accounts WHERE provider_id = ?",
                (provider_id,),
            ).fetchone(),
        )
        return None if row is None else ProviderAccount(*row)

    def _all_accounts(self) -> builtins.list[ProviderAccount]:
        rows = self._read(
            "list",
            lambda c: c.execute(f"SELECT {_ACCOUNT_COLUMNS} FROM provider_accounts").fetchall(),
        )
        return [ProviderAccount(*row) for row in rows]

    def _delete_account(self, provider_id: str) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            # explicit, not only ON DELETE CASCADE: a file opened without foreign keys on
            # (an operator's sqlite3 shell) must not leave keys of a deleted account behind
            conn.execute("DELETE FROM provider_keys WHERE provider_id = ?", (provider_id,))
            cur = conn.execute(
                "DELETE FROM provider_accounts WHERE provider_id = ?", (provider_id,)
            )
            return cur.rowcount == 1

        return self._write("delete_provider", delete)

    def _load_keys(self, provider_id: str) -> builtins.list[KeyRecord]:
        rows = self._read(
            "keys",
            lambda c: c.execute(
                "SELECT key_id, secret_sha256, created_at_s, revoked_at_s FROM provider_keys "
                "WHERE provider_id = ?",
                (provider_id,),
            ).fetchall(),
        )
        return [KeyRecord(*row) for row in rows]

    def _put_key(self, provider_id: str, record: KeyRecord) -> bool:
        def put(conn: sqlite3.Connection) -> bool:
            exists = conn.execute(
                "SELECT 1 FROM provider_accounts WHERE provider_id = ?", (provider_id,)
            ).fetchone()
            if exists is None:
                return False  # never write keys for a deleted account
            conn.execute(
                "INSERT INTO provider_keys "
                "(provider_id, key_id, secret_sha256, created_at_s, revoked_at_s) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (provider_id, key_id) DO UPDATE SET "
                "revoked_at_s = excluded.revoked_at_s",
                (
                    provider_id,
                    record.key_id,
                    record.secret_sha256,
                    record.created_at_s,
                    record.revoked_at_s,
                ),
            )
            return True

        return self._write("put_key", put)

    def _record_data(self, provider_ids: builtins.list[str], at_s: int) -> None:
        def record(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE provider_accounts SET data_seen_at_s = COALESCE(data_seen_at_s, ?), "
                "data_lost_at_s = NULL WHERE provider_id = ?",
                [(at_s, pid) for pid in provider_ids],
            )

        self._write("record_data", record)

    def _mark_lost(self, provider_ids: builtins.list[str], at_s: int) -> builtins.list[str]:
        def mark(conn: sqlite3.Connection) -> builtins.list[str]:
            marked = []
            for pid in provider_ids:
                cur = conn.execute(
                    "UPDATE provider_accounts SET data_lost_at_s = ? WHERE provider_id = ? "
                    "AND data_seen_at_s IS NOT NULL AND data_lost_at_s IS NULL",
                    (at_s, pid),
                )
                if cur.rowcount == 1:
                    marked.append(pid)
            return marked

        return self._write("mark_data_lost", mark)

    def _get_meta(self, key: str) -> str | None:
        row = self._read(
            "meta",
            lambda c: c.execute("SELECT value FROM accounts_meta WHERE key = ?", (key,)).fetchone(),
        )
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._write(
            "meta",
            lambda c: c.execute(
                "INSERT INTO accounts_meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            ),
        )

    def close(self) -> None:
        """Close the connection (checkpointing the WAL into the main file)."""
        self._db.close()


class RedisAccounts(ProviderAccounts):
    """Accounts in a Redis the operator made durable (AOF), under the key module's names.

    Only for a deployment whose durable store is that Redis (``redis://...?namespace=``);
    accounts kept in a cache-only Redis would vanish with it. Redis being down makes every
    call raise `StoreUnavailableError` (a 503), never `AuthError`: an outage must not look
    like a bad key, and must not let anyone in.
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
            raise StoreUnavailableError(e.reason, e.retry_after_s) from e

    def _insert_account(self, account: ProviderAccount) -> bool:
        key = self._key_names.account(account.provider_id)
        fields: dict[FieldT, EncodableT] = {
            "name": account.name,
            "poll_url": account.poll_url or "",
            "created_at_s": account.created_at_s,
        }

        def insert() -> bool:
            with self._client.pipeline(transaction=True) as pipe:
                try:
                    watch(pipe, key)
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
                    watch(pipe, account_key)  # never write keys for a deleted account
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

    def _record_data(self, provider_ids: builtins.list[str], at_s: int) -> None:
        def record() -> None:
            for pid in provider_ids:
                self._update_account(
                    pid,
                    lambda f: {
                        "data_seen_at_s": f.get(b"data_seen_at_s") or at_s,
                        "data_lost_at_s": "",
                    },
                )

        self._call("record_data", record)

    def _mark_lost(self, provider_ids: builtins.list[str], at_s: int) -> builtins.list[str]:
        def mark() -> builtins.list[str]:
            return [
                pid
                for pid in provider_ids
                if self._update_account(
                    pid,
                    lambda f: (
                        {"data_lost_at_s": at_s}
                        if f.get(b"data_seen_at_s") and not f.get(b"data_lost_at_s")
                        else None
                    ),
                )
            ]

        result: builtins.list[str] = self._call("mark_data_lost", mark)
        return result

    def _update_account(
        self,
        provider_id: str,
        change: Callable[[dict[bytes | str, bytes | str]], dict[FieldT, EncodableT] | None],
    ) -> bool:
        """Apply `change(fields)` to an existing account in a WATCH transaction.

        `change` returns the fields to set, or None to leave the account as it is; returns
        whether anything was written (False also when the account does not exist).
        """
        key = self._key_names.account(provider_id)
        for _ in range(16):
            with self._client.pipeline(transaction=True) as pipe:
                try:
                    watch(pipe, key)
                    fields = pipe.hgetall(key)
                    update = change(fields) if fields else None
                    if update is None:
                        return False
                    pipe.multi()
                    pipe.hset(key, mapping=update)
                    pipe.execute()
                    return True
                except redis.WatchError:
                    continue
        raise BackendUnavailableError(f"update of {provider_id!r} kept losing to writers", 1)

    def _get_meta(self, key: str) -> str | None:
        raw = self._call("meta", lambda: self._client.hget(self._key_names.accounts_meta(), key))
        return None if raw is None else _text(raw)

    def _set_meta(self, key: str, value: str) -> None:
        self._call("meta", lambda: self._client.hset(self._key_names.accounts_meta(), key, value))


def _account(provider_id: str, raw: dict[Any, Any]) -> ProviderAccount:
    fields = {_text(k): _text(v) for k, v in raw.items()}
    return ProviderAccount(
        provider_id=provider_id,
        name=fields["name"],
        poll_url=fields.get("poll_url") or None,
        created_at_s=int(fields["created_at_s"]),
        data_seen_at_s=_opt_int(fields.get("data_seen_at_s")),
        data_lost_at_s=_opt_int(fields.get("data_lost_at_s")),
    )


def _opt_int(value: str | None) -> int | None:
    return int(value) if value else None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# -- opening by URL ----------------------------------------------------------------------------


def open_accounts(url: str) -> ProviderAccounts:
    """The durable accounts store `url` names (the same URL grammar as the policy store).

    ``sqlite:///abs/path.sqlite3`` (the directory must exist), ``sqlite:///:memory:`` (one
    process, tests), or ``redis://host:port/db?namespace=x`` / ``rediss://`` for a Redis the
    operator runs with AOF (the namespace defaults to ``fairtrip:``).
    """
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = url[len("sqlite://") :]
        if path == "/:memory:":
            return SqliteAccounts(":memory:")
        if parts.netloc or not path.startswith("/") or parts.query or parts.fragment:
            raise AccountsStoreError(
                f"invalid SQLite accounts URL {url!r}; expected sqlite:///abs/path.sqlite3"
            )
        if not Path(path).parent.is_dir():
            raise AccountsStoreError(f"accounts store directory {Path(path).parent} does not exist")
        return SqliteAccounts(path)
    if parts.scheme in ("redis", "rediss"):
        query = parse_qs(parts.query, keep_blank_values=True)
        namespace = query.pop("namespace", [DEFAULT_NAMESPACE])[-1]
        rest = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
        log.warning(
            "provider accounts live in Redis (%s): run it with appendonly yes, or accounts "
            "and keys are lost with it",
            parts.hostname,
        )
        return RedisAccounts(rest, namespace=namespace)
    raise AccountsStoreError(
        f"unsupported accounts store URL {url!r}; expected sqlite:///... or redis://..."
    )
