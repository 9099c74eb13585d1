"""Durable storage of policy documents and of which one is active.

Policies are configuration a city decides on, so they must survive restarts and never be
half-written: each write is one transaction (SQLite) or one MULTI/EXEC (Redis), prepared and
checked completely before it starts, and a failed write leaves the store as it was. Versions
are immutable: re-posting the same (id, version) with the same content is a no-op that returns
the stored record (clients can retry safely); different content under an existing version is
refused. At most one policy version is active at a time; its activation record carries the
solved parameter and residual, because a revenue-neutral policy is only usable for pricing
together with its solved value (`StoredPolicy.effective_policy`).

Documents are stored as `Policy.canonical_json` with its sha256, re-validated and checked
against that hash when read, so a corrupted or hand-edited row is reported, not priced.

Backends: SQLite (default; stdlib, WAL, one file, one connection behind a lock so the store can
be shared by a FastAPI app's threads) and Redis (redis-py; every key name in `PolicyKeys`,
multi-key writes in transactions, SCAN-free reads through an id set, no TTLs: like provider
accounts, policies are durable configuration, not cache).
"""

from __future__ import annotations

import builtins
import json
import logging
import math
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import redis

from pricing.errors import PricingError
from pricing.policy import Policy, PolicyError, validate_policy
from storage.redis_conn import make_client
from storage.sqlite_file import SchemaVersionError, SqliteFile

log = logging.getLogger(__name__)
T = TypeVar("T")

#: schema of the SQLite file; a file written by a newer fairtrip is refused, not misread
SQLITE_SCHEMA_VERSION: Final[int] = 1
#: largest JSON of a solved-parameter record kept with an activation
MAX_SOLVED_BYTES: Final[int] = 16 * 1024
DEFAULT_NAMESPACE: Final[str] = "fairtrip:"


class PolicyExistsError(PricingError, ValueError):
    """The (id, version) is already stored with different content; versions are immutable."""

    def __init__(self, policy_id: str, version: int) -> None:
        self.policy_id = policy_id
        self.version = version
        super().__init__(
            f"policy {policy_id!r} version {version} already exists with different content; "
            "post it as a new version"
        )


class UnknownPolicyError(PricingError, KeyError):
    """No stored policy has this id (or this version)."""

    def __init__(self, policy_id: str, version: int | None = None) -> None:
        self.policy_id = policy_id
        self.version = version
        super().__init__(policy_id if version is None else (policy_id, version))

    def __str__(self) -> str:
        if self.version is None:
            return f"no stored policy {self.policy_id!r}"
        return f"no stored policy {self.policy_id!r} version {self.version}"


class PolicyStoreError(PricingError, RuntimeError):
    """The backend failed (unreachable, locked, corrupt data); nothing was changed."""


@dataclass(frozen=True)
class StoredPolicy:
    """A stored policy version with its bookkeeping.

    `created_at` is ISO 8601 UTC; `sha256` the hash of the canonical document; `active` and
    `solved` describe the current activation (solved is None unless this version is active);
    `versions` every stored version of this id, ascending.
    """

    policy: Policy
    created_at: str
    sha256: str
    active: bool
    solved: dict[str, Any] | None
    versions: tuple[int, ...]

    def effective_policy(self) -> Policy:
        """The policy to price with: the free parameter set to its solved value, if any."""
        if self.policy.free_parameter is None:
            return self.policy
        if not self.solved or "value" not in self.solved:
            raise PolicyError(
                "", f"policy {self.policy.id!r} v{self.policy.version} has no solved value"
            )
        return self.policy.with_parameter(float(self.solved["value"]))


@dataclass(frozen=True)
class _Record:
    """A row of the store: one document version."""

    document: str
    sha256: str
    created_at: str

    def to_json(self) -> str:
        return json.dumps(
            {"document": self.document, "sha256": self.sha256, "created_at": self.created_at},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> _Record:
        raw = json.loads(text)
        return cls(raw["document"], raw["sha256"], raw["created_at"])


@dataclass(frozen=True)
class _Activation:
    policy_id: str
    version: int
    solved: dict[str, Any] | None
    activated_at: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_solved(policy: Policy, solved: dict[str, Any] | None) -> str | None:
    """Validate an activation's solved record; return its JSON (None when absent)."""
    free = policy.free_parameter
    if solved is None:
        if free is not None:
            raise PolicyError(
                f"measures[{free[0]}].{free[1]}",
                f"policy {policy.id!r} v{policy.version} leaves {free[1]} to be solved; "
                "activate it with solved={'parameter': ..., 'value': ...}",
            )
        return None
    if not isinstance(solved, dict):
        raise PolicyError("solved", f"expected a mapping, got {type(solved).__name__}")
    if free is not None:
        value = solved.get("value")
        if solved.get("parameter") != free[1]:
            raise PolicyError(
                "solved.parameter",
                f"expected {free[1]!r} (the policy's free parameter), "
                f"got {solved.get('parameter')!r}",
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PolicyError("solved.value", f"expected a number, got {value!r}")
        if not math.isfinite(value):
            raise PolicyError("solved.value", f"expected a finite number, got {value!r}")
        policy.with_parameter(float(value))  # in range for the field, else PolicyError
    try:
        text = json.dumps(solved, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as e:
        raise PolicyError("solved", f"must be JSON with finite numbers: {e}") from None
    if len(text) > MAX_SOLVED_BYTES:
        raise PolicyError("solved", f"is {len(text)} bytes of JSON; at most {MAX_SOLVED_BYTES}")
    return text


class PolicyStore(ABC):
    """Policy versions and the single active one; the rules live here, backends store rows."""

    # -- the API ---------------------------------------------------------------------------
    def create(self, policy: Policy) -> StoredPolicy:
        """Store a new (id, version); idempotent for identical content, else PolicyExistsError."""
        if policy.solved_parameter is not None:
            raise PolicyError(
                "",
                "store the planner's document, not a solved copy; the solved value goes "
                "with activate(..., solved=...)",
            )
        record = _Record(policy.canonical_json(), policy.sha256(), _now())
        existing = self._insert(policy.id, policy.version, record)
        if existing is not None and existing.sha256 != record.sha256:
            raise PolicyExistsError(policy.id, policy.version)
        log.info("policy %s v%d stored", policy.id, policy.version)
        return self.get(policy.id, policy.version)

    def get(self, policy_id: str, version: int | None = None) -> StoredPolicy:
        """One version (the latest when `version` is None); UnknownPolicyError if absent."""
        versions = self._versions(policy_id)
        if not versions or (version is not None and version not in versions):
            raise UnknownPolicyError(policy_id, version)
        wanted = versions[-1] if version is None else version
        record = self._load(policy_id, wanted)
        if record is None:  # pragma: no cover - versions are never deleted
            raise UnknownPolicyError(policy_id, version)
        return self._stored(policy_id, wanted, record, versions, self._activation())

    def list(self) -> builtins.list[StoredPolicy]:
        """The latest version of every stored policy id, by id."""
        activation = self._activation()
        out = []
        for policy_id, versions in sorted(self._all_versions().items()):
            record = self._load(policy_id, versions[-1])
            if record is not None:
                out.append(self._stored(policy_id, versions[-1], record, versions, activation))
        return out

    def activate(
        self, policy_id: str, version: int, *, solved: dict[str, Any] | None = None
    ) -> StoredPolicy:
        """Make (id, version) the one active policy, with its solved parameter record.

        A policy with a free parameter needs `solved` with ``parameter`` (the free field) and
        ``value``; the whole record (residual, iterations...) is kept as JSON.
        """
        stored = self.get(policy_id, version)
        if stored.policy.is_cross_mode:  # /plan prices one itinerary's legs: it cannot apply it
            raise PolicyError(
                "measures",
                f"policy {policy_id!r} v{version} prices whole trips across modes; /plan "
                "cannot apply it to one itinerary (evaluate it over options: pricing.cross_mode)",
            )
        solved_json = _check_solved(stored.policy, solved)
        activation = _Activation(policy_id, version, solved, _now())
        if not self._write_activation(activation, solved_json):
            raise UnknownPolicyError(policy_id, version)  # pragma: no cover - no deletes
        log.info("policy %s v%d activated", policy_id, version)
        return replace(stored, active=True, solved=json.loads(solved_json or "null"))

    def deactivate(self) -> None:
        """No policy is active afterwards (idempotent)."""
        self._clear_activation()

    def active(self) -> StoredPolicy | None:
        """The active policy version with its solved record, or None."""
        activation = self._activation()
        if activation is None:
            return None
        versions = self._versions(activation.policy_id)
        record = self._load(activation.policy_id, activation.version)
        if record is None:
            raise PolicyStoreError(
                f"the active policy {activation.policy_id!r} v{activation.version} is missing"
            )
        return self._stored(activation.policy_id, activation.version, record, versions, activation)

    @abstractmethod
    def close(self) -> None:
        """Release the backend connection."""

    # -- shared helpers ----------------------------------------------------------------------
    def _stored(
        self,
        policy_id: str,
        version: int,
        record: _Record,
        versions: tuple[int, ...],
        activation: _Activation | None,
    ) -> StoredPolicy:
        try:
            policy = validate_policy(json.loads(record.document))
        except (PolicyError, ValueError) as e:
            raise PolicyStoreError(
                f"stored policy {policy_id!r} v{version} no longer validates: {e}"
            ) from e
        if policy.sha256() != record.sha256 or (policy.id, policy.version) != (
            policy_id,
            version,
        ):
            raise PolicyStoreError(
                f"stored policy {policy_id!r} v{version} does not match its sha256 or key"
            )
        is_active = activation is not None and (activation.policy_id, activation.version) == (
            policy_id,
            version,
        )
        return StoredPolicy(
            policy=policy,
            created_at=record.created_at,
            sha256=record.sha256,
            active=is_active,
            solved=activation.solved if is_active and activation is not None else None,
            versions=versions,
        )

    # -- storage primitives ----------------------------------------------------------------
    @abstractmethod
    def _insert(self, policy_id: str, version: int, record: _Record) -> _Record | None:
        """Store the record unless (id, version) exists; return the existing record, else None."""

    @abstractmethod
    def _load(self, policy_id: str, version: int) -> _Record | None:
        """One stored record, or None."""

    @abstractmethod
    def _versions(self, policy_id: str) -> tuple[int, ...]:
        """The stored versions of one id, ascending (empty if none)."""

    @abstractmethod
    def _all_versions(self) -> dict[str, tuple[int, ...]]:
        """Every stored id -> its versions, ascending."""

    @abstractmethod
    def _write_activation(self, activation: _Activation, solved_json: str | None) -> bool:
        """Replace the activation atomically; False if the version does not exist."""

    @abstractmethod
    def _clear_activation(self) -> None:
        """Remove the activation."""

    @abstractmethod
    def _activation(self) -> _Activation | None:
        """The current activation, or None."""


# -- SQLite --------------------------------------------------------------------------------------

_SCHEMA: Final[str] = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS policies (
    policy_id  TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    document   TEXT    NOT NULL,   -- Policy.canonical_json()
    sha256     TEXT    NOT NULL,
    created_at TEXT    NOT NULL,   -- ISO 8601 UTC
    PRIMARY KEY (policy_id, version)
);
CREATE TABLE IF NOT EXISTS activation (
    singleton    INTEGER PRIMARY KEY CHECK (singleton = 1),   -- at most one row
    policy_id    TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    solved       TEXT,                                        -- JSON or NULL
    activated_at TEXT    NOT NULL,
    FOREIGN KEY (policy_id, version) REFERENCES policies (policy_id, version)
);
"""


class SqlitePolicyStore(PolicyStore):
    """Policies in one SQLite file (WAL) or in memory, behind one lock-guarded connection."""

    def __init__(self, path: str | Path, *, timeout_s: float = 5.0) -> None:
        self.path = str(path)
        try:
            self._db = SqliteFile(
                self.path,
                schema=[st for st in _SCHEMA.split(";") if st.strip()],
                meta_table="meta",
                schema_version=SQLITE_SCHEMA_VERSION,
                timeout_s=timeout_s,
            )
        except SchemaVersionError as e:
            raise PolicyStoreError(f"{self.path}: policy store {e}") from e
        except sqlite3.Error as e:
            raise PolicyStoreError(f"cannot open policy store {self.path}: {e}") from e

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return self._db.read(fn)
        except sqlite3.Error as e:
            raise PolicyStoreError(f"policy store {self.path}: {e}") from e

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return self._db.write(fn)
        except sqlite3.Error as e:
            raise PolicyStoreError(f"policy store {self.path}: write failed: {e}") from e

    def _insert(self, policy_id: str, version: int, record: _Record) -> _Record | None:
        def insert(conn: sqlite3.Connection) -> _Record | None:
            row = conn.execute(
                "SELECT document, sha256, created_at FROM policies "
                "WHERE policy_id = ? AND version = ?",
                (policy_id, version),
            ).fetchone()
            if row is not None:
                return _Record(*row)
            conn.execute(
                "INSERT INTO policies (policy_id, version, document, sha256, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (policy_id, version, record.document, record.sha256, record.created_at),
            )
            return None

        return self._write(insert)

    def _load(self, policy_id: str, version: int) -> _Record | None:
        row = self._read(
            lambda c: c.execute(
                "SELECT document, sha256, created_at FROM policies "
                "WHERE policy_id = ? AND version = ?",
                (policy_id, version),
            ).fetchone()
        )
        return None if row is None else _Record(*row)

    def _versions(self, policy_id: str) -> tuple[int, ...]:
        rows = self._read(
            lambda c: c.execute(
                "SELECT version FROM policies WHERE policy_id = ? ORDER BY version", (policy_id,)
            ).fetchall()
        )
        return tuple(int(r[0]) for r in rows)

    def _all_versions(self) -> dict[str, tuple[int, ...]]:
        rows = self._read(
            lambda c: c.execute(
                "SELECT policy_id, version FROM policies ORDER BY policy_id, version"
            ).fetchall()
        )
        out: dict[str, builtins.list[int]] = {}
        for policy_id, version in rows:
            out.setdefault(policy_id, []).append(int(version))
        return {k: tuple(v) for k, v in out.items()}

    def _write_activation(self, activation: _Activation, solved_json: str | None) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            exists = conn.execute(
                "SELECT 1 FROM policies WHERE policy_id = ? AND version = ?",
                (activation.policy_id, activation.version),
            ).fetchone()
            if exists is None:
                return False
            conn.execute("DELETE FROM activation")
            conn.execute(
                "INSERT INTO activation (singleton, policy_id, version, solved, activated_at) "
                "VALUES (1, ?, ?, ?, ?)",
                (activation.policy_id, activation.version, solved_json, activation.activated_at),
            )
            return True

        return self._write(write)

    def _clear_activation(self) -> None:
        self._write(lambda c: c.execute("DELETE FROM activation"))

    def _activation(self) -> _Activation | None:
        row = self._read(
            lambda c: c.execute(
                "SELECT policy_id, version, solved, activated_at FROM activation"
            ).fetchone()
        )
        if row is None:
            return None
        policy_id, version, solved, activated_at = row
        return _Activation(policy_id, int(version), json.loads(solved or "null"), activated_at)

    def close(self) -> None:
        """Close the connection (checkpointing the WAL into the main file)."""
        self._db.close()


# -- Redis ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PolicyKeys:
    """Every Redis key of the policy store, under one namespace prefix.

    Layout (``ns`` the namespace, ``id`` a policy id — a validated slug, so never ``:``/``*``)::

        ns policy:ids          set of stored policy ids
        ns policy:p:id         hash: version -> JSON record {document, sha256, created_at}
        ns policy:active       string: JSON activation {policy_id, version, solved, activated_at}
    """

    namespace: str = DEFAULT_NAMESPACE

    def __post_init__(self) -> None:
        if not self.namespace or any(c in self.namespace for c in "*?[] \n"):
            raise ValueError(f"invalid Redis namespace {self.namespace!r}")

    def ids(self) -> str:
        """Set of stored policy ids."""
        return f"{self.namespace}policy:ids"

    def versions(self, policy_id: str) -> str:
        """Hash of one policy's versions."""
        if not policy_id or any(c in policy_id for c in ":*?[] \n"):
            raise ValueError(f"invalid policy id {policy_id!r}")
        return f"{self.namespace}policy:p:{policy_id}"

    def active(self) -> str:
        """The activation record."""
        return f"{self.namespace}policy:active"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisPolicyStore(PolicyStore):
    """Policies in Redis; writes are WATCH + MULTI/EXEC transactions, retried on conflict."""

    def __init__(
        self,
        client_or_url: redis.Redis | str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        socket_timeout_s: float = 2.0,
    ) -> None:
        if isinstance(client_or_url, str):
            self._client = make_client(client_or_url, socket_timeout_s=socket_timeout_s)
        else:
            self._client = client_or_url
        self.keys = PolicyKeys(namespace)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except redis.RedisError as e:
            raise PolicyStoreError(f"policy store (redis) {what} failed: {e}") from e

    def _transact(self, what: str, watch: tuple[str, ...], fn: Callable[[Any], T]) -> T:
        """Run `fn(pipe)` under WATCH; it calls pipe.multi() before queueing writes."""

        def run() -> T:
            for _ in range(10):
                with self._client.pipeline(transaction=True) as pipe:
                    try:
                        pipe.watch(*watch)  # type: ignore[no-untyped-call]  # redis-py: untyped
                        result = fn(pipe)
                        pipe.execute()
                        return result
                    except redis.WatchError:
                        continue  # a concurrent write touched a watched key: re-read, retry
            raise PolicyStoreError(f"policy store (redis) {what}: too much write contention")

        return self._call(what, run)

    def _insert(self, policy_id: str, version: int, record: _Record) -> _Record | None:
        key = self.keys.versions(policy_id)

        def insert(pipe: Any) -> _Record | None:
            raw = pipe.hget(key, str(version))
            pipe.multi()
            if raw is not None:
                return _Record.from_json(raw)
            pipe.hset(key, str(version), record.to_json())
            pipe.sadd(self.keys.ids(), policy_id)
            return None

        return self._transact("create", (key,), insert)

    def _load(self, policy_id: str, version: int) -> _Record | None:
        raw = self._call(
            "get", lambda: self._client.hget(self.keys.versions(policy_id), str(version))
        )
        return None if raw is None else _Record.from_json(raw)

    def _versions(self, policy_id: str) -> tuple[int, ...]:
        raw = self._call("get", lambda: self._client.hkeys(self.keys.versions(policy_id)))
        return tuple(sorted(int(_text(v)) for v in raw))

    def _all_versions(self) -> dict[str, tuple[int, ...]]:
        def load() -> dict[str, tuple[int, ...]]:
            ids = sorted(_text(m) for m in self._client.smembers(self.keys.ids()))
            pipe = self._client.pipeline(transaction=False)
            for policy_id in ids:
                pipe.hkeys(self.keys.versions(policy_id))
            return {
                policy_id: tuple(sorted(int(_text(v)) for v in versions))
                for policy_id, versions in zip(ids, pipe.execute(), strict=True)
                if versions
            }

        return self._call("list", load)

    def _write_activation(self, activation: _Activation, solved_json: str | None) -> bool:
        key = self.keys.versions(activation.policy_id)
        value = json.dumps(
            {
                "policy_id": activation.policy_id,
                "version": activation.version,
                "solved": json.loads(solved_json or "null"),
                "activated_at": activation.activated_at,
            },
            separators=(",", ":"),
        )

        def write(pipe: Any) -> bool:
            exists = pipe.hexists(key, str(activation.version))
            pipe.multi()
            if exists:
                pipe.set(self.keys.active(), value)
            return bool(exists)

        return self._transact("activate", (key,), write)

    def _clear_activation(self) -> None:
        self._call("deactivate", lambda: self._client.delete(self.keys.active()))

    def _activation(self) -> _Activation | None:
        raw = self._call("active", lambda: self._client.get(self.keys.active()))
        if raw is None:
            return None
        data = json.loads(raw)
        return _Activation(
            data["policy_id"], int(data["version"]), data["solved"], data["activated_at"]
        )

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()


# -- opening by URL ------------------------------------------------------------------------------


def open_policy_store(url: str) -> PolicyStore:
    """A store for `url`.

    ``sqlite:///abs/path.sqlite3`` (absolute path; the directory must exist),
    ``sqlite:///:memory:``, or ``redis://host:port/db?namespace=x`` (also ``rediss://``;
    the namespace defaults to ``fairtrip:``).
    """
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = url[len("sqlite://") :]
        if path == "/:memory:":
            return SqlitePolicyStore(":memory:")
        if parts.netloc or not path.startswith("/") or parts.query or parts.fragment:
            raise ValueError(
                f"invalid SQLite policy store URL {url!r}; expected sqlite:///abs/path.sqlite3"
            )
        if not Path(path).parent.is_dir():
            raise ValueError(f"policy store directory {Path(path).parent} does not exist")
        return SqlitePolicyStore(path)
    if parts.scheme in ("redis", "rediss"):
        query = parse_qs(parts.query, keep_blank_values=True)
        namespace = query.pop("namespace", [DEFAULT_NAMESPACE])[-1]
        rest = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
        return RedisPolicyStore(rest, namespace=namespace)
    raise ValueError(f"unsupported policy store URL {url!r}; expected sqlite:///... or redis://...")
