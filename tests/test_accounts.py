"""Provider accounts and API keys: one contract over memory, SQLite (the default durable
store) and a real Redis server; then what only the durable SQLite file promises.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from providers.accounts import (
    MAX_ACTIVE_KEYS,
    AccountsStoreError,
    MemoryAccounts,
    ProviderAccounts,
    ProviderExistsError,
    RedisAccounts,
    SqliteAccounts,
    TooManyKeysError,
    UnknownApiKeyError,
    hash_secret,
    open_accounts,
)
from providers.errors import (
    AuthError,
    StoreUnavailableError,
    UnknownProviderError,
    UnsafeNameError,
)
from tests.fleet_factory import namespace_keys, redis_client, scratch_namespace

REDIS = redis_client()


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "sqlite", "redis"])
def accounts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProviderAccounts]:
    if request.param == "memory":
        yield MemoryAccounts(clock=Clock())
        return
    if request.param == "sqlite":
        acc = SqliteAccounts(tmp_path / "durable.sqlite3", clock=Clock())
        yield acc
        acc.close()
        return
    if REDIS is None:
        pytest.skip("no Redis server at the test URL")
    with scratch_namespace(REDIS) as ns:
        yield RedisAccounts(REDIS, namespace=ns, clock=Clock())


def test_create_get_list_delete(accounts: ProviderAccounts) -> None:
    a = accounts.create_provider("citybikes", "City Bikes", poll_url="https://x.example/gbfs")
    accounts.create_provider("scoot-1", "Scoot")
    assert accounts.get("citybikes") == a
    assert a.created_at_s == 1_700_000_000
    assert accounts.get("nobody") is None
    assert accounts.get("Not Valid") is None
    assert [x.provider_id for x in accounts.list()] == ["citybikes", "scoot-1"]
    with pytest.raises(ProviderExistsError):
        accounts.create_provider("citybikes", "Again")
    accounts.delete_provider("citybikes")
    assert accounts.get("citybikes") is None
    with pytest.raises(UnknownProviderError):
        accounts.delete_provider("citybikes")


@pytest.mark.parametrize("bad", ["", "a", "A-bikes", "-bikes", "bikes!", "x" * 65, "a:b", "a*"])
def test_provider_id_is_validated(accounts: ProviderAccounts, bad: str) -> None:
    with pytest.raises(ValueError, match="invalid provider id"):
        accounts.create_provider(bad, "Name")


def test_issue_and_authenticate(accounts: ProviderAccounts) -> None:
    accounts.create_provider("p1", "P1")
    k1, k2 = accounts.issue_key("p1"), accounts.issue_key("p1")
    assert k1.secret.startswith(f"ft_{k1.key_id}_") and len(k1.secret) > 50
    assert k1.secret not in repr(k1)
    assert accounts.authenticate("p1", k1.secret) == k1.key_id
    assert accounts.authenticate("p1", k2.secret) == k2.key_id
    assert [k.key_id for k in accounts.keys("p1")] == sorted([k1.key_id, k2.key_id])
    for wrong in [None, "", k1.secret + "x", k1.secret[:-1], "ft_" + "a" * 300]:
        with pytest.raises(AuthError):
            accounts.authenticate("p1", wrong)
    with pytest.raises(AuthError):
        accounts.authenticate("nobody", k1.secret)
    with pytest.raises(UnknownProviderError):
        accounts.issue_key("nobody")


def test_key_of_one_provider_is_rejected_for_another(accounts: ProviderAccounts) -> None:
    accounts.create_provider("alpha", "A")
    accounts.create_provider("beta", "B")
    ka, kb = accounts.issue_key("alpha"), accounts.issue_key("beta")
    with pytest.raises(AuthError):
        accounts.authenticate("beta", ka.secret)
    with pytest.raises(AuthError):
        accounts.authenticate("alpha", kb.secret)
    # the key id embedded in the secret does not redirect the lookup to its owner either
    forged = f"ft_{ka.key_id}_" + kb.secret.split("_", 2)[2]
    with pytest.raises(AuthError):
        accounts.authenticate("alpha", forged)


def test_revoked_key_is_rejected(accounts: ProviderAccounts) -> None:
    accounts.create_provider("p1", "P1")
    k1, k2 = accounts.issue_key("p1"), accounts.issue_key("p1")
    accounts.revoke_key("p1", k1.key_id)
    accounts.revoke_key("p1", k1.key_id)  # idempotent
    with pytest.raises(AuthError):
        accounts.authenticate("p1", k1.secret)
    assert accounts.authenticate("p1", k2.secret) == k2.key_id
    info = {k.key_id: k for k in accounts.keys("p1")}
    assert info[k1.key_id].revoked_at_s is not None and info[k2.key_id].revoked_at_s is None
    with pytest.raises(UnknownApiKeyError):
        accounts.revoke_key("p1", "nope")
    with pytest.raises(UnknownProviderError):
        accounts.revoke_key("nobody", k1.key_id)


def test_deleting_a_provider_kills_its_keys(accounts: ProviderAccounts) -> None:
    accounts.create_provider("p1", "P1")
    k = accounts.issue_key("p1")
    accounts.delete_provider("p1")
    accounts.create_provider("p1", "P1 again")
    with pytest.raises(AuthError):
        accounts.authenticate("p1", k.secret)
    assert accounts.keys("p1") == []


def test_active_keys_are_bounded(accounts: ProviderAccounts) -> None:
    accounts.create_provider("p1", "P1")
    issued = [accounts.issue_key("p1") for _ in range(MAX_ACTIVE_KEYS)]
    with pytest.raises(TooManyKeysError):
        accounts.issue_key("p1")
    accounts.revoke_key("p1", issued[0].key_id)
    accounts.issue_key("p1")


@pytest.mark.skipif(REDIS is None, reason="no Redis server at the test URL")
def test_only_hashes_reach_redis() -> None:
    assert REDIS is not None
    with scratch_namespace(REDIS) as ns:
        acc = RedisAccounts(REDIS, namespace=ns)
        acc.create_provider("p1", "P1")
        issued = [acc.issue_key("p1") for _ in range(3)]
        dump = b""
        for key in namespace_keys(REDIS, ns):
            kind = REDIS.type(key)
            if kind == b"hash":
                dump += b"".join(k + v for k, v in REDIS.hgetall(key).items())
            elif kind == b"set":
                dump += b"".join(REDIS.smembers(key))
            assert REDIS.ttl(key) == -1  # accounts are durable configuration
        for k in issued:
            assert k.secret.encode() not in dump
            assert k.secret.split("_", 2)[2].encode() not in dump  # nor its random part
            assert hash_secret(k.secret).encode() in dump


def test_redis_down_is_unavailable_not_unauthorised() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    acc = RedisAccounts(f"redis://127.0.0.1:{port}/0", namespace="fairtrip-test:dead:")
    with pytest.raises(StoreUnavailableError) as e:
        acc.authenticate("p1", "ft_x_y")
    assert e.value.retry_after_s >= 1


# -- names ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "position", "code"),
    [
        ("Acme\x00Bikes", 4, "U+0000"),  # NUL
        ("\x1b[2JAcme", 0, "U+001B"),  # ESC: a terminal escape sequence
        ("Acme\nINFO forged log line", 4, "U+000A"),
        ("Acme\u202egnp.exe", 4, "U+202E"),  # right-to-left override
        ("Acme\u2028x", 4, "U+2028"),  # line separator
        ("Acme\x85", 4, "U+0085"),  # C1 control (next line)
        ("Acme\ud800", 4, "U+D800"),  # lone surrogate, as a JSON \\ud800 escape gives
    ],
)
def test_names_with_control_characters_are_refused_and_nothing_is_stored(
    accounts: ProviderAccounts, name: str, position: int, code: str
) -> None:
    with pytest.raises(UnsafeNameError) as e:
        accounts.create_provider("acme", name)
    assert e.value.position == position and e.value.field == "name"
    assert f"{code} (" in str(e.value) and f"at position {position}" in str(e.value)
    assert accounts.get("acme") is None and accounts.list() == []


@pytest.mark.parametrize("name", ["Åbo Cykel", "Citybikes 🚲", "👩‍👩‍👧 Family Bikes", "Ñu"])
def test_ordinary_unicode_names_are_kept_as_sent(accounts: ProviderAccounts, name: str) -> None:
    # the zero-width joiner inside the family emoji is a format character that must pass
    assert accounts.create_provider("uni", name).name == name
    assert accounts.get("uni") is not None and accounts.get("uni").name == name  # type: ignore[union-attr]


# -- what the cache held -----------------------------------------------------------------------
def test_data_lost_is_marked_only_for_providers_that_had_data(accounts: ProviderAccounts) -> None:
    clock = accounts._clock
    assert isinstance(clock, Clock)
    for pid in ("pushed", "silent", "other"):
        accounts.create_provider(pid, pid)
    accounts.record_data(["pushed", "other", "no-account", "Not Valid"])
    first_seen = accounts.get("pushed").data_seen_at_s  # type: ignore[union-attr]
    assert first_seen == 1_700_000_000
    clock.now += 100
    assert accounts.mark_data_lost(["pushed", "silent", "ghost"]) == ["pushed"]
    assert accounts.mark_data_lost(["pushed"]) == []  # a second worker: already marked
    lost = accounts.get("pushed")
    assert lost is not None and lost.data_lost_at_s == 1_700_000_100
    assert accounts.get("silent").data_lost_at_s is None  # type: ignore[union-attr]
    assert accounts.get("other").data_lost_at_s is None  # type: ignore[union-attr]
    clock.now += 50
    accounts.record_data(["pushed"])  # it pushed again
    back = accounts.get("pushed")
    assert back is not None and back.data_lost_at_s is None
    assert back.data_seen_at_s == first_seen  # first sighting kept


def test_cache_epoch_is_remembered(accounts: ProviderAccounts) -> None:
    assert accounts.cache_epoch() is None
    accounts.set_cache_epoch("e1")
    accounts.set_cache_epoch("e2")
    assert accounts.cache_epoch() == "e2"


# -- the durable SQLite file -------------------------------------------------------------------
def test_sqlite_accounts_and_keys_survive_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "durable.sqlite3"
    first = SqliteAccounts(path)
    first.create_provider("citybikes", "City Bikes", poll_url="https://x.example/gbfs")
    kept, revoked = first.issue_key("citybikes"), first.issue_key("citybikes")
    first.revoke_key("citybikes", revoked.key_id)
    first.record_data(["citybikes"])
    first.set_cache_epoch("abc")
    first.close()

    again = SqliteAccounts(path)
    assert again.authenticate("citybikes", kept.secret) == kept.key_id
    with pytest.raises(AuthError):
        again.authenticate("citybikes", revoked.secret)
    account = again.get("citybikes")
    assert account is not None and account.poll_url == "https://x.example/gbfs"
    assert account.data_seen_at_s is not None and again.cache_epoch() == "abc"
    assert [k.key_id for k in again.keys("citybikes")] == sorted([kept.key_id, revoked.key_id])


def test_two_workers_share_one_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "durable.sqlite3"
    w1, w2 = SqliteAccounts(path), SqliteAccounts(path)
    w1.create_provider("shared", "Shared")
    key = w2.issue_key("shared")
    assert w1.authenticate("shared", key.secret) == key.key_id
    w2.delete_provider("shared")
    with pytest.raises(AuthError):
        w1.authenticate("shared", key.secret)


def test_only_hashes_reach_the_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "durable.sqlite3"
    acc = SqliteAccounts(path)
    acc.create_provider("p1", "P1")
    issued = [acc.issue_key("p1") for _ in range(3)]
    acc.close()  # checkpoints the WAL into the main file
    raw = path.read_bytes()
    for k in issued:
        assert k.secret.encode() not in raw
        assert k.secret.split("_", 2)[2].encode() not in raw
        assert hash_secret(k.secret).encode() in raw


def test_a_locked_sqlite_file_is_unavailable_not_unauthorised(tmp_path: Path) -> None:
    path = tmp_path / "durable.sqlite3"
    acc = SqliteAccounts(path, timeout_s=0.05)
    acc.create_provider("p1", "P1")
    key = acc.issue_key("p1")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with pytest.raises(StoreUnavailableError) as e:
            acc.issue_key("p1")
        assert e.value.retry_after_s >= 1
        assert str(path) not in str(e.value)  # no server path in an answer
        # WAL: readers are not blocked by a writer, so pushes keep authenticating
        assert acc.authenticate("p1", key.secret) == key.key_id
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert len(acc.keys("p1")) == 1  # the refused issue left nothing behind


def test_a_file_from_a_newer_fairtrip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "durable.sqlite3"
    SqliteAccounts(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE accounts_meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(AccountsStoreError, match="schema 99"):
        SqliteAccounts(path)


def test_accounts_share_the_file_with_the_policy_store(tmp_path: Path) -> None:
    from pricing.policy_store import SqlitePolicyStore

    path = tmp_path / "policies.sqlite3"
    policies = SqlitePolicyStore(path)
    acc = SqliteAccounts(path)
    acc.create_provider("p1", "P1")
    assert policies.list() == [] and acc.list()[0].provider_id == "p1"
    policies.close()
    acc.close()
    assert SqliteAccounts(path).get("p1") is not None
    SqlitePolicyStore(path).close()  # the policy schema check still passes


def test_open_accounts_by_url(tmp_path: Path) -> None:
    acc = open_accounts(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    assert isinstance(acc, SqliteAccounts)
    assert isinstance(open_accounts("sqlite:///:memory:"), SqliteAccounts)
    red = open_accounts("redis://127.0.0.1:6379/0?namespace=fairtrip-test:x:")
    assert isinstance(red, RedisAccounts)
    for bad in ["sqlite://relative.db", f"sqlite:///{tmp_path}/no/such/a.sqlite3", "pg://x/y", ""]:
        with pytest.raises(AccountsStoreError):
            open_accounts(bad)
