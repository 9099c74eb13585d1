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
    from fairtrip.embedded import ensure_embedded_network

    return ensure_embedded_network(progress=False)


@pytest.fixture(scope="session")
def helsinki(helsinki_dir: Path):
    """The loaded embedded network."""
    from fairtrip.network import Network

    return Network.load(helsinki_dir)
