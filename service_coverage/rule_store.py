"""Durable, versioned storage of distribution rules, next to the fare policies.

A rule is a permit condition a city decides on, so it is kept like a fare policy
(`pricing.policy_store`): in the durable SQLite file, versions immutable, re-posting the same
(id, version) with the same content a no-op that returns the stored record (clients can
retry), different content under an existing version refused, every write one transaction.
Documents are stored as `Rule.canonical_json` with its sha256 and are validated again and
checked against that hash when read, so a corrupted or hand-edited row is reported, never
judged with.

Why a store of its own rather than a second document kind inside `PolicyStore`: the fare
policy store lives in `pricing`, which may not import `coverage` (where rules are parsed),
and its activation (one active fare policy, with a solved parameter) has no meaning for
rules, all of which hold at once. The rules get their own tables (`rules`, `rules_meta`,
with their own schema version) in the same SQLite file, opened the way every store opens it
(`storage.sqlite_file.SqliteFile`). With a Redis policy store the rules go to the SQLite file
the availability history uses (`service_coverage.history.history_path`): they are judged against
that history, and a rule set is small.
"""

from __future__ import annotations

import builtins
import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, TypeVar

from service_coverage.errors import CoverageError
from service_coverage.history import history_path
from service_coverage.rules import Rule, RuleError, validate_rule
from storage.sqlite_file import SchemaVersionError, SqliteFile

log = logging.getLogger(__name__)
T = TypeVar("T")

#: schema of the rules' tables; a file written by a newer fairtrip is refused, not misread
SQLITE_SCHEMA_VERSION: Final[int] = 1

_SCHEMA: Final[tuple[str, ...]] = (
    "CREATE TABLE IF NOT EXISTS rules_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS rules (
        rule_id    TEXT    NOT NULL,
        version    INTEGER NOT NULL,
        document   TEXT    NOT NULL,   -- Rule.canonical_json()
        sha256     TEXT    NOT NULL,
        created_at TEXT    NOT NULL,   -- ISO 8601 UTC
        PRIMARY KEY (rule_id, version)
    )""",
)


class RuleExistsError(CoverageError, ValueError):
    """The (id, version) is already stored with different content; versions are immutable."""

    def __init__(self, rule_id: str, version: int) -> None:
        self.rule_id = rule_id
        self.version = version
        super().__init__(
            f"rule {rule_id!r} version {version} already exists with different content; "
            "post it as a new version"
        )


class UnknownRuleError(CoverageError, KeyError):
    """No stored rule has this id (or this version)."""

    def __init__(self, rule_id: str, version: int | None = None) -> None:
        self.rule_id = rule_id
        self.version = version
        super().__init__(rule_id if version is None else (rule_id, version))

    def __str__(self) -> str:
        if self.version is None:
            return f"no stored rule {self.rule_id!r}"
        return f"no stored rule {self.rule_id!r} version {self.version}"


class RuleStoreError(CoverageError, RuntimeError):
    """The file cannot be opened, read or written, or a stored row is corrupt; nothing changed."""


@dataclass(frozen=True, slots=True)
class StoredRule:
    """A stored rule version: the rule, when it was stored (ISO 8601 UTC), the sha256 of its
    canonical document, and every stored version of its id (ascending).
    """

    rule: Rule
    created_at: str
    sha256: str
    versions: tuple[int, ...]


class RuleStore:
    """Distribution rules in the durable SQLite file (or ":memory:"), one lock-guarded
    connection shared by a server's threads.
    """

    def __init__(self, path: str | Path, *, timeout_s: float = 5.0) -> None:
        self.path = str(path)
        try:
            self._db = SqliteFile(
                self.path,
                schema=_SCHEMA,
                meta_table="rules_meta",
                schema_version=SQLITE_SCHEMA_VERSION,
                timeout_s=timeout_s,
            )
        except SchemaVersionError as e:
            raise RuleStoreError(f"{self.path}: rule store {e}") from e
        except sqlite3.Error as e:
            raise RuleStoreError(f"cannot open the rule store {self.path}: {e}") from e

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return self._db.read(fn)
        except sqlite3.Error as e:
            raise RuleStoreError(f"rule store {self.path}: {e}") from e

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return self._db.write(fn)
        except sqlite3.Error as e:
            raise RuleStoreError(f"rule store {self.path}: write failed: {e}") from e

    def create(self, rule: Rule) -> StoredRule:
        """Store a new (id, version); idempotent for identical content, else RuleExistsError."""
        document, sha256 = rule.canonical_json(), rule.sha256()
        created_at = datetime.now(UTC).isoformat(timespec="seconds")

        def insert(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT sha256 FROM rules WHERE rule_id = ? AND version = ?",
                (rule.id, rule.version),
            ).fetchone()
            if row is not None:
                return str(row[0])
            conn.execute(
                "INSERT INTO rules (rule_id, version, document, sha256, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (rule.id, rule.version, document, sha256, created_at),
            )
            return None

        existing = self._write(insert)
        if existing is not None and existing != sha256:
            raise RuleExistsError(rule.id, rule.version)
        log.info("rule %s v%d stored", rule.id, rule.version)
        return self.get(rule.id, rule.version)

    def get(self, rule_id: str, version: int | None = None) -> StoredRule:
        """One version (the latest when `version` is None); UnknownRuleError if absent."""
        versions = self._versions(rule_id)
        if not versions or (version is not None and version not in versions):
            raise UnknownRuleError(rule_id, version)
        wanted = versions[-1] if version is None else version
        row = self._read(
            lambda c: c.execute(
                "SELECT document, sha256, created_at FROM rules WHERE rule_id = ? AND version = ?",
                (rule_id, wanted),
            ).fetchone()
        )
        if row is None:  # pragma: no cover - versions are never deleted
            raise UnknownRuleError(rule_id, version)
        return self._stored(rule_id, wanted, row, versions)

    def list(self) -> builtins.list[StoredRule]:
        """The latest version of every stored rule id, by id."""
        rows = self._read(
            lambda c: c.execute(
                "SELECT rule_id, version, document, sha256, created_at FROM rules "
                "ORDER BY rule_id, version"
            ).fetchall()
        )
        by_id: dict[str, builtins.list[tuple[int, tuple[str, str, str]]]] = {}
        for rule_id, version, document, sha256, created_at in rows:
            by_id.setdefault(rule_id, []).append((int(version), (document, sha256, created_at)))
        out = []
        for rule_id, entries in by_id.items():
            versions = tuple(v for v, _ in entries)
            out.append(self._stored(rule_id, versions[-1], entries[-1][1], versions))
        return out

    def close(self) -> None:
        """Close the connection (checkpointing the WAL into the main file)."""
        self._db.close()

    def _versions(self, rule_id: str) -> tuple[int, ...]:
        rows = self._read(
            lambda c: c.execute(
                "SELECT version FROM rules WHERE rule_id = ? ORDER BY version", (rule_id,)
            ).fetchall()
        )
        return tuple(int(r[0]) for r in rows)

    def _stored(
        self,
        rule_id: str,
        version: int,
        row: tuple[str, str, str],
        versions: tuple[int, ...],
    ) -> StoredRule:
        """A row as a StoredRule, refusing one that no longer validates or matches its key."""
        document, sha256, created_at = row
        try:
            rule = validate_rule(json.loads(document))
        except (RuleError, ValueError) as e:
            raise RuleStoreError(
                f"stored rule {rule_id!r} v{version} no longer validates: {e}"
            ) from e
        if rule.sha256() != sha256 or (rule.id, rule.version) != (rule_id, version):
            raise RuleStoreError(
                f"stored rule {rule_id!r} v{version} does not match its sha256 or key"
            )
        return StoredRule(rule=rule, created_at=created_at, sha256=sha256, versions=versions)


def open_rule_store(store_url: str) -> RuleStore:
    """The rule store for the durable store's URL: the same SQLite file as the policies
    (``sqlite:///abs/path.sqlite3``, or ``sqlite:///:memory:``); with a Redis policy store,
    the availability history's file (module docstring).
    """
    try:
        path = history_path(store_url)
    except CoverageError as e:
        raise RuleStoreError(str(e)) from e
    if path != ":memory:" and not Path(path).parent.is_dir():
        raise RuleStoreError(f"rule store directory {Path(path).parent} does not exist")
    return RuleStore(path)
