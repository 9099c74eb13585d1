"""Shared fixtures: the embedded Helsinki network, compiled once into a repo-local cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def helsinki_dir() -> Path:
    """The compiled embedded city (built on first use, then reused across runs)."""
    os.environ.setdefault("FAIRTRIP_CACHE", str(ROOT / ".cache" / "test"))
    from network.embedded import ensure_embedded_network

    return ensure_embedded_network(progress=False)


@pytest.fixture(scope="session")
def helsinki(helsinki_dir: Path):
    """The loaded embedded network."""
    from network.compiled import Network

    return Network.load(helsinki_dir)


@pytest.fixture(scope="session")
def api_client(helsinki_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A TestClient on the embedded city with the lifespan running (one per session); its
    policy store is a fresh SQLite file, so no policy leaks in from an earlier run.
    """
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    store = tmp_path_factory.mktemp("policies") / "policies.sqlite3"
    settings = Settings(network=helsinki_dir, policy_store_url=f"sqlite:///{store}")
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="session")
def api_schema(helsinki_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The app's OpenAPI schema, for schemathesis, on an app of its own: schemathesis runs
    the app's lifespan itself (start and stop around its calls), which must not shut down
    the planning thread of the session's shared `api_client`.
    """
    import schemathesis

    from api.app import create_app
    from api.settings import Settings

    store = tmp_path_factory.mktemp("schema-policies") / "policies.sqlite3"
    # the budget is raised so a busy machine cannot turn a slow plan into a 503: this
    # fixture is about the schema, and the budget's 503 is tested on its own
    app = create_app(
        Settings(network=helsinki_dir, policy_store_url=f"sqlite:///{store}", plan_budget_s=60.0)
    )

    # a schema-valid request may still be refused, as documented: 422 when the point lies
    # outside the city or the date outside the feed, 401/403 for a made-up credential,
    # 404/409 for a provider or key that does not exist or already does
    accepted = ["2xx", "401", "403", "404", "409", "422"]
    config = schemathesis.Config.from_dict(
        {"checks": {"positive_data_acceptance": {"expected-statuses": accepted}}}
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


@pytest.fixture(scope="module", autouse=True)
def durable_store_per_module(tmp_path_factory: pytest.TempPathFactory):
    """Each test module gets its own durable store (policies, provider accounts and keys).

    Apps built with default settings would otherwise share the SQLite file in the cache
    directory, so accounts from one run (or module) would meet the next as 409s. Apps of one
    module share the file, as the workers of one server do.
    """
    path = tmp_path_factory.mktemp("durable") / "durable.sqlite3"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FAIRTRIP_POLICY_STORE_URL", f"sqlite:///{path}")
        yield path
