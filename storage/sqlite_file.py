"""The durable SQLite file: one connection, its settings, its schema version, transactions.

Policies and provider accounts live in the same file (configuration and credentials, not
cache), and both stores open it the same way: WAL so readers never block the writer,
``synchronous = FULL`` so an acknowledged write survives a power cut, foreign keys on, one
connection behind a lock (FastAPI calls from its threadpool), every write one
``BEGIN IMMEDIATE`` transaction so a second process waits rather than failing, and a schema
version per store so a file written by a newer fairtrip is refused instead of misread.

SQLite's own errors pass through unchanged: each store turns them into its typed error
with its own wording (a policy error, or a 503 for accounts).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class SchemaVersionError(ValueError):
    """The file holds a store's tables in a schema version this fairtrip does not read."""

    def __init__(self, found: str, expected: int) -> None:
        self.found = found
        self.expected = expected
        super().__init__(f"schema {found}, this fairtrip reads {expected}")


class SqliteFile:
    """One SQLite file opened for a store: `read` and `write` run a function on it."""

    def __init__(
        self,
        path: str | Path,
        *,
        schema: Sequence[str],
        meta_table: str,
        schema_version: int,
        timeout_s: float = 5.0,
    ) -> None:
        """Open `path`, create the store's tables (`schema`, one statement each) and check
        or record its version in `meta_table` (key ``schema``).

        Raises
        ------
        sqlite3.Error
            The file cannot be opened or written.
        SchemaVersionError
            The store's tables are there in another schema version.
        """
        self.path = str(path)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            self.path, timeout=timeout_s, check_same_thread=False, isolation_level=None
        )
        self._conn.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
        with self.transaction() as conn:
            for statement in schema:
                conn.execute(statement)
            row = conn.execute(f"SELECT value FROM {meta_table} WHERE key = 'schema'").fetchone()
            if row is None:
                conn.execute(
                    f"INSERT INTO {meta_table} (key, value) VALUES ('schema', ?)",
                    (str(schema_version),),
                )
            elif row[0] != str(schema_version):
                raise SchemaVersionError(str(row[0]), schema_version)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # also when COMMIT itself failed (disk full, I/O)
                    conn.execute("ROLLBACK")
                raise

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn` on the connection, under the lock (no transaction: a consistent read)."""
        with self._lock:
            return fn(self._conn)

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn` inside one transaction: all its writes land, or none."""
        with self.transaction() as conn:
            return fn(conn)

    def close(self) -> None:
        """Close the connection (checkpointing the WAL into the main file)."""
        with self._lock:
            self._conn.close()
