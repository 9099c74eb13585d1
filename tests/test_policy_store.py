"""The policy store contract, run against SQLite and the real Redis, plus durability checks."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import redis

from pricing.policy import Policy, PolicyError, validate_policy
from pricing.policy_store import (
    PolicyExistsError,
    PolicyKeys,
    PolicyStore,
    PolicyStoreError,
    RedisPolicyStore,
    SqlitePolicyStore,
    UnknownPolicyError,
    open_policy_store,
)
from tests.fleet_factory import namespace_keys, redis_client, scratch_namespace


def make_policy(
    policy_id: str = "flat-transit", version: int = 1, *, charge: int | None = 263
) -> Policy:
    measure: dict[str, Any] = {"type": "city_wide_average"}
    if charge is not None:
        measure["charge_minor"] = charge
    return validate_policy(
        {
            "fairtrip_policy": 1,
            "id": policy_id,
            "version": version,
            "name": f"{policy_id} v{version}",
            "currency": "EUR",
            "mode_families": ["transit"],
            "revenue_neutral": charge is None,
            "measures": [measure],
        }
    )


SOLVED = {"parameter": "charge_minor", "value": 263.0, "residual": 1.2e-4, "iterations": 7}


@pytest.fixture(scope="module")
def live_redis() -> Iterator[redis.Redis]:
    client = redis_client()
    if client is None:
        pytest.skip("no Redis at FAIRTRIP_TEST_REDIS_URL / 127.0.0.1:6379")
    yield client
    client.close()


@pytest.fixture(params=["sqlite", "redis"])
def backend(request, tmp_path) -> Iterator[tuple[str, Any]]:
    """(kind, handle): a fresh SQLite file path or a scratch Redis namespace."""
    if request.param == "sqlite":
        yield "sqlite", tmp_path / "policies.sqlite3"
        return
    client = request.getfixturevalue("live_redis")
    with scratch_namespace(client) as namespace:
        yield "redis", (client, namespace)


def open_store(backend: tuple[str, Any]) -> PolicyStore:
    kind, handle = backend
    if kind == "sqlite":
        return SqlitePolicyStore(handle)
    client, namespace = handle
    return RedisPolicyStore(client, namespace=namespace)


@pytest.fixture
def store(backend) -> Iterator[PolicyStore]:
    s = open_store(backend)
    yield s
    if backend[0] == "sqlite":  # the Redis client belongs to the module fixture
        s.close()


def snapshot(store: PolicyStore) -> tuple[Any, ...]:
    """Everything observable about the store, for 'nothing changed' checks."""
    active = store.active()
    return (
        [(s.policy.id, s.policy.version, s.sha256, s.created_at, s.versions) for s in store.list()],
        None if active is None else (active.policy.id, active.policy.version, active.solved),
    )


# -- create / get / list --------------------------------------------------------------------------


def test_a_created_policy_can_be_read_back(store):
    policy = make_policy()
    stored = store.create(policy)
    assert stored.policy == policy
    assert stored.sha256 == policy.sha256()
    assert stored.active is False and stored.solved is None
    assert stored.versions == (1,)
    assert datetime.fromisoformat(stored.created_at).utcoffset().total_seconds() == 0
    assert store.get("flat-transit") == stored
    assert store.get("flat-transit", 1) == stored


def test_reposting_the_same_version_is_idempotent(store):
    first = store.create(make_policy())
    again = store.create(make_policy())
    assert again == first  # same created_at: the stored record, not a new one
    assert store.get("flat-transit").versions == (1,)


def test_the_same_version_with_different_content_is_refused_and_nothing_changes(store):
    store.create(make_policy(charge=263))
    before = snapshot(store)
    with pytest.raises(PolicyExistsError) as info:
        store.create(make_policy(charge=300))
    assert info.value.policy_id == "flat-transit" and info.value.version == 1
    assert isinstance(info.value, ValueError)
    assert snapshot(store) == before
    assert store.get("flat-transit").policy.measures[0].charge_minor == 263


def test_get_returns_the_latest_version_unless_one_is_named(store):
    store.create(make_policy(version=1, charge=250))
    store.create(make_policy(version=3, charge=270))
    store.create(make_policy(version=2, charge=260))
    latest = store.get("flat-transit")
    assert latest.policy.version == 3 and latest.versions == (1, 2, 3)
    assert store.get("flat-transit", 2).policy.measures[0].charge_minor == 260


def test_an_unknown_policy_or_version_raises_a_key_error(store):
    with pytest.raises(UnknownPolicyError) as info:
        store.get("nope")
    assert isinstance(info.value, KeyError)
    assert str(info.value) == "no stored policy 'nope'"
    store.create(make_policy())
    with pytest.raises(UnknownPolicyError, match="version 9"):
        store.get("flat-transit", 9)


def test_list_gives_the_latest_version_of_each_policy_by_id(store):
    assert store.list() == []
    store.create(make_policy("zeta-policy", 1))
    store.create(make_policy("alpha-policy", 1))
    store.create(make_policy("alpha-policy", 2, charge=280))
    listed = store.list()
    assert [(s.policy.id, s.policy.version, s.versions) for s in listed] == [
        ("alpha-policy", 2, (1, 2)),
        ("zeta-policy", 1, (1,)),
    ]


def test_a_solved_copy_is_not_stored(store):
    solved = make_policy(charge=None).with_parameter(263)
    with pytest.raises(PolicyError, match="solved"):
        store.create(solved)
    assert store.list() == []


# -- activation -----------------------------------------------------------------------------------


def test_activation_stores_the_solved_record(store):
    store.create(make_policy(charge=None))
    active = store.activate("flat-transit", 1, solved=SOLVED)
    assert active.active is True and active.solved == SOLVED
    assert store.active() == active
    assert store.get("flat-transit").active is True
    effective = active.effective_policy()
    assert effective.free_parameter is None
    assert effective.measures[0].charge_minor == 263


def test_exactly_one_policy_is_active(store):
    store.create(make_policy("first-policy"))
    store.create(make_policy("second-policy"))
    store.activate("first-policy", 1)
    store.activate("second-policy", 1)
    assert store.active().policy.id == "second-policy"
    assert store.get("first-policy").active is False
    assert [s.active for s in store.list()] == [False, True]


def test_activating_an_older_version_makes_only_that_version_active(store):
    store.create(make_policy(version=1))
    store.create(make_policy(version=2, charge=280))
    store.activate("flat-transit", 1)
    assert store.get("flat-transit", 1).active is True
    assert store.get("flat-transit").active is False  # the latest, version 2


def test_deactivate_leaves_no_active_policy_and_is_idempotent(store):
    store.create(make_policy())
    store.activate("flat-transit", 1)
    store.deactivate()
    assert store.active() is None
    assert store.get("flat-transit").active is False
    store.deactivate()
    assert store.active() is None


def test_activating_an_unknown_policy_changes_nothing(store):
    store.create(make_policy())
    store.activate("flat-transit", 1)
    before = snapshot(store)
    with pytest.raises(UnknownPolicyError):
        store.activate("flat-transit", 2)
    with pytest.raises(UnknownPolicyError):
        store.activate("other-policy", 1)
    assert snapshot(store) == before


@pytest.mark.parametrize(
    ("solved", "field"),
    [
        (None, "measures[0].charge_minor"),
        ({"parameter": "surcharge_pct", "value": 5.0}, "solved.parameter"),
        ({"parameter": "charge_minor", "value": "263"}, "solved.value"),
        ({"parameter": "charge_minor", "value": float("inf")}, "solved.value"),
        ({"parameter": "charge_minor", "value": -5.0}, "measures[0].charge_minor"),
        ({"parameter": "charge_minor", "value": 263.0, "residual": float("nan")}, "solved"),
    ],
)
def test_a_bad_solved_record_is_refused_and_changes_nothing(store, solved, field):
    store.create(make_policy(charge=None))
    store.create(make_policy("other-policy"))
    store.activate("other-policy", 1)
    before = snapshot(store)
    with pytest.raises(PolicyError) as info:
        store.activate("flat-transit", 1, solved=solved)
    assert info.value.field == field
    assert snapshot(store) == before


def test_a_fixed_policy_may_be_activated_with_its_evaluation_record(store):
    store.create(make_policy())
    record = {"parameter": None, "value": None, "residual": -0.08}
    assert store.activate("flat-transit", 1, solved=record).solved == record


# -- failures mid-write ---------------------------------------------------------------------------


def inject_write_failure(backend: tuple[str, Any], monkeypatch) -> None:
    """Make the next activation fail inside its transaction, after its first statement."""
    kind, handle = backend
    if kind == "sqlite":
        # a trigger on the *insert* of the new activation: the delete of the old one has
        # already run in the same transaction, so only a rollback can restore it
        conn = sqlite3.connect(handle)
        conn.execute(
            "CREATE TRIGGER fail_activation BEFORE INSERT ON activation "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )
        conn.commit()
        conn.close()
        return

    def lost_connection(self, *args, **kwargs):
        raise redis.exceptions.ConnectionError("injected: connection lost before EXEC")

    monkeypatch.setattr(redis.client.Pipeline, "execute", lost_connection)


def test_a_write_that_fails_midway_leaves_the_store_as_it_was(backend, monkeypatch):
    store = open_store(backend)
    store.create(make_policy("first-policy"))
    store.create(make_policy("second-policy"))
    store.activate("first-policy", 1)
    before = snapshot(store)
    inject_write_failure(backend, monkeypatch)
    with pytest.raises(PolicyStoreError):
        store.activate("second-policy", 1)
    monkeypatch.undo()
    assert snapshot(store) == before
    assert store.active().policy.id == "first-policy"
    if backend[0] == "sqlite":
        store.close()


def test_a_failed_create_leaves_no_trace(backend, monkeypatch):
    store = open_store(backend)
    store.create(make_policy("first-policy"))
    before = snapshot(store)
    kind, handle = backend
    if kind == "sqlite":
        conn = sqlite3.connect(handle)
        conn.execute(
            "CREATE TRIGGER fail_insert AFTER INSERT ON policies "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )
        conn.commit()
        conn.close()
    else:
        inject_write_failure(backend, monkeypatch)
    with pytest.raises(PolicyStoreError):
        store.create(make_policy("second-policy"))
    monkeypatch.undo()
    assert snapshot(store) == before
    with pytest.raises(UnknownPolicyError):
        store.get("second-policy")
    if kind == "sqlite":
        store.close()


# -- durability and backend specifics -------------------------------------------------------------


def test_a_sqlite_store_survives_a_restart(tmp_path):
    url = f"sqlite:///{tmp_path / 'policies.sqlite3'}"
    store = open_policy_store(url)
    store.create(make_policy(charge=None))
    store.activate("flat-transit", 1, solved=SOLVED)
    created = store.get("flat-transit")
    store.close()

    reopened = open_policy_store(url)
    try:
        active = reopened.active()
        assert active is not None
        assert active.policy == created.policy and active.created_at == created.created_at
        assert active.solved == SOLVED and active.active is True
    finally:
        reopened.close()


def test_the_sqlite_file_uses_write_ahead_logging(tmp_path):
    path = tmp_path / "policies.sqlite3"
    SqlitePolicyStore(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_a_redis_store_is_seen_by_a_second_client(live_redis):
    with scratch_namespace(live_redis) as namespace:
        first = RedisPolicyStore(live_redis, namespace=namespace)
        first.create(make_policy(charge=None))
        first.activate("flat-transit", 1, solved=SOLVED)
        url = f"redis://127.0.0.1:6379/0?namespace={namespace}"
        second = open_policy_store(url)
        try:
            assert isinstance(second, RedisPolicyStore)
            assert second.keys.namespace == namespace
            assert second.active().solved == SOLVED
        finally:
            second.close()


def test_redis_keys_stay_inside_the_namespace_and_are_named_in_one_place(live_redis):
    with scratch_namespace(live_redis) as namespace:
        store = RedisPolicyStore(live_redis, namespace=namespace)
        store.create(make_policy())
        store.activate("flat-transit", 1)
        keys = PolicyKeys(namespace)
        assert namespace_keys(live_redis, namespace) == sorted(
            [keys.ids(), keys.versions("flat-transit"), keys.active()]
        )


def test_a_corrupted_row_is_reported_not_priced(tmp_path):
    path = tmp_path / "policies.sqlite3"
    store = SqlitePolicyStore(path)
    store.create(make_policy())
    conn = sqlite3.connect(path)
    conn.execute("UPDATE policies SET document = replace(document, '263', '1')")
    conn.commit()
    conn.close()
    with pytest.raises(PolicyStoreError, match="sha256"):
        store.get("flat-transit")
    store.close()


def test_a_store_file_of_another_schema_is_refused(tmp_path):
    path = tmp_path / "policies.sqlite3"
    SqlitePolicyStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    conn.commit()
    conn.close()
    with pytest.raises(PolicyStoreError, match="schema 99"):
        SqlitePolicyStore(path)


def test_the_sqlite_store_can_be_shared_by_threads(tmp_path):
    store = SqlitePolicyStore(tmp_path / "policies.sqlite3")
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for version in range(1, 6):
                store.create(make_policy(f"policy-{n}", version))
                store.create(make_policy("shared-policy", 1))  # idempotent from every thread
                store.activate(f"policy-{n}", version)
        except BaseException as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    listed = store.list()
    assert len(listed) == 9 and all(s.versions == (1, 2, 3, 4, 5) for s in listed[:-1])
    assert sum(s.active for s in listed) <= 1 and store.active() is not None
    store.close()


def test_an_in_memory_sqlite_store_works():
    store = open_policy_store("sqlite:///:memory:")
    store.create(make_policy())
    assert store.get("flat-transit").versions == (1,)
    store.close()


@pytest.mark.parametrize(
    "url",
    ["sqlite://relative.db", "sqlite:///no/such/dir/policies.sqlite3", "postgres://x/y", ""],
)
def test_unusable_store_urls_are_refused(url):
    with pytest.raises(ValueError):
        open_policy_store(url)
