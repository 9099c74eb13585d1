"""RedisStore beyond the contract: outages, the breaker, key lifetimes, several workers.

Outages are real: the store talks to Redis through a small TCP relay that the test shuts
down (connections reset, new ones refused) and brings back on the same port.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from providers.errors import StoreUnavailableError
from providers.store import BreakerState, CircuitBreaker, RedisStore
from tests.fleet_factory import (
    HELSINKI,
    T0_S,
    make_snapshot,
    namespace_keys,
    redis_client,
    scratch_namespace,
)

REDIS = redis_client()
pytestmark = pytest.mark.skipif(REDIS is None, reason="no Redis server at the test URL")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Relay:
    """A TCP relay from a local port to the test Redis, which can be cut and restored."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        lst = socket.socket()
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.bind(("127.0.0.1", self.port))
        self.port = lst.getsockname()[1]
        lst.listen(16)
        self._listener = lst
        threading.Thread(target=self._accept, args=(lst,), daemon=True).start()

    def _accept(self, lst: socket.socket) -> None:
        while True:
            try:
                client, _ = lst.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        """Refuse new connections and reset the open ones: Redis 'goes down'."""
        if self._listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for s in self._conns:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self._conns.clear()


@pytest.fixture
def ns() -> Iterator[str]:
    assert REDIS is not None
    with scratch_namespace(REDIS) as namespace:
        yield namespace


@pytest.fixture
def relay() -> Iterator[Relay]:
    assert REDIS is not None
    kw = REDIS.connection_pool.connection_kwargs
    r = Relay((kw.get("host", "127.0.0.1"), kw.get("port", 6379)))
    r.start()
    yield r
    r.stop()


def ids(found: list) -> list[str]:
    return [h.vehicle.id for h in found]


# -- outages --------------------------------------------------------------------------------
def test_outage_reads_last_good_copy_and_refuses_writes(ns: str, relay: Relay) -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=10, clock=clock)
    store = RedisStore(f"redis://127.0.0.1:{relay.port}/0", namespace=ns, breaker=breaker)
    snap = make_snapshot("p1", 50, n_stations=5)
    store.put_snapshot(snap)
    before = ids(store.nearby_vehicles(*HELSINKI, 3000, limit=1000))
    assert len(before) == 50

    relay.stop()
    t = time.monotonic()
    assert store.snapshot("p1") == snap
    assert ids(store.nearby_vehicles(*HELSINKI, 3000, limit=1000)) == before
    assert len(store.nearby_stations(*HELSINKI, 3000)) == 5
    assert list(store.fresh_snapshots(T0_S + 10)) == ["p1"]
    assert store.provider_ids() == ["p1"]
    assert not store.status("p1", T0_S + 10).stale
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(StoreUnavailableError) as e:
        store.put_snapshot(make_snapshot("p1", 10, tag="b"))
    assert e.value.retry_after_s == 10
    clock.now += 7.5
    with pytest.raises(StoreUnavailableError) as e:
        store.delete_provider("p1")
    assert e.value.retry_after_s == 3
    assert store.ping() is False and store.health()["ok"] is False
    assert time.monotonic() - t < 2.0  # failing fast, not waiting on timeouts

    # cooldown over but Redis still down: the probe fails and the circuit reopens
    clock.now += 3
    assert store.snapshot("p1") == snap
    assert breaker.state is BreakerState.OPEN

    relay.start()  # same port
    clock.now += 10
    store.put_snapshot(make_snapshot("p1", 10, tag="b"))  # the probe: succeeds, closes
    assert breaker.state is BreakerState.CLOSED
    assert set(x.split("-")[0] for x in ids(store.nearby_vehicles(*HELSINKI, 3000))) == {"b"}


def test_store_on_a_dead_endpoint_answers_empty_and_refuses_writes(ns: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: connections are refused
    store = RedisStore(f"redis://127.0.0.1:{port}/0", namespace=ns)
    assert store.snapshot("p1") is None
    assert store.provider_ids() == []
    assert store.nearby_vehicles(*HELSINKI, 1000) == []
    assert dict(store.fresh_snapshots(T0_S)) == {}
    with pytest.raises(StoreUnavailableError) as e:
        store.put_snapshot(make_snapshot("p1", 3))
    assert e.value.retry_after_s >= 1
    with pytest.raises(StoreUnavailableError):
        store.digest()


# -- breaker --------------------------------------------------------------------------------
def test_breaker_cycle() -> None:
    clock = Clock()
    b = CircuitBreaker(failure_threshold=3, cooldown_s=5, clock=clock)
    assert b.allow() and b.state is BreakerState.CLOSED
    b.record_failure()
    b.record_failure()
    b.record_success()  # not consecutive: counting restarts
    b.record_failure()
    b.record_failure()
    assert b.state is BreakerState.CLOSED
    b.record_failure()
    assert b.state is BreakerState.OPEN and not b.allow()
    assert b.retry_after_s() == 5
    clock.now += 4.2
    assert b.retry_after_s() == 1 and not b.allow()
    clock.now += 1
    assert b.state is BreakerState.HALF_OPEN
    assert b.allow()  # the one probe
    assert not b.allow()  # everyone else waits for it
    b.record_failure()  # probe failed: open again, full cooldown
    assert b.state is BreakerState.OPEN and b.retry_after_s() == 5
    clock.now += 5
    assert b.allow()
    b.record_success()
    assert b.state is BreakerState.CLOSED and b.allow() and b.allow()
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)


def test_breaker_is_thread_safe() -> None:
    clock = Clock()
    b = CircuitBreaker(failure_threshold=1, cooldown_s=1, clock=clock)
    b.record_failure()
    clock.now += 2
    granted: list[bool] = []
    threads = [threading.Thread(target=lambda: granted.append(b.allow())) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert granted.count(True) == 1


# -- key lifetimes ----------------------------------------------------------------------------
def test_old_versions_get_a_ttl_and_current_keys_none(ns: str) -> None:
    assert REDIS is not None
    store = RedisStore(REDIS, namespace=ns, old_version_ttl_s=60)
    store.put_snapshot(make_snapshot("p1", 20, n_stations=3, tag="a"))
    first = set(namespace_keys(REDIS, ns))
    assert all(REDIS.ttl(k) == -1 for k in first)  # pending TTLs were cleared by the swap
    store.put_snapshot(make_snapshot("p1", 20, n_stations=3, tag="b"))
    old_data = {k for k in first if ":v:" in k}
    assert len(old_data) == 3
    for k in old_data:
        assert 0 < REDIS.ttl(k) <= 60
    new_data = {k for k in namespace_keys(REDIS, ns) if ":v:" in k} - old_data
    assert len(new_data) == 3 and all(REDIS.ttl(k) == -1 for k in new_data)


def test_no_stray_keys_after_delete(ns: str) -> None:
    assert REDIS is not None
    store = RedisStore(REDIS, namespace=ns)
    for tag in "abc":
        store.put_snapshot(make_snapshot("p1", 10, n_stations=2, tag=tag))
    store.delete_provider("p1")
    left = namespace_keys(REDIS, ns)
    persistent = [k for k in left if REDIS.ttl(k) == -1]
    assert persistent == [f"{ns}store:generation"]  # a counter, not data
    assert all(":v:" in k for k in left if k not in persistent)  # superseded, expiring


def test_keys_stay_in_the_namespace(ns: str) -> None:
    assert REDIS is not None
    store = RedisStore(REDIS, namespace=ns)
    store.put_snapshot(make_snapshot("p1", 5))
    for k in namespace_keys(REDIS, ns):
        assert k.startswith(f"{ns}store:")


# -- stored format ----------------------------------------------------------------------------
def test_a_blob_of_an_older_codec_is_not_misread(ns: str, caplog: pytest.LogCaptureFixture) -> None:
    """A blob written by an older codec is refused like any unreadable blob (logged, the
    provider left out) until the provider's next push replaces it.
    """
    assert REDIS is not None
    writer = RedisStore(REDIS, namespace=ns)
    snap = make_snapshot("p1", 5, n_stations=2)
    writer.put_snapshot(snap)
    version = REDIS.get(writer.keys.current("p1"))
    assert isinstance(version, bytes)
    blob_key = writer.keys.blob("p1", version.decode())
    old = json.loads(REDIS.get(blob_key) or b"null")
    old["codec"] = 1
    REDIS.set(blob_key, json.dumps(old))
    reader = RedisStore(REDIS, namespace=ns)
    with caplog.at_level(logging.ERROR, logger="providers.store.redis_store"):
        assert reader.snapshot("p1") is None
    assert "not a readable snapshot" in caplog.text
    writer.put_snapshot(snap)
    assert reader.snapshot("p1") == snap


# -- several workers --------------------------------------------------------------------------
def test_two_instances_see_each_others_writes(ns: str) -> None:
    writer = RedisStore(redis.Redis(), namespace=ns)
    reader = RedisStore(redis.Redis(), namespace=ns)
    assert reader.snapshot("p1") is None
    a = make_snapshot("p1", 30, tag="a")
    writer.put_snapshot(a)
    assert reader.snapshot("p1") == a
    assert set(x.split("-")[0] for x in ids(reader.nearby_vehicles(*HELSINKI, 3000))) == {"a"}
    writer.put_snapshot(make_snapshot("p1", 10, tag="b"))
    assert len(reader.nearby_vehicles(*HELSINKI, 3000)) == 10
    assert reader.digest() == writer.digest()
    reader.delete_provider("p1")
    assert writer.snapshot("p1") is None and writer.provider_ids() == []


def test_reader_instance_never_sees_a_torn_fleet(ns: str) -> None:
    writer = RedisStore(redis.Redis(), namespace=ns)
    reader = RedisStore(redis.Redis(), namespace=ns)
    fleets = [make_snapshot("p1", 30, tag="a"), make_snapshot("p1", 45, tag="b", seed=3)]
    sizes = {"a": 30, "b": 45}
    writer.put_snapshot(fleets[0])
    stop = threading.Event()
    problems: list[str] = []

    def read() -> None:
        while not stop.is_set():
            found = ids(reader.nearby_vehicles(*HELSINKI, 3000, limit=1000))
            t = {x.split("-")[0] for x in found}
            if len(t) != 1 or len(found) != sizes[t.pop()]:
                problems.append(f"{len(found)} vehicles, tags {t}")

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(40):
        writer.put_snapshot(fleets[i % 2])
    stop.set()
    for t in threads:
        t.join()
    assert not problems, problems[:5]


def test_concurrent_writers_of_one_provider(ns: str) -> None:
    assert REDIS is not None
    stores = [RedisStore(redis.Redis(), namespace=ns) for _ in range(4)]
    errors: list[Exception] = []

    def write(i: int) -> None:
        try:
            for j in range(10):
                stores[i].put_snapshot(make_snapshot("p1", 5, tag=f"t{i}", seed=j))
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    current = [k for k in namespace_keys(REDIS, ns) if ":v:" in k and REDIS.ttl(k) == -1]
    assert len(current) == 2  # one blob and one vehicles GEO set: exactly one live version


def test_a_writer_that_dies_before_the_swap_leaves_only_expiring_keys(ns: str) -> None:
    assert REDIS is not None
    from providers.store.indexed import IndexedSnapshot
    from providers.store.validate import encode_valid

    store = RedisStore(REDIS, namespace=ns, pending_ttl_s=30)
    snap = make_snapshot("p1", 10, n_stations=2)
    blob = encode_valid(snap)
    store._write_version(IndexedSnapshot(snap, version="deadbeef00", blob=blob), blob)
    left = namespace_keys(REDIS, ns)
    assert len(left) == 3 and all(0 < REDIS.ttl(k) <= 30 for k in left)
    assert RedisStore(REDIS, namespace=ns).snapshot("p1") is None  # never became current


# -- loss: the epoch key ---------------------------------------------------------------------
def wipe(client: redis.Redis, namespace: str) -> None:
    """What a Redis restarted without persistence does to us: every key of ours is gone."""
    keys = namespace_keys(client, namespace)
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])


def test_epoch_is_created_once_shared_by_workers_and_durable(ns: str) -> None:
    assert REDIS is not None
    w1 = RedisStore(REDIS, namespace=ns)
    w2 = RedisStore(REDIS, namespace=ns)
    assert w1.epoch(create=False) is None
    token = w1.epoch()
    assert token and w2.epoch() == token and w1.epoch() == token
    assert REDIS.ttl(f"{ns}store:epoch") == -1  # no TTL: only a loss removes it


def test_epoch_changes_when_the_namespace_is_wiped(ns: str) -> None:
    assert REDIS is not None
    store = RedisStore(REDIS, namespace=ns)
    before = store.epoch()
    store.put_snapshot(make_snapshot("p1", 5))
    wipe(REDIS, ns)
    assert store.epoch(create=False) is None
    after = store.epoch()
    assert after is not None and after != before


def test_a_wiped_cache_is_not_mistaken_for_the_cached_copy(ns: str) -> None:
    """After a loss the generation counter restarts and can reach the value a worker cached;
    the worker must still see what Redis holds now, not its copy of the lost data.
    """
    assert REDIS is not None
    a = RedisStore(REDIS, namespace=ns)
    b = RedisStore(REDIS, namespace=ns)
    a.epoch()
    a.put_snapshot(make_snapshot("old-1", 5, tag="x"))
    a.put_snapshot(make_snapshot("old-2", 5, tag="x"))
    assert a.provider_ids() == ["old-1", "old-2"]  # a caches generation 2
    wipe(REDIS, ns)
    b.epoch()  # the cache watch re-creates the epoch
    b.put_snapshot(make_snapshot("new-1", 5, tag="y"))
    b.put_snapshot(make_snapshot("new-2", 5, tag="y"))  # generation 2 again
    assert int(REDIS.get(f"{ns}store:generation")) == 2
    assert a.provider_ids() == ["new-1", "new-2"]
    assert len(a.nearby_vehicles(*HELSINKI, 3000, limit=100)) == 10
