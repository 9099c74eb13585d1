"""The OD matrix on Dask distributed: blocks of origins as tasks, one merged matrix.

One RAPTOR run per origin is independent of every other, so the matrix splits by origin:
each Dask task routes a block of origins against every destination (`OriginRouter.block`,
the code the in-process `od_matrix` runs) and the client joins the blocks in origin order
(`od_matrix.assemble`). The merged matrix is the in-process one, array for array.

What crosses the wire is small: a task carries its origins' coordinates, and a description
of the run (network directory, departure, walking rule, destinations) is scattered to the
workers once. A worker opens the compiled network by memory-mapping the directory — a path
every worker must see (the same machine, or a shared file system) — and keeps it, with its
search state and the destinations' egress stops, for every later task. Each block's answer
goes back with one byte per pair for the reason code instead of a string.

`scheduler="local"` starts a `LocalCluster` (one single-threaded worker process per core)
for the run and closes it after; `tcp://host:port` sends the run to an existing cluster.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import math
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from cachetools import LRUCache
from distributed import Client, Future, KilledWorker, LocalCluster, as_completed
from distributed.comm.core import CommClosedError

from evaluation.evaluate import EvaluationError
from evaluation.od_matrix import ODBlock, ODMatrix, OriginRouter, Progress, assemble, od_matrix
from network.cache import MANIFEST
from network.compiled import Network, NetworkFileError
from routing.planner import DEFAULT_WALK_SPEED_MPS
from routing.raptor import StopTimes

log = logging.getLogger(__name__)

#: the `scheduler` value that starts a LocalCluster for the run
LOCAL = "local"
#: schemes of a scheduler address fairtrip connects to
SCHEMES = ("tcp://", "tls://")
#: how long to wait for a scheduler to answer, and for it to have a worker
DEFAULT_CONNECT_TIMEOUT_S = 10.0
#: origins per task: enough that Dask's per-task cost (about a millisecond) is noise next
#: to the routing (10-100 ms per origin), few enough that the workers finish together
MIN_BLOCK, MAX_BLOCK = 16, 256
#: blocks aimed at per worker thread when the block size is not given: enough that the
#: workers finish close together, few enough that each block's fixed cost stays small.
#: Blocks are consecutive origins, so neighbours with similar costs (all of Midtown, say)
#: share one: at 8 per worker, New York's 2,041 origins on 2 workers made blocks of 128
#: (about 20 s each) and the last one left the other worker idle for about half of that;
#: 32 per worker makes them 32 origins, and a block's fixed cost is still a few milliseconds
BLOCKS_PER_WORKER = 32

# -- the worker side -----------------------------------------------------------------------
# A worker process keeps what it opened for the next task. Networks and egress lists are
# read-only and shared by the worker's threads; a router holds a RAPTOR search state, so
# each thread has its own.

_LOCK = threading.Lock()
#: (network directory, its manifest's mtime) -> the memory-mapped network (a worker serves
#: few networks; a directory rebuilt in place is opened anew)
_NETWORKS: LRUCache[tuple[str, int], Network] = LRUCache(maxsize=4)
#: (network key, walking rule, destinations hash) -> each destination's egress stops
_EGRESS: LRUCache[tuple[tuple[str, int], float, float, str], list[StopTimes]] = LRUCache(
    maxsize=8
)
_THREAD = threading.local()
#: routers kept per thread (one per network, departure and walking rule)
_ROUTERS_KEPT = 4


class ClusterError(EvaluationError, ConnectionError):
    """The Dask cluster an evaluation was sent to cannot run it: the scheduler does not
    answer, has no worker, or its workers cannot open the network (the message names the
    address or the path).
    """


@dataclass(frozen=True)
class RunSpec:
    """What every block of one run shares; scattered to the workers once per run."""

    network_dir: str
    depart: dt.datetime
    max_walk_m: float
    walk_speed_mps: float
    max_transfers: int
    d_lat: np.ndarray
    d_lon: np.ndarray
    #: content hash of the destinations: the key of the workers' egress cache
    destinations_key: str


def _network_key(network_dir: str) -> tuple[str, int]:
    """(directory, its manifest's mtime): what a worker's caches are kept under."""
    try:
        return network_dir, (Path(network_dir) / MANIFEST).stat().st_mtime_ns
    except OSError:
        return network_dir, -1  # Network.load names what is missing


def open_network(network_dir: str) -> Network:
    """The network at `network_dir`, memory-mapped once per process (and per rebuild)."""
    key = _network_key(network_dir)
    with _LOCK:
        net = _NETWORKS.get(key)
        if net is None:
            net = Network.load(Path(network_dir))
            _NETWORKS[key] = net
        return net


def _router(spec: RunSpec) -> OriginRouter:
    """The router of the calling thread for the run's network, departure and walking rule."""
    routers: LRUCache[tuple[object, ...], OriginRouter] | None = getattr(_THREAD, "routers", None)
    if routers is None:
        routers = _THREAD.routers = LRUCache(maxsize=_ROUTERS_KEPT)
    key = (_network_key(spec.network_dir), spec.depart, spec.max_walk_m, spec.walk_speed_mps,
           spec.max_transfers)
    router = routers.get(key)
    if router is None:
        router = OriginRouter(
            open_network(spec.network_dir), spec.depart, max_walk_m=spec.max_walk_m,
            walk_speed_mps=spec.walk_speed_mps, max_transfers=spec.max_transfers,
        )
        routers[key] = router
    return router


def _egress(spec: RunSpec, router: OriginRouter) -> list[StopTimes]:
    """The destinations' egress stops, worked out once per worker process and run."""
    key = (
        _network_key(spec.network_dir), spec.max_walk_m, spec.walk_speed_mps,
        spec.destinations_key,
    )
    with _LOCK:
        egress = _EGRESS.get(key)
    if egress is None:
        # two threads may both compute it once: the lists are equal, either may stay
        egress = router.egress(spec.d_lat, spec.d_lon)
        with _LOCK:
            _EGRESS[key] = egress
    return egress


def route_block(spec: RunSpec, o_lat: np.ndarray, o_lon: np.ndarray) -> ODBlock:
    """One task: the matrix rows of a block of origins (runs on a Dask worker)."""
    router = _router(spec)
    return router.block(o_lat, o_lon, spec.d_lat, spec.d_lon, _egress(spec, router))


# -- the client side -----------------------------------------------------------------------


def _check_address(scheduler: str) -> None:
    if scheduler != LOCAL and not scheduler.startswith(SCHEMES):
        raise EvaluationError(
            f"Dask scheduler {scheduler!r}: expected {LOCAL!r} or an address like "
            "tcp://host:8786"
        )


@contextlib.contextmanager
def dask_client(
    scheduler: str,
    *,
    workers: int | None = None,
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
) -> Iterator[Client]:
    """A client of a new LocalCluster (`"local"`, closed on exit) or of the cluster whose
    scheduler listens at `scheduler` (tcp://host:port).

    Raises
    ------
    EvaluationError
        The address is neither "local" nor tcp:// or tls://, or `workers` is given for an
        existing cluster (its size is its operator's).
    ClusterError
        The scheduler does not answer, or has no worker, within `connect_timeout_s`.
    """
    _check_address(scheduler)
    if workers is not None and workers < 1:
        raise EvaluationError(f"Dask workers: {workers}; expected at least 1")
    with contextlib.ExitStack() as stack:
        if scheduler == LOCAL:
            client = _start_local(stack, workers or os.cpu_count() or 1)
        else:
            if workers is not None:
                raise EvaluationError(
                    f"Dask workers ({workers}) can only be set for a LocalCluster, not for "
                    f"the existing cluster at {scheduler}"
                )
            client = _connect(stack, scheduler, connect_timeout_s)
        yield client


def _start_local(stack: contextlib.ExitStack, n_workers: int) -> Client:
    """A client of a new LocalCluster that closes with `stack`."""
    try:
        # one thread per worker: RAPTOR holds the GIL, processes are what run in parallel
        # (distributed leaves its constructors unannotated: the ignores below)
        cluster: LocalCluster = stack.enter_context(
            LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=n_workers, threads_per_worker=1, processes=True,
                # on this host only, on free ports: two evaluations can each start one
                host="127.0.0.1", dashboard_address="127.0.0.1:0",
            )
        )
        client: Client = stack.enter_context(
            Client(cluster, set_as_default=False)  # type: ignore[no-untyped-call]
        )
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"a LocalCluster of {n_workers} workers did not start: {exc}") from exc
    log.info(
        "LocalCluster of %d worker processes at %s", n_workers, cluster.scheduler_address
    )
    return client


def _connect(stack: contextlib.ExitStack, scheduler: str, timeout_s: float) -> Client:
    """A client of the cluster at `scheduler` that closes with `stack`, once it has a worker."""
    try:
        client: Client = stack.enter_context(
            Client(  # type: ignore[no-untyped-call]  # unannotated in distributed
                scheduler, timeout=timeout_s, set_as_default=False
            )
        )
    except (OSError, TimeoutError) as exc:
        raise ClusterError(
            f"no Dask scheduler answered at {scheduler} within {timeout_s:g} s: {exc}"
        ) from exc
    try:
        client.wait_for_workers(1, timeout=timeout_s)
    except TimeoutError as exc:
        raise ClusterError(
            f"the Dask scheduler at {scheduler} has no worker (waited {timeout_s:g} s)"
        ) from exc
    return client


def block_bounds(n_origins: int, block_size: int) -> list[tuple[int, int]]:
    """[start, stop) of each block of consecutive origins."""
    return [(a, min(a + block_size, n_origins)) for a in range(0, n_origins, block_size)]


def default_block_size(n_origins: int, n_workers: int) -> int:
    """About `BLOCKS_PER_WORKER` blocks per worker thread, within [MIN_BLOCK, MAX_BLOCK]."""
    per = math.ceil(n_origins / (BLOCKS_PER_WORKER * max(n_workers, 1)))
    return max(MIN_BLOCK, min(MAX_BLOCK, per))


def _destinations_key(d_lat: np.ndarray, d_lon: np.ndarray) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(d_lat.tobytes())
    digest.update(d_lon.tobytes())
    return digest.hexdigest()


def od_matrix_distributed(
    network_dir: Path | str,
    origins: tuple[np.ndarray, np.ndarray],
    destinations: tuple[np.ndarray, np.ndarray],
    *,
    depart: dt.datetime,
    max_walk_m: float = 1000.0,
    walk_speed_mps: float = DEFAULT_WALK_SPEED_MPS,
    max_transfers: int = 6,
    client: Client | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    block_size: int | None = None,
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    progress: Progress | None = None,
) -> ODMatrix:
    """`od_matrix` with origin blocks run as Dask tasks; the same matrix, array for array.

    Give a `client` of a running cluster, or a `scheduler` ("local" or tcp://host:port) to
    connect for this run only (`workers`: the LocalCluster's size, default one per core).
    With neither, the matrix is routed in this process. `progress(done, total)` counts
    origins as blocks finish, in the calling thread; an exception it raises (a cancelled
    job) ends the run and cancels the blocks not yet routed.

    Raises
    ------
    EvaluationError
        Both a client and a scheduler, a malformed address or an invalid block size.
    ClusterError
        The cluster cannot be reached, has no worker, or its workers cannot open
        `network_dir` (they must see the same path).
    """
    if client is not None and scheduler is not None:
        raise EvaluationError("give a Dask client or a scheduler address, not both")
    if block_size is not None and block_size < 1:
        raise EvaluationError(f"block size {block_size}: expected at least 1 origin")
    path = str(Path(network_dir).resolve())
    o_lat, o_lon = (np.asarray(a, dtype=np.float64) for a in origins)
    d_lat, d_lon = (np.asarray(a, dtype=np.float64) for a in destinations)
    spec = RunSpec(
        path, depart, max_walk_m, walk_speed_mps, max_transfers, d_lat, d_lon,
        _destinations_key(d_lat, d_lon),
    )
    if client is None and scheduler is not None and len(o_lat):
        with dask_client(scheduler, workers=workers, connect_timeout_s=connect_timeout_s) as c:
            return _route_on(c, spec, o_lat, o_lon, block_size=block_size, progress=progress)
    if client is None or not len(o_lat):
        return od_matrix(
            open_network(path), (o_lat, o_lon), (d_lat, d_lon), depart=depart,
            max_walk_m=max_walk_m, walk_speed_mps=walk_speed_mps, max_transfers=max_transfers,
            progress=progress,
        )
    return _route_on(client, spec, o_lat, o_lon, block_size=block_size, progress=progress)


def _route_on(
    client: Client,
    spec: RunSpec,
    o_lat: np.ndarray,
    o_lon: np.ndarray,
    *,
    block_size: int | None,
    progress: Progress | None,
) -> ODMatrix:
    """Submit the blocks, collect them as they finish, join them in origin order."""
    started = time.perf_counter()
    # the matrix's header (service date, departure second, currency) from the same files
    net = open_network(spec.network_dir)
    service_date, _, depart_s = net.resolve(spec.depart)
    currency = net.fares.currency if net.fares else "EUR"
    n_o = len(o_lat)
    # parallel slots: worker processes times their threads (one each in a LocalCluster)
    slots = sum(client.nthreads().values())  # type: ignore[no-untyped-call]
    size = block_size or default_block_size(n_o, slots)
    bounds = block_bounds(n_o, size)
    log.info(
        "OD matrix %d x %d on Dask: %d blocks of up to %d origins, %d worker threads",
        n_o, len(spec.d_lat), len(bounds), size, slots,
    )
    # unannotated in distributed: scatter, as_completed and cancel
    shared = client.scatter(spec, broadcast=True, hash=False)  # type: ignore[no-untyped-call]
    futures: dict[Future[ODBlock], int] = {
        client.submit(route_block, shared, o_lat[a:b], o_lon[a:b], pure=False): k
        for k, (a, b) in enumerate(bounds)
    }
    blocks: list[ODBlock | None] = [None] * len(bounds)
    done = 0
    try:
        for future, block in as_completed(  # type: ignore[no-untyped-call]
            futures, loop=client.loop, with_results=True
        ):
            k = futures[future]
            if not isinstance(block, ODBlock):
                # a future cancelled under us (the scheduler went away) comes back as its
                # cancellation, not raised: the run cannot be completed on this cluster
                raise ClusterError(
                    f"the Dask cluster lost block {k} of the run ({future.status}): {block!r}"
                )
            blocks[k] = block
            done += bounds[k][1] - bounds[k][0]
            if progress is not None:
                progress(done, n_o)
    except NetworkFileError as exc:
        raise ClusterError(
            f"a Dask worker cannot open the network at {spec.network_dir} (every worker must "
            f"see that path): {exc}"
        ) from exc
    except (KilledWorker, CommClosedError) as exc:
        raise ClusterError(f"the Dask cluster failed during the run: {exc}") from exc
    finally:
        client.cancel([*futures, shared])  # type: ignore[no-untyped-call]
    if any(b is None for b in blocks):
        raise ClusterError("the Dask cluster returned fewer blocks than were submitted")
    seconds = time.perf_counter() - started
    log.info("OD matrix %d x %d on Dask in %.1f s", n_o, len(spec.d_lat), seconds)
    return assemble(
        [b for b in blocks if b is not None], currency=currency, service_date=service_date,
        depart_s=depart_s, seconds=seconds,
    )
