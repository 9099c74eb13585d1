"""A real fairtrip server in a subprocess, for tests that need real HTTP on a real socket.

`TestClient` runs the app in-process through an ASGI shim: it cannot show what uvicorn does
with a body that never arrives, a HEAD request, or a raw malformed request line. These
tests start ``python -m uvicorn --factory api.app:create_app`` (the app `fairtrip serve`
runs) on a free loopback port, with settings passed as ``FAIRTRIP_*`` variables exactly as
`fairtrip serve` passes them to its workers.

Every wait is bounded: the server must answer ``/health`` within `startup_timeout_s` or the
test fails with the server's log; teardown terminates it (SIGTERM, then SIGKILL after a few
seconds). Each server gets a fresh ``FAIRTRIP_CACHE`` directory, so durable files written
in the cache (the default policy store, say) never leak between runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
#: admin token of every live server (32 characters; the settings require at least 24)
ADMIN_TOKEN = "live-test-admin-token-0123456789"
#: the Redis the test machine provides (tests use it for real)
REDIS_URL = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    """A TCP port nobody listens on now (the kernel's pick on 127.0.0.1)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """A running server: where it listens, how to reach it, what it logged."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    admin_token: str
    env: dict[str, str]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        """The absolute URL of `path` (which starts with ``/``)."""
        return self.base_url + path

    def client(self, *, timeout_s: float = 30.0) -> httpx.Client:
        """An HTTP client bound to this server (close it, or use it as a context manager)."""
        return httpx.Client(base_url=self.base_url, timeout=timeout_s)

    @property
    def admin_headers(self) -> dict[str, str]:
        """The Authorization header of the admin token."""
        return {"Authorization": f"Bearer {self.admin_token}"}

    def logs(self) -> str:
        """Everything the server wrote to stdout and stderr so far."""
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        """True while the server process runs."""
        return self.process.poll() is None


def _server_env(
    *, network: Path, cache_dir: Path, port: int, admin_token: str, extra: Mapping[str, str]
) -> dict[str, str]:
    # inherited FAIRTRIP_* settings would make the server differ from what the test asked
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRTRIP_")}
    env.update(
        {
            "FAIRTRIP_NETWORK": str(network),
            "FAIRTRIP_CACHE": str(cache_dir),
            "FAIRTRIP_HOST": "127.0.0.1",
            "FAIRTRIP_PORT": str(port),
            "FAIRTRIP_ADMIN_TOKEN": admin_token,
            "FAIRTRIP_STORE_URL": "memory",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def _wait_until_healthy(server: LiveServer, deadline: float) -> None:
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(
                f"the live server exited with {server.process.returncode} before it was "
                f"healthy; its log:\n{server.logs()[-4000:]}"
            )
        try:
            r = httpx.get(server.url("/health"), timeout=2.0)
            if r.status_code == 200:
                return
            last_error = f"/health answered {r.status_code}"
        except httpx.HTTPError as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        time.sleep(0.2)
    raise TimeoutError(
        f"the live server did not become healthy in time ({last_error}); its log:\n"
        f"{server.logs()[-4000:]}"
    )


def _stop(process: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        log.warning("live server %d ignored SIGTERM for %.0f s; killing it", process.pid, grace_s)
        process.kill()
        process.wait(timeout=grace_s)


@contextlib.contextmanager
def live_server(
    network: Path,
    work_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    admin_token: str = ADMIN_TOKEN,
    startup_timeout_s: float = 120.0,
) -> Iterator[LiveServer]:
    """Run a server on the compiled `network` until the block ends.

    `work_dir` holds the server's log and its cache directory. `env` adds or overrides
    ``FAIRTRIP_*`` settings (``FAIRTRIP_STORE_URL`` is ``memory`` unless given). A port
    taken between choosing and binding it (another process was quicker) is retried with a
    new one, up to three times.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    cache_dir = work_dir / "cache"
    cache_dir.mkdir(exist_ok=True)
    for attempt in range(3):
        port = free_port()
        log_path = work_dir / f"server-{port}.log"
        server_env = _server_env(
            network=network,
            cache_dir=cache_dir,
            port=port,
            admin_token=admin_token,
            extra=env or {},
        )
        command = [
            sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app",
            "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                command, cwd=ROOT, env=server_env, stdout=log_file, stderr=subprocess.STDOUT
            )
        server = LiveServer("127.0.0.1", port, process, log_path, admin_token, server_env)
        try:
            _wait_until_healthy(server, time.monotonic() + startup_timeout_s)
        except RuntimeError:
            _stop(process)
            if "address already in use" in server.logs().lower() and attempt < 2:
                continue
            raise
        except BaseException:
            _stop(process)
            raise
        try:
            yield server
        finally:
            _stop(process)
        return


def redis_env(db: int = 0) -> dict[str, str]:
    """Settings for a server on the real Redis, under a namespace no other run uses."""
    namespace = f"fairtrip-test-{uuid.uuid4().hex[:12]}:"
    return {
        "FAIRTRIP_STORE_URL": f"redis://127.0.0.1:6379/{db}",
        "FAIRTRIP_REDIS_NAMESPACE": namespace,
    }


def delete_namespace(store_url: str, namespace: str) -> int:
    """Remove every Redis key under `namespace` (test teardown); the number removed."""
    import redis

    client = redis.Redis.from_url(store_url)
    try:
        removed = 0
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{namespace}*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                removed += int(client.delete(*batch))
                batch.clear()
        if batch:
            removed += int(client.delete(*batch))
        return removed
    finally:
        client.close()
