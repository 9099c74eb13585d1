"""Provider accounts and API keys: one contract over memory and a real Redis server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from providers.accounts import (
    MAX_ACTIVE_KEYS,
    MemoryAccounts,
    ProviderAccounts,
    ProviderExistsError,
    RedisAccounts,
    TooManyKeysError,
    UnknownApiKeyError,
    hash_secret,
)
from providers.errors import AuthError, StoreUnavailableError, UnknownProviderError
from tests.fleet_factory import namespace_keys, redis_client, scratch_namespace

REDIS = redis_client()


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
def accounts(request: pytest.FixtureRequest) -> Iterator[ProviderAccounts]:
    if request.param == "memory":
        yield MemoryAccounts(clock=Clock())
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
